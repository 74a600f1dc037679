"""Remote registries in the browser (docs/remote-registry.md): the user's own list (add, remove), a remote's models,
one remote model and its versions, one remote version, all read-only through the remote's REST API with the
user's token there; Compare a local version beside a remote one; Import a remote version into a local model (a
job). A remote that is down or refuses the token is a message on the page, never an error page."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import yaml
from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from explorer.forms import add_registry_error
from explorer.generators import signature_fields
from explorer.views.common import ui_view
from explorer.views.compare import PALETTE, Cell, Row, Section, _code, _finish, _number_texts, _row, _text
from explorer.views.tracking import model_name_suggestions
from registry import selectors
from registry import tracking_selectors as ts
from registry.errors import NotFound, RegistryError
from registry.permissions import Action
from registry.remote_client import MAX_VERSIONS_LISTED, RemoteClient, RemoteError
from registry.services.copy import model_version_copy_effect
from registry.services.remote_registries import (remote_client, remote_registry_add, remote_registry_get,
                                                 remote_registry_list, remote_registry_remove,
                                                 remote_version_import)
from registry.source_visibility import attach_provenance

MAX_MLMODEL_BYTES = 1024 * 1024


class RemoteRegistryForm(forms.Form):
    name = forms.CharField(max_length=64, label="Name", help_text="Your label for it, e.g. prod")
    base_url = forms.CharField(max_length=2000, label="Deployment URL", help_text="e.g. https://prod.example.com")
    token = forms.CharField(max_length=1000, label="Your access token there", strip=True,
                            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                            help_text="A personal access token of yours on that deployment. Stored encrypted, "
                                      "used only for you, never shown again.")


class ImportForm(forms.Form):
    destination = forms.CharField(max_length=800, label="Local model",
                                  help_text="A model here, e.g. staging.ml_team.fraud_detection")
    create_destination = forms.BooleanField(required=False, initial=True,
                                            label="Create the model if it does not exist")

    def __init__(self, *args, hint_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        live = {"hx-get": hint_url, "hx-target": "#copy-hint", "hx-swap": "outerHTML",
                "hx-include": "#id_destination, #id_create_destination"}
        self.fields["destination"].widget.attrs.update({
            **live, "list": "import-destinations", "autocomplete": "off", "aria-describedby": "copy-hint",
            "hx-trigger": "input changed delay:250ms"})
        self.fields["create_destination"].widget.attrs.update({**live, "hx-trigger": "change"})


def _crumbs(registry=None, model: str = "", version: str = "") -> list[tuple[str, str]]:
    crumbs = [("Remote registries", reverse("explorer:remote_registries"))]
    if registry is not None:
        crumbs.append((registry.name, reverse("explorer:remote_models", args=[registry.name])))
    if model:
        crumbs.append((model, reverse("explorer:remote_model", args=[registry.name, model])))
    if version:
        crumbs.append((f"Version {version}", reverse("explorer:remote_version", args=[registry.name, model, version])))
    return crumbs


def _page(request, template: str, registry, context: dict, *, status: int = 200) -> HttpResponse:
    return render(request, template, {"remote": registry, **context}, status=status)


# ---- the list ------------------------------------------------------------------------------------------------

@ui_view
def remote_registries(request: HttpRequest) -> HttpResponse:
    form = RemoteRegistryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registry = remote_registry_add(actor=request.user, name=form.cleaned_data["name"],
                                           base_url=form.cleaned_data["base_url"], secret=form.cleaned_data["token"])
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return HttpResponseRedirect(reverse("explorer:remote_models", args=[registry.name]))
    return render(request, "explorer/remote_registries.html", {
        "form": form, "registries": remote_registry_list(actor=request.user), "breadcrumbs": _crumbs()},
        status=400 if form.errors else 200)


@require_POST
@ui_view
def remote_registry_remove_view(request: HttpRequest, name: str) -> HttpResponse:
    remote_registry_remove(actor=request.user, name=name)  # another user's reads as missing: a 404
    return HttpResponseRedirect(reverse("explorer:remote_registries"))


# ---- browsing ------------------------------------------------------------------------------------------------

@ui_view
def remote_models(request: HttpRequest, name: str) -> HttpResponse:
    registry = remote_registry_get(actor=request.user, name=name)
    q = request.GET.get("q", "").strip()[:200]
    page_token = request.GET.get("page_token", "")[:2000]
    context = {"q": q, "models": [], "next_url": "", "error": "", "breadcrumbs": _crumbs(registry)}
    try:
        with remote_client(registry) as client:
            body = client.search_models(filter_text=q, page_token=page_token)
    except RemoteError as exc:
        context["error"] = exc.message
    else:
        models = body.get("registered_models") or []
        for m in models:
            m["aliases_shown"] = [f"{a.get('alias')}: v{a.get('version')}" for a in m.get("aliases") or []]
            m["latest"] = max((int(v.get("version") or 0) for v in m.get("latest_versions") or []), default=None)
        context["models"] = models
        if body.get("next_page_token"):
            context["next_url"] = "?" + urlencode({"q": q, "page_token": body["next_page_token"]})
    return _page(request, "explorer/remote_models.html", registry, context)


@ui_view
def remote_model(request: HttpRequest, name: str, model: str) -> HttpResponse:
    registry = remote_registry_get(actor=request.user, name=name)
    context = {"model_name": model, "model": {}, "versions": [], "error": "",
               "breadcrumbs": _crumbs(registry, model)}
    status = 200
    try:
        with remote_client(registry) as client:
            context["model"] = client.get_model(model)
            context["versions"] = client.search_versions(model)
    except RemoteError as exc:
        context["error"] = exc.message
        status = 404 if exc.not_found else 200
    for v in context["versions"]:
        v["aliases_shown"] = v.get("aliases") or []
    context["more_versions"] = len(context["versions"]) >= MAX_VERSIONS_LISTED
    return _page(request, "explorer/remote_model.html", registry, context, status=status)


def _remote_signature(client: RemoteClient, model: str, version) -> dict | None:
    """The signature in the remote version's MLmodel (the registry API does not return it)."""
    try:
        chunks, _ = client.download(model, version, "MLmodel")
        data = b""
        for chunk in chunks:
            data += chunk
            if len(data) > MAX_MLMODEL_BYTES:
                return None
        document = yaml.safe_load(data.decode("utf-8", errors="replace")) or {}
    except (RemoteError, yaml.YAMLError):
        return None
    signature = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signature, dict):
        return None
    parsed = {}
    for key in ("inputs", "outputs"):
        value = signature.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        parsed[key] = value
    return parsed


def _remote_facts(client: RemoteClient, model: str, version) -> dict:
    """Everything the version and compare pages show of a remote version: its fields, run data, signature."""
    mv = client.get_version(model, version)
    if not mv:
        raise RemoteError(f"No version {version} of {model}.", status=404)
    run = client.get_run(mv["run_id"]) if mv.get("run_id") else None
    data = (run or {}).get("data") or {}
    return {
        "version": mv, "run": run,
        "params": {p["key"]: str(p.get("value", "")) for p in data.get("params") or [] if p.get("key")},
        "metrics": {m["key"]: m for m in data.get("metrics") or [] if m.get("key")},
        "tags": {t["key"]: str(t.get("value", "")) for t in mv.get("tags") or [] if t.get("key")},
        "signature": _remote_signature(client, model, version) if mv.get("status") == "READY" else None,
    }


def _import_effect(request, data) -> tuple[str, str]:
    level, hint = model_version_copy_effect(actor=request.user, destination_name=(data.get("destination") or "")[:800],
                                            create_destination=bool(data.get("create_destination")))
    return level, hint.replace("the copy", "the import")


@ui_view
def remote_version(request: HttpRequest, name: str, model: str, version: int) -> HttpResponse:
    registry = remote_registry_get(actor=request.user, name=name)
    import_url = reverse("explorer:remote_import", args=[registry.name, model, version])
    context = {"model_name": model, "number": version, "facts": None, "error": "",
               "breadcrumbs": _crumbs(registry, model, str(version)),
               "compare_url": reverse("explorer:remote_compare", args=[registry.name, model, version]),
               "import_url": import_url, "form": ImportForm(hint_url=f"{import_url}?hint=1"),
               "destinations": model_name_suggestions(request.user, Action.MODIFY),
               "local_models": model_name_suggestions(request.user)}
    context["level"], context["hint"] = _import_effect(request, {"create_destination": True})
    status = 200
    try:
        with remote_client(registry) as client:
            context["facts"] = _remote_facts(client, model, version)
    except RemoteError as exc:
        context["error"] = exc.message
        status = 404 if exc.not_found else 200
    if context["facts"]:
        context["inputs"] = signature_fields(context["facts"]["signature"], "inputs")
        context["outputs"] = signature_fields(context["facts"]["signature"], "outputs")
    return _page(request, "explorer/remote_version.html", registry, context, status=status)


@ui_view
def remote_import(request: HttpRequest, name: str, model: str, version: int) -> HttpResponse:
    """GET ?hint=1: what importing into the typed destination would do; POST: start the import."""
    registry = remote_registry_get(actor=request.user, name=name)
    if request.method == "GET" and "hint" in request.GET:
        level, hint = _import_effect(request, request.GET)
        return render(request, "explorer/partials/copy_hint.html", {"hint": hint, "level": level})
    if request.method != "POST":
        return HttpResponseRedirect(reverse("explorer:remote_version", args=[registry.name, model, version]))
    import_url = reverse("explorer:remote_import", args=[registry.name, model, version])
    form = ImportForm(request.POST, hint_url=f"{import_url}?hint=1")
    error = ""
    if form.is_valid():
        try:
            mv = remote_version_import(actor=request.user, registry_name=registry.name, model_name=model,
                                       version=version, destination_name=form.cleaned_data["destination"],
                                       create_destination=form.cleaned_data["create_destination"])
        except RegistryError as exc:
            form.add_error("destination", exc.message)
        except RemoteError as exc:
            error = exc.message
        else:
            return HttpResponseRedirect(reverse("explorer:version", args=[mv.model.full_name, mv.version]))
    level, hint = _import_effect(request, {})
    return _page(request, "explorer/remote_import.html", registry, {
        "model_name": model, "number": version, "form": form, "error": error, "import_url": import_url,
        "destinations": model_name_suggestions(request.user, Action.MODIFY), "level": level, "hint": hint,
        "breadcrumbs": _crumbs(registry, model, str(version)) + [("Import", import_url)]}, status=400)


# ---- compare -------------------------------------------------------------------------------------------------

def _version_rows(local, remote_mv: dict, remote_run, local_run) -> list[Row]:
    remote_status = remote_mv.get("status") or None
    local_aliases = sorted(local.aliases.values_list("alias", flat=True)) or None
    remote_aliases = sorted(remote_mv.get("aliases") or []) or None
    remote_user = remote_mv.get("user_id") or None
    rows = [
        _row("Status", [local.status, remote_status], _text),
        _row("Created by", [local.created_by.get_username() if local.created_by else None, remote_user], _text),
        _row("Aliases", [local_aliases, remote_aliases], lambda v: Cell("chips", value=v)),
        _row("Source", [local.provenance.source or None, remote_mv.get("source") or None], _code),
        _row("Source run", [local_run.run_id if local_run else (local.provenance.run_id or None),
                            remote_mv.get("run_id") or None], _code),
    ]
    if remote_run is None and remote_mv.get("run_id"):
        rows[-1].cells[1].title = "The run is not on that deployment, or you may not read it there."
    return rows


def _metric_rows(local_metrics: dict, remote_metrics: dict) -> list[Row]:
    rows = []
    for key in sorted(set(local_metrics) | set(remote_metrics)):
        raw = []
        for m in (local_metrics.get(key), remote_metrics.get(key)):
            if m is None:
                raw.append(None)
            elif isinstance(m, dict):
                value = m.get("value")
                raw.append(float(value) if isinstance(value, (int, float)) else str(value))
            else:
                raw.append("NaN" if m.is_nan or m.value is None else float(m.value))
        texts = _number_texts(raw)
        cells = [Cell() if v is None else Cell("text", texts.get(v, str(v))) for v in raw]
        rows.append(Row(key, cells, differs=len(set(raw)) > 1, code=True))
    return rows


def _signature_rows(signatures: list) -> list[Row]:
    rows = []
    for part, label in (("inputs", "Input"), ("outputs", "Output")):
        fields = [signature_fields(s, part) for s in signatures]
        if not any(fields):
            continue
        rows.append(_row(f"{label}s, in order", [[f["name"] for f in fs] or None for fs in fields],
                         lambda v: Cell("text", ", ".join(v))))
        specs = [{f["name"]: f"{f['type']} · {'required' if f['required'] else 'optional'}" for f in fs}
                 for fs in fields]
        order = list(dict.fromkeys(f["name"] for fs in fields for f in fs))
        rows += [_row(n, [s.get(n) for s in specs], _text, code=True, prefix=label.lower()) for n in order]
    return rows


def _keyed(per_column: list[dict]) -> list[Row]:
    keys = sorted({k for values in per_column for k in values})
    return [_row(k, [values.get(k) for values in per_column], _text, code=True) for k in keys]


@ui_view
def remote_compare(request: HttpRequest, name: str, model: str, version: int) -> HttpResponse:
    """`?local=<model>&local_version=<n>`: that local version beside this remote one."""
    registry = remote_registry_get(actor=request.user, name=name)
    local_name = request.GET.get("local", "").strip()[:800]
    local_number = request.GET.get("local_version", "").strip()[:20]
    diff_only = request.GET.get("diff", "") in ("1", "true", "on")
    url = reverse("explorer:remote_compare", args=[registry.name, model, version])
    context = {"model_name": model, "number": version, "local_name": local_name, "local_number": local_number,
               "diff_only": diff_only, "sections": [], "columns": [], "error": "", "compare_url": url,
               "local_models": model_name_suggestions(request.user),
               "breadcrumbs": _crumbs(registry, model, str(version)) + [("Compare with local", url)]}
    if not local_name or not local_number:
        context["choosing"] = "Name the local version to put beside this one."
        return _page(request, "explorer/remote_compare.html", registry, context)
    try:
        local = selectors.version_get(actor=request.user, name=local_name, version=local_number)
    except (NotFound, RegistryError) as exc:
        context["error"] = exc.message
        return _page(request, "explorer/remote_compare.html", registry, context, status=404)
    try:
        with remote_client(registry) as client:
            facts = _remote_facts(client, model, version)
    except RemoteError as exc:
        context["error"] = exc.message
        return _page(request, "explorer/remote_compare.html", registry, context,
                     status=404 if exc.not_found else 200)
    attach_provenance(actor=request.user, versions=[local])
    local_run = ts.run_list_visible(actor=request.user).filter(run_id=local.provenance.run_id).first() \
        if local.provenance.run_id else None
    details = ts.run_details([local_run]) if local_run else {}
    local_params = {p.key: p.value for p in details[local_run.pk].params} if local_run else {}
    local_metrics = {m.key: m for m in details[local_run.pk].metrics} if local_run else {}
    local_tags = dict(local.tags.values_list("key", "value"))
    sections = [
        _finish(Section("version", "Version", ""), _version_rows(local, facts["version"], facts["run"], local_run),
                diff_only=diff_only),
        _finish(Section("params", "Parameters", "Neither source run that you can read logged parameters."),
                _keyed([local_params, facts["params"]]), diff_only=diff_only),
        _finish(Section("metrics", "Metrics", "Neither source run that you can read logged metrics."),
                _metric_rows(local_metrics, facts["metrics"]), diff_only=diff_only),
        _finish(Section("signature", "Signature", "Neither version has a signature."),
                _signature_rows([local.signature, facts["signature"]]), diff_only=diff_only),
        _finish(Section("tags", "Tags", "Neither version has tags."), _keyed([local_tags, facts["tags"]]),
                diff_only=diff_only),
    ]
    query = {"local": local.model.full_name, "local_version": local.version}
    context.update({
        "local": local, "sections": sections, "differing": sum(s.differing for s in sections),
        "columns": [
            {"label": f"Local: {local.model.full_name} v{local.version}", "color": PALETTE[0],
             "url": reverse("explorer:version", args=[local.model.full_name, local.version])},
            {"label": f"{registry.name}: {model} v{version}", "color": PALETTE[1],
             "url": reverse("explorer:remote_version", args=[registry.name, model, version])},
        ],
        "all_url": url + "?" + urlencode(query), "diff_url": url + "?" + urlencode({**query, "diff": "1"}),
    })
    return _page(request, "explorer/remote_compare.html", registry, context)
