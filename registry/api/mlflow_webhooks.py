"""MLflow's webhook REST API (`/api/2.0/mlflow/webhooks...`, mlflow/protos/webhooks.proto) over
registry.services.webhooks. Two extension fields, which MLflow's client ignores: `model_name` scopes a webhook
to one model (without it a webhook is registry-wide), and `explorer_events` lists our events."""
from __future__ import annotations

import base64
import json

from registry.api.base import MlflowView, invalid_value, ms, ok, param
from registry.errors import InvalidParameter
from registry.events import names
from registry.events.selectors import webhook_get, webhook_list_visible
from registry.models import Webhook
from registry.services.webhooks import webhook_create, webhook_delete, webhook_test, webhook_update

MAX_RESULTS_DEFAULT, MAX_RESULTS_LIMIT = 100, 1000


def webhook_json(hook: Webhook) -> dict:
    """MLflow's Webhook message as JSON (enum names upper-case, no secret), plus our two extension fields."""
    body = {
        "webhook_id": str(hook.webhook_id),
        "name": hook.name,
        "url": hook.url,
        "events": [names.mlflow_json(e) for e in hook.events if e in names.MLFLOW_EVENTS],
        "status": hook.status,
        "creation_timestamp": ms(hook.created_at),
        "last_updated_timestamp": ms(hook.updated_at),
        "explorer_events": [e for e in hook.events if e in names.EXPLORER_EVENTS],
    }
    if hook.description:
        body["description"] = hook.description
    if hook.model_id:
        body["model_name"] = hook.model.full_name
    return body


def _list(p: dict, name: str) -> list | None:
    value = p.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidParameter(invalid_value(name, value))
    return value


def _offset(token) -> int:
    """MLflow's offset page token (SearchUtils.create_page_token): base64 of {"offset": n}."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.b64decode(token, validate=True))["offset"]
        if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
            return offset
    except (ValueError, TypeError, KeyError):
        pass
    raise InvalidParameter("Invalid page token, could not base64-decode")


class Webhooks(MlflowView):
    """POST creates (CreateWebhook), GET lists (ListWebhooks)."""

    def post(self, request):
        p = self.params(request)
        hook = webhook_create(
            actor=request.user, name=param(p, "name", required=True), url=param(p, "url", required=True),
            events=_list(p, "events") or [], explorer_events=_list(p, "explorer_events"),
            description=param(p, "description", default=""), secret=param(p, "secret", default=""),
            status=param(p, "status", default=None), model_name=param(p, "model_name", default=None),
        )
        return ok({"webhook": webhook_json(hook)})

    def get(self, request):
        p = self.params(request)
        max_results = param(p, "max_results", int, default=MAX_RESULTS_DEFAULT) or MAX_RESULTS_DEFAULT
        if not 1 <= max_results <= MAX_RESULTS_LIMIT:
            raise InvalidParameter(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}.")
        offset = _offset(param(p, "page_token", default=None))
        hooks = list(webhook_list_visible(actor=request.user)[offset:offset + max_results + 1])
        body = {"webhooks": [webhook_json(h) for h in hooks[:max_results]]}
        if len(hooks) > max_results:
            body["next_page_token"] = base64.b64encode(json.dumps({"offset": offset + max_results}).encode()).decode()
        return ok(body)


class WebhookDetail(MlflowView):
    """GET (GetWebhook), PATCH (UpdateWebhook), DELETE (DeleteWebhook)."""

    def get(self, request, webhook_id: str):
        return ok({"webhook": webhook_json(webhook_get(actor=request.user, webhook_id=webhook_id))})

    def patch(self, request, webhook_id: str):
        p = self.params(request)
        events = _list(p, "events")
        hook = webhook_update(
            actor=request.user, webhook_id=webhook_id, name=param(p, "name", default=None) or None,
            description=param(p, "description", default=None), url=param(p, "url", default=None) or None,
            # MLflow's server reads an empty events list as "unchanged".
            events=events or None, explorer_events=_list(p, "explorer_events"),
            secret=param(p, "secret", default=None), status=param(p, "status", default=None),
        )
        return ok({"webhook": webhook_json(hook)})

    def delete(self, request, webhook_id: str):
        webhook_delete(actor=request.user, webhook_id=webhook_id)
        return ok()


class TestWebhook(MlflowView):
    def post(self, request, webhook_id: str):
        p = self.params(request)
        event = p.get("event")
        if event is not None:
            event = names.explorer_event(event) if isinstance(event, str) else names.mlflow_event(event)
        return ok({"result": webhook_test(actor=request.user, webhook_id=webhook_id, event=event)})
