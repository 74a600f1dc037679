"""Unity Catalog prompts (`/api/2.0/mlflow/unity-catalog/prompts…`), what MLflow's client sends for three-level
prompt names when its registry URI is `databricks-uc`: the same prompts as the MLflow registry API's (registered
models of kind prompt), through the same services. Templates travel JSON-encoded, as the client sends them."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import param
from registry.api.uc_catalogs import body_of
from registry.api.uc_models import uc_name
from registry.errors import AlreadyExists, InvalidParameter, NotFound
from registry.models import ModelVersion, RegisteredModel
from registry.models.models import ModelKind
from registry.prompts import IS_PROMPT_TAG, TEXT_TAG, TYPE_TAG
from registry.search import search_registered_models
from registry.search.pages import keyset_page
from registry.selectors import model_get, schema_get, version_get, version_get_by_alias
from registry.services.aliases import alias_delete, alias_set
from registry.services.models import registered_model_create, registered_model_delete, registered_model_update
from registry.services.tags import model_tag_delete, model_tag_set, version_tag_delete, version_tag_set
from registry.services.versions import model_version_create, model_version_delete, model_version_update

MAX_PAGE = 1000
_HIDDEN_TAGS = {IS_PROMPT_TAG, TEXT_TAG}


def _timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PromptAlreadyExists(AlreadyExists):
    """Unity Catalog's code for a name taken (MLflow's client goes on to add a version when it sees it)."""

    error_code = "ALREADY_EXISTS"


def _prompt_get(actor, name) -> RegisteredModel:
    """The prompt `name`; a model of that name is not a prompt here (not found, as a hidden one)."""
    name = uc_name(name)
    prompt = model_get(actor=actor, name=name)
    if not prompt.is_prompt:
        raise NotFound(f"Prompt '{name}' does not exist.")
    return prompt


def _tags(rows) -> list[dict]:
    return [{"key": t.key, "value": t.value} for t in sorted(rows, key=lambda t: t.key) if t.key not in _HIDDEN_TAGS]


def prompt_info(prompt: RegisteredModel) -> dict:
    return {
        "name": prompt.full_name, "description": prompt.description,
        "creation_timestamp": _timestamp(prompt.created_at), "last_updated_timestamp": _timestamp(prompt.updated_at),
        "tags": _tags(prompt.tags.all()),
        "aliases": [{"alias": a.alias, "version": str(a.version.version)}
                    for a in prompt.aliases.select_related("version").order_by("alias")],
    }


def _template_out(tags: dict[str, str]) -> str:
    """The template as the client expects it: JSON-encoded (a chat template is stored as its JSON already)."""
    text = tags.get(TEXT_TAG, "")
    return text if tags.get(TYPE_TAG) == "chat" else json.dumps(text)


def version_info(mv: ModelVersion) -> dict:
    tags = list(mv.tags.all())
    return {
        "name": mv.model.full_name, "version": str(mv.version), "description": mv.description,
        "template": _template_out({t.key: t.value for t in tags}),
        "creation_timestamp": _timestamp(mv.created_at), "last_updated_timestamp": _timestamp(mv.updated_at),
        "tags": _tags(tags), "aliases": [{"alias": a.alias, "version": str(mv.version)} for a in mv.aliases.all()],
    }


def _tag_dict(value, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise InvalidParameter(f"'{field}' must be a list of {{key, value}} objects.")
    return {t.get("key"): t.get("value", "") for t in value}


def _template_in(value) -> tuple[str, str]:
    """(text stored in the template tag, prompt type) from the client's JSON-encoded template."""
    if not isinstance(value, str) or not value:
        raise InvalidParameter("'prompt_version.template' must be a non-empty JSON-encoded template.")
    try:
        template = json.loads(value)
    except ValueError:
        raise InvalidParameter("'prompt_version.template' must be JSON-encoded (a string or a list of "
                               "messages).") from None
    if isinstance(template, str):
        return template, "text"
    if isinstance(template, list) and all(isinstance(m, dict) for m in template):
        return json.dumps(template), "chat"
    raise InvalidParameter("'prompt_version.template' must be a string or a list of chat messages.")


def _page_args(body: dict) -> tuple[int, str | None]:
    size = param(body, "max_results", int, default=0)
    if size < 0:
        raise InvalidParameter(f"Invalid value {size} for parameter 'max_results': it must not be negative.")
    return min(size or 100, MAX_PAGE), param(body, "page_token", default=None)


class PromptListView(APIView):
    def post(self, request):
        body = body_of(request)
        prompt = body.get("prompt") if isinstance(body.get("prompt"), dict) else {}
        name = uc_name(body.get("name") or prompt.get("name"))
        tags = {**_tag_dict(prompt.get("tags"), "prompt.tags"), IS_PROMPT_TAG: "true"}
        try:
            created = registered_model_create(actor=request.user, name=name,
                                              description=prompt.get("description") or "", tags=tags)
        except AlreadyExists:
            existing = model_get(actor=request.user, name=name)  # it exists, and the actor may see it
            if not existing.is_prompt:
                raise AlreadyExists(f"{existing.full_name} is a registered model, not a prompt; choose another "
                                    "name for the prompt.") from None
            raise PromptAlreadyExists(f"Prompt '{existing.full_name}' already exists.") from None
        return Response(prompt_info(created))


class PromptSearchView(APIView):
    def post(self, request):
        body = body_of(request)
        where = body.get("catalog_schema")
        if not isinstance(where, dict):
            raise InvalidParameter("'catalog_schema' (catalog_name, schema_name) is required.")
        schema = schema_get(actor=request.user, full_name=f"{where.get('catalog_name')}.{where.get('schema_name')}")
        size, token = _page_args(body)
        extra = param(body, "filter", default="") or ""
        condition = f"tags.`{IS_PROMPT_TAG}` = 'true'" + (f" AND {extra}" if extra else "")
        found = search_registered_models(actor=request.user, filter_string=condition, order_by=["name ASC"],
                                         max_results=size, page_token=token, kind=ModelKind.PROMPT, schema=schema)
        out = {"prompts": [prompt_info(p) for p in found.items]}
        if found.next_page_token:
            out["next_page_token"] = found.next_page_token
        return Response(out)


class PromptDetailView(APIView):
    def get(self, request, name: str):
        return Response(prompt_info(_prompt_get(request.user, name)))

    def patch(self, request, name: str):
        prompt = _prompt_get(request.user, name)
        body = body_of(request).get("prompt")
        if isinstance(body, dict) and body.get("description") is not None:
            prompt = registered_model_update(actor=request.user, name=prompt.full_name,
                                             description=body.get("description"))
        return Response(prompt_info(prompt))

    def delete(self, request, name: str):
        prompt = _prompt_get(request.user, name)
        registered_model_delete(actor=request.user, name=prompt.full_name, force=True)  # versions own no files
        return Response({})


class PromptVersionListView(APIView):
    def post(self, request, name: str):
        prompt = _prompt_get(request.user, name)
        body = body_of(request).get("prompt_version")
        if not isinstance(body, dict):
            raise InvalidParameter("'prompt_version' is required.")
        text, kind = _template_in(body.get("template"))
        tags = {**_tag_dict(body.get("tags"), "prompt_version.tags"), IS_PROMPT_TAG: "true", TYPE_TAG: kind,
                TEXT_TAG: text}
        mv = model_version_create(actor=request.user, name=prompt.full_name, source="prompt-template",
                                  description=body.get("description") or "", tags=tags)
        return Response(version_info(mv))


class PromptVersionSearchView(APIView):
    def post(self, request, name: str):
        prompt = _prompt_get(request.user, name)
        size, token = _page_args(body_of(request))
        rows = ModelVersion.objects.filter(model=prompt).select_related("model__schema__catalog").order_by("-version")
        items, next_token = keyset_page(rows.prefetch_related("tags", "aliases"), size=size, token=token)
        out = {"prompt_versions": [version_info(mv) for mv in items]}
        if next_token:
            out["next_page_token"] = next_token
        return Response(out)


class PromptVersionDetailView(APIView):
    def get(self, request, name: str, version: str):
        prompt = _prompt_get(request.user, name)
        return Response(version_info(version_get(actor=request.user, name=prompt.full_name, version=version)))

    def patch(self, request, name: str, version: str):
        prompt = _prompt_get(request.user, name)
        body = body_of(request).get("prompt_version")
        mv = version_get(actor=request.user, name=prompt.full_name, version=version)
        if isinstance(body, dict) and body.get("description") is not None:
            mv = model_version_update(actor=request.user, name=prompt.full_name, version=version,
                                      description=body.get("description"))
        return Response(version_info(mv))

    def delete(self, request, name: str, version: str):
        prompt = _prompt_get(request.user, name)
        model_version_delete(actor=request.user, name=prompt.full_name, version=version)
        return Response({})


class PromptVersionByAliasView(APIView):
    def get(self, request, name: str, alias: str):
        prompt = _prompt_get(request.user, name)
        return Response(version_info(version_get_by_alias(actor=request.user, name=prompt.full_name, alias=alias)))


class PromptAliasView(APIView):
    def post(self, request, name: str, alias: str):
        prompt = _prompt_get(request.user, name)
        body = body_of(request)
        alias_set(actor=request.user, name=prompt.full_name, alias=alias,
                  version=param(body, "version", required=True))
        return Response({})

    def delete(self, request, name: str, alias: str):
        prompt = _prompt_get(request.user, name)
        alias_delete(actor=request.user, name=prompt.full_name, alias=alias)
        return Response({})


class PromptTagView(APIView):
    def post(self, request, name: str):
        prompt = _prompt_get(request.user, name)
        body = body_of(request)
        key = param(body, "key", required=True)
        if key in _HIDDEN_TAGS:
            raise InvalidParameter(f"The tag {key} is the registry's own and cannot be set here.")
        model_tag_set(actor=request.user, name=prompt.full_name, key=key, value=param(body, "value", default=""))
        return Response({})


class PromptTagDeleteView(APIView):
    def delete(self, request, name: str, key: str):
        prompt = _prompt_get(request.user, name)
        if key in _HIDDEN_TAGS:
            raise InvalidParameter(f"The tag {key} is the registry's own and cannot be removed.")
        model_tag_delete(actor=request.user, name=prompt.full_name, key=key)
        return Response({})


class PromptVersionTagView(APIView):
    def post(self, request, name: str, version: str):
        prompt = _prompt_get(request.user, name)
        body = body_of(request)
        key = param(body, "key", required=True)
        if key in _HIDDEN_TAGS:
            raise InvalidParameter(f"The tag {key} holds the version's template and cannot be changed.")
        version_tag_set(actor=request.user, name=prompt.full_name, version=version, key=key,
                        value=param(body, "value", default=""))
        return Response({})


class PromptVersionTagDeleteView(APIView):
    def delete(self, request, name: str, version: str, key: str):
        prompt = _prompt_get(request.user, name)
        if key in _HIDDEN_TAGS:
            raise InvalidParameter(f"The tag {key} holds the version's template and cannot be removed.")
        version_tag_delete(actor=request.user, name=prompt.full_name, version=version, key=key)
        return Response({})
