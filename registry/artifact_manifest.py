"""Reads and writes of the artifact manifest (registry.models.ArtifactChecksum), for the storage layer.

Missing or stale entries are always safe: a copy then hashes the source itself. So recording is best effort
(an upload whose transaction rolls back leaves its file without an entry), but an entry that is present and
matches the file's stat is a promise about the file's bytes: a copy that finds other bytes reports the
source as corrupted instead of copying them."""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

from registry.models import ArtifactChecksum

# A B-tree index entry must fit in a third of a PostgreSQL page; longer (non-ASCII) paths go unrecorded.
_MAX_INDEXED_PATH_BYTES = 2000


@dataclass(frozen=True)
class Recorded:
    size: int
    mtime_ns: int | None
    inode: int | None
    sha256: str
    crc32: str

    def describes(self, stat: os.stat_result | None, size: int) -> bool:
        """True when the file is, by its stat, the one that was hashed."""
        if size != self.size:
            return False
        if stat is None:  # a backend without a filesystem stat: the size is all there is to compare
            return self.mtime_ns is None
        return stat.st_mtime_ns == self.mtime_ns and stat.st_ino == self.inode


def _indexable(path: str) -> bool:
    return len(path.encode("utf-8")) <= _MAX_INDEXED_PATH_BYTES


def record(entries: list[tuple[str, int, os.stat_result | None, str, str]]) -> None:
    """Upsert (path, size, stat or None, sha256, crc32) rows in one statement per batch."""
    rows = [
        ArtifactChecksum(path=path, size=size, sha256=sha256, crc32=crc32,
                         mtime_ns=stat.st_mtime_ns if stat is not None else None,
                         inode=stat.st_ino if stat is not None else None)
        for path, size, stat, sha256, crc32 in entries if _indexable(path)
    ]
    if rows:
        ArtifactChecksum.objects.bulk_create(
            rows, batch_size=2000, update_conflicts=True, unique_fields=["path"],
            update_fields=["size", "mtime_ns", "inode", "sha256", "crc32", "recorded_at"],
        )


def below(prefix: str) -> dict[str, Recorded]:
    """Entries under the directory `prefix`, keyed by path relative to it (one query)."""
    start = prefix.rstrip("/") + "/"
    rows = ArtifactChecksum.objects.filter(path__startswith=start).values_list(
        "path", "size", "mtime_ns", "inode", "sha256", "crc32")
    # startswith is case-insensitive on SQLite: keep only exact prefixes.
    return {row[0][len(start):]: Recorded(*row[1:]) for row in rows if row[0].startswith(start)}


class Crc32:
    """CRC-32 with hashlib's interface. Copies are verified with it (as object stores check transfers):
    several times faster than SHA-256, which stays the content's identity."""

    name = "crc32"

    def __init__(self, data: bytes = b""):
        self.value = zlib.crc32(data)

    def update(self, data) -> None:
        self.value = zlib.crc32(data, self.value)  # releases the GIL for large buffers

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


def get(path: str) -> Recorded | None:
    row = ArtifactChecksum.objects.filter(path=path).values_list("size", "mtime_ns", "inode", "sha256", "crc32").first()
    return Recorded(*row) if row else None


def forget(path: str) -> None:
    """Drop the entry of the file `path` and of everything below it as a directory."""
    ArtifactChecksum.objects.filter(path=path).delete()
    ArtifactChecksum.objects.filter(path__startswith=path.rstrip("/") + "/").delete()


def entries(paths: list[str]) -> dict[str, Recorded]:
    """The entries of these exact paths (one query)."""
    rows = ArtifactChecksum.objects.filter(path__in=paths).values_list(
        "path", "size", "mtime_ns", "inode", "sha256", "crc32")
    return {row[0]: Recorded(*row[1:]) for row in rows}
