"""Remote registries (docs/remote-registry.md): a user adds another deployment (a name, its URL, their own token
there) and removes it; each is theirs alone. Importing a remote version into a local model makes a PENDING
version whose source is `remote:<registry>/<model>/<version>` and an IMPORT job that downloads its files
(registry/remote_import.py)."""
from __future__ import annotations

import re

from django.conf import settings
from django.db import IntegrityError, transaction

from registry import audit
from registry.errors import AlreadyExists, InvalidParameter, NotFound
from registry.events import registry_events
from registry.generated_descriptions import copied_description
from registry.jobs import publish_on_commit
from registry.models import Job, ModelVersion, ModelVersionTag, RemoteRegistry
from registry.models.models import VersionStatus
from registry.permissions import Action
from registry.remote_client import (RemoteClient, RemoteError, clean_base_url, decrypt_token, destination_refusal,
                                    encrypt_token)
from registry.selectors import model_get, model_lookup, model_not_found_message
from registry.services.core import authorize, require_authenticated, require_text, service
from registry.services.models import registered_model_create
from registry.services.versions import _allocate_version_number

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SOURCE_SCHEME = "remote:"
MAX_REMOTES_PER_USER = 50


def _not_found(name: str) -> NotFound:
    return NotFound(f"Remote registry {str(name)[:64]!r} not found.")


# ---- reads (the owner's own rows only) ------------------------------------------------------------------------

def remote_registry_list(*, actor):
    if actor is None or not actor.is_authenticated:
        return RemoteRegistry.objects.none()
    return RemoteRegistry.objects.filter(owner=actor)


def remote_registry_get(*, actor, name: str) -> RemoteRegistry:
    registry = remote_registry_list(actor=actor).filter(name=str(name)[:64]).first()
    if registry is None:  # another user's remote reads exactly as a missing one
        raise _not_found(name)
    return registry


def remote_client(registry: RemoteRegistry) -> RemoteClient:
    """A client with the registry's token (decrypted here, never returned to a page)."""
    return RemoteClient(registry.base_url, decrypt_token(registry.token_encrypted), label=registry.name)


def remote_source(registry_name: str, model_name: str, version) -> str:
    return f"{SOURCE_SCHEME}{registry_name}/{model_name}/{version}"


def remote_source_parts(source: str) -> tuple[str, str, str] | None:
    """(registry name, model, version) of a `remote:<registry>/<model>/<version>` source; None for any other."""
    if not isinstance(source, str) or not source.startswith(SOURCE_SCHEME):
        return None
    registry_name, _, rest = source[len(SOURCE_SCHEME):].partition("/")
    model, _, version = rest.rpartition("/")
    if not registry_name or not model or not version.isdigit():
        return None
    return registry_name, model, version


def remote_import_origin(*, actor, source: str) -> dict | None:
    """Where an imported version came from, for its page: the remote registry's name, model and version, and
    whether `actor` has a remote registry of that name (then the page links to the remote version)."""
    parts = remote_source_parts(source)
    if parts is None:
        return None
    registry_name, model, version = parts
    mine = remote_registry_list(actor=actor).filter(name=registry_name).exists()
    return {"registry": registry_name, "model": model, "version": int(version), "browsable": mine}


# ---- writes ----------------------------------------------------------------------------------------------------

@service("remote_registry.add")
def remote_registry_add(*, actor, name: str, base_url: str, secret: str) -> RemoteRegistry:
    require_authenticated(actor)
    name = (name or "").strip() if isinstance(name, str) else ""
    if not _NAME.match(name):
        raise InvalidParameter("A remote registry's name is 1-64 letters, digits, '-' or '_', starting with a "
                               "letter or digit (e.g. prod).")
    url = clean_base_url(base_url)
    if refusal := destination_refusal(url):
        raise InvalidParameter(refusal)
    if not isinstance(secret, str) or not secret.strip():
        raise InvalidParameter("Give your personal access token for the remote deployment.")
    secret = secret.strip()
    if len(secret) > 1000 or any(ord(ch) < 33 or ord(ch) == 127 for ch in secret):
        raise InvalidParameter("The token must be at most 1000 characters, without spaces or control characters.")
    if RemoteRegistry.objects.filter(owner=actor).count() >= MAX_REMOTES_PER_USER:
        raise InvalidParameter(f"You have {MAX_REMOTES_PER_USER} remote registries: remove one first.")
    try:
        with transaction.atomic():
            registry = RemoteRegistry.objects.create(owner=actor, name=name, base_url=url,
                                                     token_encrypted=encrypt_token(secret))
    except IntegrityError:
        raise AlreadyExists(f"You already have a remote registry named {name!r}.") from None
    audit.record(actor=actor, action="remote_registry.add", obj=registry, object_name=name,
                 params={"name": name, "base_url": url})
    return registry


@service("remote_registry.remove")
def remote_registry_remove(*, actor, name: str) -> None:
    require_authenticated(actor)
    registry = remote_registry_get(actor=actor, name=name)
    audit.record(actor=actor, action="remote_registry.remove", obj=registry, object_name=registry.name,
                 params={"name": registry.name, "base_url": registry.base_url})
    registry.delete()


def remote_version_import(*, actor, registry_name: str, model_name: str, version, destination_name: str,
                          create_destination: bool = False) -> ModelVersion:
    """Import a READY remote version as a new version of a local model. The remote's facts are read first,
    outside any transaction (an HTTP call must not hold row locks); then `_import_create` makes the version and
    its job in one transaction. RemoteError when the remote cannot say what the version is."""
    require_authenticated(actor)
    registry = remote_registry_get(actor=actor, name=registry_name)
    with remote_client(registry) as client:
        remote = client.get_version(model_name, version)
    if not remote:
        raise RemoteError(f"{registry.name} has no version {version} of {model_name}.")
    if remote.get("status") != "READY":
        raise InvalidParameter(f"Version {remote.get('version')} of {model_name} on {registry.name} is "
                               f"{remote.get('status')}: only a READY version can be imported.")
    return _import_create(actor=actor, registry=registry, remote=remote, destination_name=destination_name,
                          create_destination=create_destination)


@service("model_version.import")
def _import_create(*, actor, registry: RemoteRegistry, remote: dict, destination_name: str,
                   create_destination: bool) -> ModelVersion:
    name = require_text((destination_name or "").strip(), "destination", max_length=800)
    if not name:
        raise InvalidParameter("Name the local model the version is imported into.")
    if create_destination and not model_lookup(name).exists():
        registered_model_create(actor=actor, name=name)
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, model, not_found_message=model_not_found_message(name))
    remote_name, remote_number = str(remote.get("name") or ""), str(remote.get("version") or "")
    description = copied_description(str(remote.get("description") or ""), "version")
    description = description[:settings.REGISTRY_MAX_DESCRIPTION_LENGTH]
    tags = {str(t.get("key")): str(t.get("value") or "") for t in remote.get("tags") or [] if t.get("key")}
    if tags:
        from registry.services.tags import validated_tags

        tags = validated_tags(tags, existing=0)
    number = _allocate_version_number(model, name)
    mv = ModelVersion.objects.create(
        model=model, version=number, source=remote_source(registry.name, remote_name, remote_number),
        description=description, status=VersionStatus.PENDING_REGISTRATION, created_by=actor, updated_by=actor)
    mv.storage_location = mv.managed_location
    mv.save(update_fields=["storage_location"])
    if tags:
        ModelVersionTag.objects.bulk_create(ModelVersionTag(version=mv, key=k, value=v) for k, v in tags.items())
    audit.record(actor=actor, action="model_version.import", obj=mv,
                 params={"name": model.full_name, "version": mv.version, "source": mv.source,
                         "remote_url": registry.base_url, "remote_run_id": remote.get("run_id") or ""})
    registry_events.model_version_created(mv)
    job = Job.objects.create(
        kind=Job.Kind.IMPORT, created_by=actor, model=model, model_version=mv, message="Waiting for a worker",
        params={"remote_registry_id": registry.pk, "remote_registry": registry.name, "remote_url": registry.base_url,
                "remote": {"name": remote_name, "version": remote_number, "run_id": remote.get("run_id") or ""},
                "destination": mv.managed_location.split(":/", 1)[1],
                "target": {"name": model.full_name, "version": mv.version}})
    publish_on_commit(job)
    return mv
