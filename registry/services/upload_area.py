"""Writes to the DBFS upload area (registry/upload_area.py): a principal's file uploads, bounded by
UPLOAD_AREA_MAX_BYTES per principal; an uploaded directory is removed once a version registered from it is
READY, or UPLOAD_AREA_MAX_AGE_SECONDS after its last write."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry import audit, storage, upload_area
from registry.errors import InvalidParameter
from registry.models import UploadAreaDirectory
from registry.services.core import service

log = logging.getLogger(__name__)


class _Bounded:
    """A body stream that refuses to go past `limit` bytes (a chunked upload announces no length)."""

    def __init__(self, stream, limit: int):
        self.stream, self.left = stream, limit

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.left -= len(data)
        if self.left < 0:
            raise InvalidParameter(_too_large())
        return data


def _too_large() -> str:
    return (f"The upload area holds at most {settings.UPLOAD_AREA_MAX_BYTES} bytes per user "
            "(UPLOAD_AREA_MAX_BYTES); register or wait for earlier uploads to be removed.")


def upload_area_save(*, actor, path: str, stream, expected_size: int | None) -> int:
    """DBFS `POST /dbfs/<path>`: the body is the file. Returns the bytes written."""
    where = upload_area.parse(path)
    if not where.directory or not where.rest:
        raise InvalidParameter(f"Cannot write {where.client_path()}: name a file inside an upload directory.")
    room = settings.UPLOAD_AREA_MAX_BYTES - upload_area.used_bytes(actor.pk)
    if expected_size is not None and expected_size > room:
        raise InvalidParameter(_too_large())
    _directory_touch(actor=actor, name=where.directory)
    written, _ = storage.save_stream(where.store_path(actor.pk), _Bounded(stream, room), expected_size=expected_size)
    return written


@service("upload_area.write")
def _directory_touch(*, actor, name: str) -> None:
    row, created = UploadAreaDirectory.objects.get_or_create(owner=actor, name=name)
    if created:
        audit.record(actor=actor, action="upload_area.create", params={"directory": name},
                     object_name=f"{upload_area.AREA}/{name}")
    else:
        row.save(update_fields=["updated_at"])


def upload_area_release(*, owner_id: int, source: str) -> None:
    """Once a version registered from the upload area is READY (its files copied into its own storage), the
    uploaded directory goes: after the commit, so a rolled-back READY keeps its source."""
    name = upload_area.parse(source).directory

    def remove():
        storage.delete_tree(f"{upload_area.STORE_ROOT}/{owner_id}/{name}")
        UploadAreaDirectory.objects.filter(owner_id=owner_id, name=name).delete()

    transaction.on_commit(remove)


def upload_area_sweep(*, older_than_seconds: int) -> int:
    """Remove uploaded directories not written to for `older_than_seconds` (never registered, or failed)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    removed = 0
    for row in UploadAreaDirectory.objects.filter(updated_at__lt=cutoff).order_by("pk")[:1000]:
        storage.delete_tree(f"{upload_area.STORE_ROOT}/{row.owner_id}/{row.name}")
        # Only if no write came in meanwhile (which moved updated_at on).
        removed += UploadAreaDirectory.objects.filter(pk=row.pk, updated_at__lt=cutoff).delete()[0]
    return removed
