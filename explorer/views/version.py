"""The model version page and its tabs: Overview, Artifacts (browse, preview, download), Lineage, History. The
artifact browser helpers are shared with a run's Artifacts tab (explorer.views.tracking)."""
from __future__ import annotations

import json
import posixpath
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.generators import signature_fields
from explorer.tabs import VERSION_TABS, render_tabs
from explorer.views.browse import model_crumbs
from explorer.views.common import paginate, ui_view
from explorer.views.lineage import lineage_context
from explorer.views.model import can_flags, model_abilities
from registry import selectors, storage
from registry.upload_area import web_link
from registry import tracking_selectors as ts
from registry.api.artifacts import download_response
from registry.artifact_access import authorize_artifact_path
from registry.errors import InvalidParameter, NotFound
from registry.models import AuditEvent, Job, LoggedModel, ModelAlias, ModelVersion
from registry.models.models import Stage
from registry.serving.selectors import invocation_path, served_model_get
from registry.services.remote_registries import remote_import_origin
from registry.source_visibility import attach_provenance, mask_version_events, source_kind

PREVIEW_LIMIT = 256 * 1024
_TEXT_NAMES = {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml", "LICENSE", "README"}
_TEXT_EXTENSIONS = {".txt", ".json", ".yaml", ".yml", ".md", ".py", ".cfg", ".ini", ".csv", ".toml", ".log", ".html"}


def get_version(actor, name: str, version: int) -> ModelVersion:
    try:
        return selectors.version_get(actor=actor, name=name, version=version)
    except InvalidParameter:
        raise NotFound(selectors.version_not_found_message(name, version)) from None


def version_context(request: HttpRequest, mv: ModelVersion, active: str) -> dict:
    model = mv.model
    kwargs = {"name": model.full_name, "version": mv.version}
    crumbs = model_crumbs(model) + [(f"Version {mv.version}", reverse("explorer:version", kwargs=kwargs))]
    # A version has no grants of its own: what may be done to it is what may be done to its model.
    allowed = model_abilities(request.user, model, VERSION_TABS)
    return {
        "object": mv, "model": model, "version": mv, "kind": "Model version", "breadcrumbs": crumbs,
        "can": can_flags(allowed),
        "tabs": render_tabs(VERSION_TABS, actor=request.user, obj=model, kwargs=kwargs, active=active, allowed=allowed),
    }


@ui_view
def version_overview(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    context = version_context(request, mv, "explorer:version")
    job = None
    if mv.status == "PENDING_REGISTRATION":
        job = Job.objects.filter(model_version=mv, kind__in=(Job.Kind.REGISTER, Job.Kind.COPY, Job.Kind.IMPORT)).order_by("-created_at").first()
    # Source, run, logged model and the version copied from, as far as this reader may see them.
    shown = attach_provenance(actor=request.user, versions=[mv])[0].provenance
    copied_from = None
    if shown.copied_from_id:
        copied_from = ModelVersion.objects.select_related("model__schema__catalog").filter(
            pk=shown.copied_from_id).first()
    # The source run links to its page, and `runs:/<id>/<path>` sources also to the files.
    # A version uploaded from another deployment names that deployment's run: it is shown as such, not looked up.
    remote = source_kind(mv) == "upload"
    source_run = ts.run_list_visible(actor=request.user).filter(run_id=shown.run_id).first() \
        if shown.run_id and not remote else None
    run_prefix = f"runs:/{shown.run_id}/"
    source_path = shown.source[len(run_prefix):].strip("/") if source_run and shown.source.startswith(run_prefix) \
        else ""
    inputs = signature_fields(mv.signature, "inputs")
    context.update({
        "shown": shown, "source_run": source_run, "source_path": source_path, "remote": remote,
        "remote_run_link": web_link(shown.run_link) if remote else "",
        "imported_from": remote_import_origin(actor=request.user, source=shown.source),
        "inputs": inputs, "outputs": signature_fields(mv.signature, "outputs"),
        "aliases": list(ModelAlias.objects.filter(version=mv).values_list("alias", flat=True)),
        "version_tags": list(mv.tags.order_by("key")), "job": job, "copied_from": copied_from,
        "uri_by_number": f"models:/{mv.model.full_name}/{mv.version}",
        "logged_model": _logged_model(shown.logged_model_id),
        **_invocation_snippet(request, mv, inputs),
    })
    return render(request, "explorer/version_overview.html", context)


def _logged_model(model_id: str | None):
    """The logged model the version came from (the reader may see it: `shown` names it), with its run."""
    if not model_id:
        return None
    return LoggedModel.objects.select_related("source_run").filter(model_id=model_id, source_run__isnull=False).first()


def _invocation_snippet(request: HttpRequest, mv: ModelVersion, inputs: list) -> dict:
    """The REST call of the version while serving is on for its model: its invocation URI and an example body
    with the signature's columns."""
    served = served_model_get(mv.model)
    if served is None or not served.enabled or mv.status != "READY" or mv.current_stage == Stage.ARCHIVED:
        return {}
    path = invocation_path(mv.model, mv.version)
    columns = [field["name"] for field in inputs if field.get("name")] if inputs else ["<column>"]
    example = {"dataframe_split": {"columns": columns, "data": [["…"] * len(columns)]}}
    return {"invocation_url": request.build_absolute_uri(path), "invocation_example": json.dumps(example)}


def store_root(location: str | None) -> str | None:
    """The store path under a managed `mlflow-artifacts:/` location (a version's copy, a run's artifacts)."""
    location = location or ""
    if not location.startswith("mlflow-artifacts:/"):
        return None
    return location.split(":/", 1)[1].strip("/")


def artifact_root(mv: ModelVersion) -> str | None:
    return store_root(mv.storage_location)


def artifact_store_path(actor, root: str | None, sub: str) -> str:
    """The store path of `sub` inside `root`, authorized for the actor (NotFound otherwise)."""
    if root is None:
        raise NotFound("These artifacts are not in the managed store.")
    sub = sub.strip("/")
    if sub:
        sub = storage.clean_relative_path(sub)
    path = posixpath.join(root, sub) if sub else root
    return authorize_artifact_path(actor, path, write=False)


def _is_text(name: str) -> bool:
    return name in _TEXT_NAMES or posixpath.splitext(name)[1].lower() in _TEXT_EXTENSIONS


def _preview(path: str, name: str, size: int) -> dict:
    if not _is_text(name):
        return {"kind": "binary"}
    if size > PREVIEW_LIMIT:
        return {"kind": "too_large", "limit": PREVIEW_LIMIT}
    with storage.open_read(path) as handle:
        data = handle.read(PREVIEW_LIMIT + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"kind": "binary"}
    if name.endswith(".json"):
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return {"kind": "text", "text": text}


def artifact_browser(actor, *, root: str | None, sub: str, base_url: str, missing: str) -> tuple[dict, int]:
    """The context of partials/artifact_browser.html for `sub` (a client path, from `?path=`) below `root`, and
    the status to answer with: a listing, a file with its preview, or why nothing can be shown (`missing` when
    the root itself is unavailable; a path that is not there, or not allowed, is a 404)."""
    sub = sub[:1000].strip("/")
    context = {"path": sub, "entries": [], "file": None, "unavailable": ""}
    try:
        path = artifact_store_path(actor, root, sub)
        is_file = bool(sub) and storage.is_file(path)
        if sub and not is_file and not storage.is_dir(path):
            raise NotFound("No artifact at this path.")
    except (NotFound, InvalidParameter):
        context["unavailable"] = "No artifact at this path." if sub else missing
        return context, 404 if sub else 200
    crumbs, acc = [("artifacts", base_url)], ""
    for part in [p for p in sub.split("/") if p]:
        acc = f"{acc}/{part}" if acc else part
        crumbs.append((part, f"{base_url}?{urlencode({'path': acc})}"))
    context["path_crumbs"] = crumbs
    if is_file:
        size = storage.size(path)
        context["file"] = {"name": posixpath.basename(sub), "size": size, "path": sub,
                           "preview": _preview(path, posixpath.basename(sub), size),
                           "sha256": storage.recorded_sha256(path)}
    else:
        context["entries"] = [
            {"name": e.path, "is_dir": e.is_dir, "size": e.size, "path": f"{sub}/{e.path}" if sub else e.path}
            for e in storage.list_dir(path)[:1000]
        ]
    return context, 200


def artifact_download(actor, *, root: str | None, sub: str) -> HttpResponse:
    """The file at `sub` below `root` as an attachment (or a redirect to a presigned URL of it, with
    ARTIFACT_DOWNLOAD_REDIRECT on S3); NotFound for anything else."""
    sub = sub[:1000].strip("/")
    if not sub:
        raise NotFound("No file given.")
    try:
        path = artifact_store_path(actor, root, sub)
        is_file = storage.is_file(path)  # refuses a symlink planted in the store that leads out of it
    except InvalidParameter:
        raise NotFound("No artifact at this path.") from None
    if not is_file:
        raise NotFound("No artifact at this path.")
    return download_response(path)


@ui_view
def version_artifacts(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    context = version_context(request, mv, "explorer:version_artifacts")
    if mv.status != "READY":
        context.update({"path": "", "entries": [], "file": None,
                        "unavailable": "Artifacts are shown once the registration has finished."})
        return render(request, "explorer/version_artifacts.html", context)
    kwargs = {"name": mv.model.full_name, "version": mv.version}
    browser, status = artifact_browser(request.user, root=artifact_root(mv), sub=request.GET.get("path", ""),
                                       base_url=reverse("explorer:version_artifacts", kwargs=kwargs),
                                       missing="No artifacts are available for this version.")
    context.update(browser, download_url=reverse("explorer:version_artifact_download", kwargs=kwargs))
    return render(request, "explorer/version_artifacts.html", context, status=status)


@ui_view
def version_artifact_download(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    if mv.status != "READY":
        raise NotFound("Artifacts are not available before registration has finished.")
    return artifact_download(request.user, root=artifact_root(mv), sub=request.GET.get("path", ""))


@ui_view
def version_lineage(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    context = version_context(request, mv, "explorer:version_lineage")
    context.update(lineage_context(request, f"model_version:{mv.model.full_name}/{mv.version}",
                                   f"Lineage of {mv.model.full_name} version {mv.version}"))
    return render(request, "explorer/lineage.html", context)


@ui_view
def version_history(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    context = version_context(request, mv, "explorer:version_history")
    events = AuditEvent.objects.filter(object_type="modelversion", object_id=str(mv.pk)).order_by("-created_at", "-id")
    context["page"] = paginate(request, events, size=50)
    # The create and copy events record the version's source and run.
    context["page"].object_list = mask_version_events(actor=request.user, events=context["page"].object_list,
                                                      versions=[mv])
    return render(request, "explorer/history.html", context)
