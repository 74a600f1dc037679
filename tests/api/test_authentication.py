"""How API callers authenticate: Bearer tokens, Basic with a token as password, browser sessions with CSRF;
anonymous and bad credentials get 401; malformed or oversized bodies get 400, never a 500."""
import base64
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from registry.models import PersonalAccessToken

pytestmark = pytest.mark.django_db

CREATE = "/api/2.0/mlflow/registered-models/create"
SEARCH = "/api/2.0/mlflow/registered-models/search"


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_anonymous_request_gets_401_envelope():
    response = APIClient().get(SEARCH)
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_bearer_token_authenticates(owner, token_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(owner)}")
    assert client.post(CREATE, {"name": "mine"}, format="json").status_code == 200


def test_basic_with_user_name_and_token_authenticates(owner, token_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_basic("owner", token_for(owner)))
    assert client.get(SEARCH).status_code == 200


@pytest.mark.parametrize("make_header", [
    lambda secret: _basic("owner", "pw-owner"),  # a password is not a token
    lambda secret: _basic("reader", secret),  # someone else's name with owner's token
    lambda secret: "Bearer not-a-token",
    lambda secret: "Basic !!!not-base64",
])
def test_bad_credentials_get_401(owner, reader, token_for, make_header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=make_header(token_for(owner)))
    response = client.get(SEARCH)
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_revoked_and_expired_tokens_are_refused(owner, token_for):
    revoked, expired = token_for(owner, name="revoked"), token_for(owner, name="expired")
    PersonalAccessToken.objects.filter(name="revoked").update(revoked_at=timezone.now())
    PersonalAccessToken.objects.filter(name="expired").update(expires_at=timezone.now() - timedelta(seconds=1))
    for secret in (revoked, expired):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert client.get(SEARCH).status_code == 401


def test_browser_session_works_on_ajax_api_and_needs_csrf_for_changes(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/ajax-api/2.0/mlflow/registered-models/search").status_code == 200
    refused = client.post("/ajax-api/2.0/mlflow/registered-models/create", {"name": "m1"},
                          content_type="application/json")
    assert refused.status_code == 403
    client.get("/ajax-api/2.0/mlflow/registered-models/search")  # any page sets no cookie: fetch one explicitly
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    accepted = client.post("/ajax-api/2.0/mlflow/registered-models/create", {"name": "m1"},
                           content_type="application/json", HTTP_X_CSRFTOKEN=_mask_cipher_secret(secret))
    assert accepted.status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"a string"', b'{"name": 5.5}', b'{"name": true}', b'{"name": null}'])
def test_malformed_bodies_get_400(owner, api, body):
    response = api(owner).generic("POST", CREATE, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST")


def test_oversized_json_body_gets_400_not_500(owner, api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = b'{"name": "' + b"x" * 4096 + b'"}'
    response = api(owner).generic("POST", CREATE, body, content_type="application/json")
    assert response.status_code == 400
    assert "too large" in response.json()["message"]


def test_huge_max_results_is_a_clear_400(owner, api):
    response = api(owner).get(SEARCH, {"max_results": 10**9})
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
