"""The copy-version dialog starts a copy job; the jobs page shows jobs to those who may see them and polls
while any is unfinished."""
import pytest

from registry.models import Job, ModelVersion, RegisteredModel
from tests.explorer.conftest import MODEL

pytestmark = pytest.mark.django_db
COPY_URL = f"/models/{MODEL}/versions/1/copy/"


def test_copy_dialog_starts_a_copy_job_and_goes_to_the_new_version(client_for, owner, iris):
    response = client_for(owner).post(COPY_URL, {"destination": "prod.ml_team.iris_promoted",
                                                 "create_destination": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/models/prod.ml_team.iris_promoted/versions/1/"
    copy = ModelVersion.objects.get(model__name="iris_promoted")
    assert copy.status == "PENDING_REGISTRATION"
    assert copy.copied_from.model.name == "iris" and copy.source == f"models:/{MODEL}/1"
    job = Job.objects.get(model_version=copy)
    assert job.kind == Job.Kind.COPY and job.created_by == owner
    page = client_for(owner).get("/models/prod.ml_team.iris_promoted/versions/1/").content.decode()
    assert f'hx-get="/jobs/{job.pk}/status/"' in page


def test_copy_dialog_htmx_get_renders_the_partial(client_for, owner, iris):
    response = client_for(owner).get(COPY_URL, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"Start copy" in response.content and b"<html" not in response.content


@pytest.mark.parametrize("destination", ["prod.ml_team", "nope.nope.nope", "prod.ml_team.bad name"])
def test_refused_copies_are_form_errors_and_change_nothing(client_for, owner, iris, destination):
    before = (ModelVersion.objects.count(), RegisteredModel.objects.count(), Job.objects.count())
    response = client_for(owner).post(COPY_URL, {"destination": destination, "create_destination": "on"})
    assert response.status_code == 400
    assert b'class="error' in response.content or b"errorlist" in response.content
    assert (ModelVersion.objects.count(), RegisteredModel.objects.count(), Job.objects.count()) == before


def test_reader_without_create_model_cannot_copy_and_outsider_gets_404(client_for, reader, outsider, iris):
    before = ModelVersion.objects.count()
    refused = client_for(reader).post(COPY_URL, {"destination": "prod.ml_team.mine", "create_destination": "on"})
    assert refused.status_code == 400
    assert ModelVersion.objects.count() == before
    assert client_for(outsider).get(COPY_URL).status_code == 404


def test_jobs_page_shows_mine_polls_while_unfinished_and_hides_others(client_for, owner, outsider, admin, iris):
    client_for(owner).post(COPY_URL, {"destination": "prod.ml_team.iris_promoted", "create_destination": "on"})
    job = Job.objects.get(kind=Job.Kind.COPY)
    mine = client_for(owner).get("/jobs/").content.decode()
    assert "iris_promoted v1" in mine and 'hx-trigger="every 2s"' in mine
    assert "iris_promoted" not in client_for(outsider).get("/jobs/").content.decode()
    assert client_for(outsider).get(f"/jobs/{job.pk}/status/").status_code == 404
    assert "iris_promoted" in client_for(admin).get("/jobs/?all=1").content.decode()
    Job.objects.update(state=Job.State.SUCCEEDED, message="Done")
    finished = client_for(owner).get("/jobs/").content.decode()
    assert 'hx-trigger="every 2s"' not in finished
    status = client_for(owner).get(f"/jobs/{job.pk}/status/", HTTP_HX_REQUEST="true")
    assert status.status_code == 200 and status["HX-Refresh"] == "true"


def test_a_job_whose_model_was_deleted_still_says_what_it_acted_on(client_for, owner, outsider, iris):
    from registry.services.models import registered_model_delete

    client_for(owner).post(COPY_URL, {"destination": "prod.ml_team.iris_promoted", "create_destination": "on"})
    registered_model_delete(actor=owner, name="prod.ml_team.iris_promoted", force=True)
    copy, cleanup = Job.objects.get(kind=Job.Kind.COPY), Job.objects.get(kind=Job.Kind.DELETE_ARTIFACTS)
    assert copy.model_id is None and copy.model_version_id is None
    page = client_for(owner).get("/jobs/").content.decode()
    assert "prod.ml_team.iris_promoted v1 <span class=\"muted\">(deleted)</span>" in page
    assert "prod.ml_team.iris_promoted <span class=\"muted\">(deleted)</span>" in page  # the clean-up job
    assert cleanup.recorded_target == "prod.ml_team.iris_promoted"
    assert "iris_promoted" not in client_for(outsider).get("/jobs/").content.decode()
