"""The serving endpoint page: state, served entities with their routes and last-hour numbers (an SVG chart per
entity), the split editor for CAN_MANAGE only (the sum must be 100, said on the page before and after saving),
a 404 for whoever may not view the endpoint."""
import pytest

from registry.models import ServingDeployment, ServingEndpoint
from registry.serving import endpoint_metrics
from registry.serving.endpoint_services import endpoint_create, endpoint_permissions_update
from registry.serving.reconcile import reconcile_all
from registry.services.grants import grant_add
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db
URL = "/endpoints/iris/"


@pytest.fixture
def endpoint(owner, reader):
    model = make_model(owner, "iris_page")
    for _ in range(2):
        make_version(owner, "iris_page")
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    endpoint_create(actor=owner, name="iris", config={
        "served_entities": [{"name": "a", "entity_name": "iris_page", "entity_version": "1"},
                            {"name": "b", "entity_name": "iris_page", "entity_version": "2"}],
        "traffic_config": {"routes": [{"served_entity_name": "a", "traffic_percentage": 90},
                                      {"served_entity_name": "b", "traffic_percentage": 10}]}})
    reconcile_all()
    ServingDeployment.objects.filter(endpoint__name="iris").update(state="READY", address="http://127.0.0.1:9")
    reconcile_all()
    found = ServingEndpoint.objects.get(name="iris")
    for elapsed in (4, 5, 90):
        endpoint_metrics.record(found.pk, "a", elapsed)
    return found


def test_page_shows_entities_routes_numbers_and_the_chart(client_for, owner, endpoint):
    page = client_for(owner).get(URL).content.decode()
    assert "READY" in page and "NOT_UPDATING" in page
    assert 'name="traffic_a"' in page and 'value="90"' in page and 'value="10"' in page
    assert "The percentages must sum to 100." in page
    assert "<svg" in page and "<rect" in page and "5.0 / 100.0 ms" in page
    assert "<title>iris · Serving endpoint · Catalog Explorer</title>" in page
    assert 'src="/static/js/endpoint_split.js"' in page  # sums the split as it is typed, before saving


def test_saving_a_split_that_does_not_sum_to_100_says_so_and_changes_nothing(client_for, owner, endpoint):
    response = client_for(owner).post(URL, {"traffic_a": "50", "traffic_b": "30"})
    assert response.status_code == 400
    assert "must sum to 100, got 80" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.pending_config is None and endpoint.config_version == 1


def test_saving_a_split_rolls_out_a_new_config(client_for, owner, endpoint):
    response = client_for(owner).post(URL, {"traffic_a": "50", "traffic_b": "50"})
    assert response.status_code == 302 and response["Location"] == URL
    reconcile_all()
    endpoint.refresh_from_db()
    assert [r["traffic_percentage"] for r in endpoint.config["traffic_config"]["routes"]] == [50, 50]
    assert endpoint.config_version == 2


def test_a_querier_sees_the_page_without_the_editor_and_an_outsider_gets_404(client_for, owner, reader, outsider,
                                                                               endpoint):
    assert client_for(outsider).get(URL).status_code == 404
    endpoint_permissions_update(actor=owner, endpoint_id=str(endpoint.pk), replace=False,
                                access_control_list=[{"user_name": "reader", "permission_level": "CAN_QUERY"}])
    page = client_for(reader).get(URL).content.decode()
    assert "READY" in page and 'name="traffic_a"' not in page
    response = client_for(reader).post(URL, {"traffic_a": "50", "traffic_b": "50"})
    assert response.status_code == 403 and "CAN_MANAGE" in response.content.decode()
