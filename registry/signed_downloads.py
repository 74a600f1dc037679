"""Short-lived signed URLs for one file of one READY version (`model-versions/get-signed-download-uri`): an
HMAC (Django's signing, keyed by SECRET_KEY) over the version, the path and the time it was issued. The URL is
no credential: it opens that one path, of that one version, for SIGNED_DOWNLOAD_TTL_SECONDS."""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.core import signing

from registry import storage
from registry.errors import InvalidParameter, PermissionDenied
from registry.models import ModelVersion
from registry.models.models import VersionStatus
from registry.sources import artifact_path_of

_SALT = "registry.signed-download"
_REFUSED = "The signed URL is invalid or has expired: ask get-signed-download-uri for a new one."


def workspace_id() -> str:
    """This deployment's id: WORKSPACE_ID, or a number derived from SECRET_KEY (stable, distinct per deployment)."""
    if settings.WORKSPACE_ID:
        return settings.WORKSPACE_ID
    digest = hashlib.sha256(f"workspace-id:{settings.SECRET_KEY}".encode()).digest()
    return str(int.from_bytes(digest[:7], "big"))


def version_path(mv: ModelVersion, raw_path: str) -> tuple[str, str]:
    """(store root of the version's files, the cleaned path below it) of a version whose files may be read."""
    if mv.status != VersionStatus.READY:
        raise InvalidParameter(f"Model version {mv.model.full_name} version {mv.version} is {mv.status}. "
                               "Its artifacts can be read once it is READY.")
    relative = storage.clean_relative_path(raw_path) if raw_path else ""
    return artifact_path_of(mv.storage_location), relative


def sign(mv: ModelVersion, relative: str) -> str:
    return signing.dumps({"v": mv.pk, "p": relative, "l": mv.storage_location}, salt=_SALT, compress=True)


def open_path(token: str) -> str:
    """The store path a signed URL names, if its signature holds, it has not expired and its version is still
    the READY version it was issued for."""
    try:
        claim = signing.loads(token, salt=_SALT, max_age=settings.SIGNED_DOWNLOAD_TTL_SECONDS)
    except signing.BadSignature:  # SignatureExpired included
        raise PermissionDenied(_REFUSED) from None
    mv = ModelVersion.objects.filter(pk=claim["v"], status=VersionStatus.READY).first()
    if mv is None or mv.storage_location != claim["l"]:
        raise PermissionDenied(_REFUSED)
    root = artifact_path_of(mv.storage_location)
    return f"{root}/{claim['p']}" if claim["p"] else root
