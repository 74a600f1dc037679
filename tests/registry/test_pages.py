"""Keyset page tokens (registry.search.pages): a page starts after the last row of the previous one, in any order
(descending, ties, NULLs), so rows inserted or deleted meanwhile neither repeat nor skip the others; offset tokens
(MLflow's form, the browser's links) still page by offset; a token made for another order is refused."""
from __future__ import annotations

import base64
import json

import pytest
from django.db.models import F

from registry.errors import InvalidParameter
from registry.models import ModelVersion, RegisteredModel
from registry.search import search_model_versions
from registry.search.pages import encode_page_token, keyset_page, list_page
from registry.services.models import registered_model_create, registered_model_delete
from registry.services.versions import model_version_update
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db


def _walk(queryset_of, size, mutate=None) -> list:
    """All rows, page by page; `mutate(page_number)` runs between pages."""
    seen, token, number = [], None, 0
    while True:
        rows, token = keyset_page(queryset_of(), size=size, token=token)
        seen += rows
        number += 1
        if not token:
            return seen
        if mutate:
            mutate(number)


def test_inserts_before_the_cursor_and_deletes_behind_it_change_nothing_else(admin):
    for number in range(10):
        make_model(admin, f"m{number}")
    kept = set(RegisteredModel.objects.exclude(name="m0").values_list("name", flat=True))

    def mutate(page):
        if page == 1:
            registered_model_create(actor=admin, name="a_before")
        if page == 2:
            registered_model_delete(actor=admin, name="m0")

    seen = [m.name for m in _walk(lambda: RegisteredModel.objects.order_by("name"), 3, mutate)]
    assert sorted(n for n in seen if n in kept) == sorted(kept) and len(seen) == len(set(seen))
    assert "a_before" not in seen


@pytest.mark.parametrize("nulls", [{"nulls_last": True}, {"nulls_first": True}])
def test_descending_order_with_ties_and_nulls_pages_exactly_once(admin, nulls):
    make_model(admin, "tied")
    for _ in range(7):
        make_version(admin, "tied")
    ModelVersion.objects.filter(version__in=[2, 3, 4]).update(description="same")
    ModelVersion.objects.filter(version__in=[5, 6]).update(created_by=None)

    def ordered():
        return ModelVersion.objects.order_by(F("created_by").desc(**nulls), "description", "-version")

    everything = [mv.version for mv in ordered()]
    assert sorted(mv.version for mv in _walk(ordered, 2)) == sorted(everything)
    assert [mv.version for mv in _walk(ordered, 2)] == everything


def test_mlflow_version_search_default_order_keeps_its_place_when_a_version_is_updated(admin):
    make_model(admin, "busy")
    for _ in range(6):
        make_version(admin, "busy")
    first = search_model_versions(actor=admin, max_results=3)
    # Updating a version already listed moves it to the front (last_updated_timestamp DESC): it is not listed
    # again, and none of the others is skipped.
    model_version_update(actor=admin, name="busy", version=first.items[0].version, description="touched")
    rest = search_model_versions(actor=admin, max_results=10, page_token=first.next_page_token)
    assert sorted(mv.version for mv in first.items + rest.items) == [1, 2, 3, 4, 5, 6]


def test_offset_tokens_still_page_by_offset(admin):
    for number in range(5):
        make_model(admin, f"m{number}")
    rows, token = keyset_page(RegisteredModel.objects.order_by("name"), size=2, token=encode_page_token(3))
    assert [m.name for m in rows] == ["m3", "m4"] and token is None


def test_a_token_of_another_order_or_hand_made_keys_is_refused(admin):
    for number in range(3):
        make_model(admin, f"m{number}")
    _, token = keyset_page(RegisteredModel.objects.order_by("name"), size=1, token=None)
    with pytest.raises(InvalidParameter):
        keyset_page(RegisteredModel.objects.order_by("-created_at"), size=1, token=token)
    document = json.loads(base64.b64decode(token))
    document["after"] = [{"t": "not a time"}, 1]
    forged = base64.b64encode(json.dumps(document).encode()).decode()
    with pytest.raises(InvalidParameter):
        keyset_page(RegisteredModel.objects.order_by("name"), size=1, token=forged)
    document["after"] = [[1, 2], 1]
    with pytest.raises(InvalidParameter):
        keyset_page(RegisteredModel.objects.order_by("name"), size=1,
                    token=base64.b64encode(json.dumps(document).encode()).decode())


def test_list_pages_by_key():
    items = [{"principal": name} for name in ("a", "b", "c", "d", "e")]
    first, token = list_page(items, key=lambda i: i["principal"], size=2, token=None)
    # "b" goes away and "aa" arrives before the cursor: the rest is still listed once.
    changed = [i for i in items if i["principal"] != "b"] + [{"principal": "aa"}]
    changed.sort(key=lambda i: i["principal"])
    rest, token2 = list_page(changed, key=lambda i: i["principal"], size=10, token=token)
    assert [i["principal"] for i in first + rest] == ["a", "b", "c", "d", "e"] and token2 is None
    with pytest.raises(InvalidParameter):
        list_page(items, key=lambda i: i["principal"], size=2, token=encode_page_token(1))
