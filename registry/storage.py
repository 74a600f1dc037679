"""The only module that touches artifact bytes. Everything goes through a Django storage backend (the
filesystem by default, S3-compatible storage when configured), and every client-supplied path is normalised
and confined to the artifact root before use."""
from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Iterator
from urllib.parse import unquote

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.module_loading import import_string

from registry.errors import InvalidParameter

CHUNK_SIZE = 1024 * 1024


def clean_relative_path(raw: object) -> str:
    """A normalised path relative to the artifact root, or InvalidParameter.

    Refused: absolute paths, `..` and `.` segments, backslashes, `#`, NUL and control characters, in the raw
    value and in every percent-decoded form of it (double encoding included)."""
    if not isinstance(raw, str):
        raise InvalidParameter("Artifact path must be a string.")
    value = raw
    for _ in range(5):
        _reject_unsafe(value, raw)
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    else:
        raise InvalidParameter("Artifact path is encoded too many times.")
    value = value.strip("/") if not raw.startswith("/") else value
    if value.startswith("/"):
        raise InvalidParameter(f"Invalid artifact path {raw[:200]!r}: absolute paths are not allowed.")
    parts = [p for p in value.split("/") if p != ""]
    if any(p in (".", "..") for p in parts):
        raise InvalidParameter(f"Invalid artifact path {raw[:200]!r}: '.' and '..' segments are not allowed.")
    return "/".join(parts)


def _reject_unsafe(value: str, raw: str) -> None:
    if "\\" in value or "#" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidParameter(
            f"Invalid artifact path {raw[:200]!r}: backslashes, '#' and control characters are not allowed."
        )


class ArtifactFileSystemStorage(FileSystemStorage):
    """Filesystem storage that overwrites (artifacts are re-uploaded under the same name) and refuses to
    follow a symlink out of the root."""

    def __init__(self, **kwargs):
        kwargs.setdefault("location", str(settings.ARTIFACT_ROOT))
        kwargs.setdefault("allow_overwrite", True)
        super().__init__(**kwargs)

    def path(self, name: str) -> str:
        full = super().path(name)
        root = os.path.realpath(self.location)
        real = os.path.realpath(full)
        if real != root and not real.startswith(root + os.sep):
            raise InvalidParameter("Invalid artifact path: it resolves outside the artifact root.")
        return full


@lru_cache(maxsize=1)
def artifact_storage() -> Storage:
    backend = settings.ARTIFACT_STORAGE_BACKEND
    if backend == "django.core.files.storage.FileSystemStorage":
        return ArtifactFileSystemStorage()
    return import_string(backend)()


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the listed directory's root
    is_dir: bool
    size: int | None


def list_dir(path: str) -> list[Entry]:
    storage = artifact_storage()
    path = clean_relative_path(path)
    try:
        dirs, files = storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    entries = [Entry(d, True, None) for d in sorted(dirs)]
    entries += [Entry(f, False, storage.size(posixpath.join(path, f))) for f in sorted(files)]
    return entries


def walk_files(path: str) -> Iterator[tuple[str, int]]:
    """(path relative to `path`, size) of every file below `path`, depth first."""
    path = clean_relative_path(path)
    for entry in list_dir(path):
        child = posixpath.join(path, entry.path) if path else entry.path
        if entry.is_dir:
            for sub, size in walk_files(child):
                yield posixpath.join(entry.path, sub), size
        else:
            yield entry.path, entry.size or 0


def exists(path: str) -> bool:
    return artifact_storage().exists(clean_relative_path(path))


def is_file(path: str) -> bool:
    path = clean_relative_path(path)
    storage = artifact_storage()
    if isinstance(storage, FileSystemStorage):
        return os.path.isfile(storage.path(path))
    return storage.exists(path) and not list_dir(path)


def open_read(path: str) -> IO[bytes]:
    return artifact_storage().open(clean_relative_path(path), "rb")


def size(path: str) -> int:
    return artifact_storage().size(clean_relative_path(path))


class _HashingReader:
    """Wraps a stream, counting and hashing what passes through so a copy can be verified without a
    second read of the source."""

    def __init__(self, stream: IO[bytes], on_chunk=None):
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self.on_chunk = on_chunk

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n if n and n > 0 else CHUNK_SIZE)
        if data:
            self.sha256.update(data)
            self.bytes += len(data)
            if self.on_chunk:
                self.on_chunk(len(data))
        return data


def save_stream(path: str, stream: IO[bytes], *, on_chunk=None) -> tuple[int, str]:
    """Write `stream` to `path` in chunks (never whole in memory); returns (bytes, sha256 hex)."""
    path = clean_relative_path(path)
    if not path:
        raise InvalidParameter("Artifact path must name a file.")
    reader = _HashingReader(stream, on_chunk)
    artifact_storage().save(path, _ChunkedFile(reader))
    return reader.bytes, reader.sha256.hexdigest()


class _ChunkedFile(File):
    def __init__(self, reader: _HashingReader):
        super().__init__(reader, name="upload")
        self._reader = reader

    def chunks(self, chunk_size=None):
        while True:
            data = self._reader.read(chunk_size or CHUNK_SIZE)
            if not data:
                return
            yield data

    @property
    def size(self):  # unknown up front; storage backends that need it read chunks instead
        return None

    def multiple_chunks(self, chunk_size=None):
        return True


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open_read(path) as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def delete(path: str) -> None:
    path = clean_relative_path(path)
    storage = artifact_storage()
    if storage.exists(path) and is_file(path):
        storage.delete(path)


def delete_tree(path: str) -> int:
    """Delete every file below `path`; returns how many were removed. Safe to repeat."""
    path = clean_relative_path(path)
    if not path:
        raise InvalidParameter("Refusing to delete the whole artifact root.")
    storage = artifact_storage()
    removed = 0
    for rel, _ in list(walk_files(path)):
        storage.delete(posixpath.join(path, rel))
        removed += 1
    if isinstance(storage, FileSystemStorage):
        root = storage.path(path)
        for dirpath, dirnames, _ in sorted(os.walk(root, topdown=False), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    return removed
