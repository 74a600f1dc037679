"""With storage_copy.py, the only module that touches artifact bytes. Everything goes through a Django storage
backend (the filesystem under ARTIFACT_ROOT by default, S3-compatible object storage with
ARTIFACT_STORE=s3://<bucket>/<prefix>: registry.storage_s3), and every client-supplied path is normalised and
confined to the artifact root before use. Every file written is recorded with its SHA-256 in
the artifact manifest (registry.artifact_manifest) and every deletion forgets it."""
from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from stat import S_ISREG
from typing import IO, Iterator
from urllib.parse import unquote

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from registry import artifact_manifest
from registry.errors import InvalidParameter, NotFound, TemporarilyUnavailable

CHUNK_SIZE = 1024 * 1024
MAX_PATH_LENGTH = 1024
# In-progress uploads are written beside their target under this prefix and renamed into place, so a reader
# never sees half a file and a failed upload leaves the previous content intact. Listings hide them.
PARTIAL_PREFIX = ".partial-upload-"


def clean_relative_path(raw: object) -> str:
    """A normalised path relative to the artifact root, or InvalidParameter.

    Refused: absolute paths, `..` and `.` segments, backslashes, `#`, NUL and control characters, in the raw
    value and in every percent-decoded form of it (double encoding included). The value returned is the one
    received (not decoded further): a name that merely contains `%` is stored as spelled."""
    if not isinstance(raw, str):
        raise InvalidParameter("Artifact path must be a string.")
    if len(raw) > MAX_PATH_LENGTH:
        raise InvalidParameter(f"Artifact path is longer than {MAX_PATH_LENGTH} characters.")
    value = raw
    for _ in range(5):
        _reject_unsafe(value, raw)
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    else:
        raise InvalidParameter("Artifact path is encoded too many times.")
    return "/".join(p for p in raw.split("/") if p)


def _reject_unsafe(value: str, raw: str) -> None:
    shown = raw[:200].encode("unicode_escape").decode("ascii")
    if "\\" in value or "#" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidParameter(
            f"Invalid artifact path '{shown}': backslashes, '#' and control characters are not allowed."
        )
    if value.startswith("/"):
        raise InvalidParameter(f"Invalid artifact path '{shown}': absolute paths are not allowed.")
    if any(part in (".", "..") for part in value.split("/")):
        raise InvalidParameter(f"Invalid artifact path '{shown}': '.' and '..' segments are not allowed.")


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


def artifact_storage() -> Storage:
    return _backend(active_store().url)


@lru_cache(maxsize=4)
def _backend(url: str) -> Storage:
    if url:
        from registry.storage_s3 import S3ArtifactStorage  # boto3 is needed only by deployments that use S3

        return S3ArtifactStorage(url)
    backend = settings.ARTIFACT_STORAGE_BACKEND
    if backend == "django.core.files.storage.FileSystemStorage":
        return ArtifactFileSystemStorage()
    return import_string(backend)()


@dataclass(frozen=True)
class ActiveStore:
    url: str  # "" = the filesystem (or ARTIFACT_STORAGE_BACKEND)
    frozen: bool  # a move's last pass is running: writes wait
    moving_to: str = ""


_active: dict = {"store": None, "at": 0.0}


def active_store() -> ActiveStore:
    """The store artifacts are read from and written to: the switch row that `manage.py artifacts_migrate` writes
    when it has moved them (registry.models.ArtifactStoreSwitch), else ARTIFACT_STORE. Read from the database at
    most every ARTIFACT_STORE_RECHECK_SECONDS per process, so every web process and worker follows a switch
    within that time without a restart."""
    now = time.monotonic()
    if _active["store"] is None or now - _active["at"] >= settings.ARTIFACT_STORE_RECHECK_SECONDS:
        _active.update(store=_read_switch(), at=now)
    return _active["store"]


def _read_switch() -> ActiveStore:
    from django.db import DatabaseError

    from registry.models import ArtifactStoreSwitch

    try:
        row = ArtifactStoreSwitch.objects.filter(pk=1).values_list("store", "frozen", "moving_to").first()
    except DatabaseError:  # not migrated yet (the first migrate): nothing can have been moved
        row = None
    if row is None:
        return ActiveStore(settings.ARTIFACT_STORE, False)
    return ActiveStore(*row)


def forget_active_store() -> None:
    """Read the switch row again at the next use (after a switch in this process, and in tests)."""
    _active.update(store=None, at=0.0)


class StoreMoving(TemporarilyUnavailable):
    """Artifacts are being moved to another store (the last pass of `manage.py artifacts_migrate`): writes wait."""

def refuse_while_moving() -> None:
    if active_store().frozen:
        raise StoreMoving("Artifacts are being moved to another store; retry in a minute.")


@receiver(setting_changed)
def _reset_storage(*, setting, **kwargs):
    # Tests (and override_settings) point the store at another root; the cached backend must follow.
    if setting in ("ARTIFACT_ROOT", "ARTIFACT_STORAGE_BACKEND", "ARTIFACT_STORE", "AWS_S3_ENDPOINT_URL",
                   "ARTIFACT_STORE_RECHECK_SECONDS"):
        _backend.cache_clear()
        forget_active_store()


def _filesystem() -> ArtifactFileSystemStorage | None:
    storage = artifact_storage()
    return storage if isinstance(storage, FileSystemStorage) else None


def _object_store():
    """The S3 backend when the store is one (registry.storage_s3.S3ArtifactStorage), else None."""
    storage = artifact_storage()
    return storage if getattr(storage, "is_object_store", False) else None


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the listed directory
    is_dir: bool
    size: int | None


def list_dir(path: str) -> list[Entry]:
    """Entries directly below `path` (empty when it is missing or a file). Entries that resolve outside the
    root (a symlink planted in the store) and in-progress uploads are left out."""
    storage = artifact_storage()
    path = clean_relative_path(path)
    s3 = _object_store()
    if s3 is not None:  # one paged listing gives the sizes too
        dirs, sized = s3.scan(path)
        return [Entry(name, True, None) for name in sorted(dirs)] + [
            Entry(name, False, size) for name, size in sorted(sized) if not name.startswith(PARTIAL_PREFIX)]
    try:
        dirs, files = storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    entries = []
    for name in sorted(dirs):
        if _confined(posixpath.join(path, name)):
            entries.append(Entry(name, True, None))
    for name in sorted(files):
        if name.startswith(PARTIAL_PREFIX):
            continue
        try:
            entries.append(Entry(name, False, storage.size(posixpath.join(path, name))))
        except (InvalidParameter, OSError):
            continue  # a dangling or escaping symlink: not an artifact
    return entries


def _confined(path: str) -> bool:
    fs = _filesystem()
    if fs is None:
        return True
    try:
        fs.path(path)
    except InvalidParameter:
        return False
    return True


def walk_files(path: str) -> Iterator[tuple[str, int]]:
    """(path relative to `path`, size) of every file below `path`, depth first (directories first, then
    files, each sorted by name). Anything that resolves outside the root and in-progress uploads are left
    out, as in list_dir."""
    path = clean_relative_path(path)
    fs = _filesystem()
    if fs is not None:
        try:
            top = fs.path(path)
        except InvalidParameter:
            return
        yield from _scan_files(top, "", os.path.realpath(fs.location))
        return
    s3 = _object_store()
    if s3 is not None:
        found = [(rel, size) for rel, size in s3.walk(path) if not posixpath.basename(rel).startswith(PARTIAL_PREFIX)]
        yield from sorted(found, key=lambda item: _depth_first(item[0]))
        return
    for entry in list_dir(path):
        child = posixpath.join(path, entry.path) if path else entry.path
        if entry.is_dir:
            for sub, size in walk_files(child):
                yield posixpath.join(entry.path, sub), size
        else:
            yield entry.path, entry.size or 0


def _depth_first(rel: str) -> list[tuple[int, str]]:
    """Sort key of walk_files' order: at each level, directories (0) before files (1), each by name."""
    *dirs, name = rel.split("/")
    return [(0, part) for part in dirs] + [(1, name)]


def _scan_files(directory: str, prefix: str, root: str) -> Iterator[tuple[str, int]]:
    """walk_files on the filesystem with one scandir per directory; only symlinks need resolving to be
    confined (a plain entry below a confined directory is inside the root)."""
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    dirs, files = [], []
    for entry in entries:
        if entry.is_symlink():
            real = os.path.realpath(entry.path)
            if not real.startswith(root + os.sep):
                continue
        try:
            if entry.is_dir():
                dirs.append(entry)
            elif entry.is_file() and not entry.name.startswith(PARTIAL_PREFIX):
                files.append((entry.name, entry.stat().st_size))
        except OSError:
            continue  # vanished or dangling: not an artifact
    for entry in dirs:
        yield from _scan_files(entry.path, f"{prefix}{entry.name}/", root)
    for name, size in files:
        yield f"{prefix}{name}", size


def exists(path: str) -> bool:
    return artifact_storage().exists(clean_relative_path(path))


def is_file(path: str) -> bool:
    path = clean_relative_path(path)
    fs = _filesystem()
    if fs is not None:
        return os.path.isfile(fs.path(path))
    s3 = _object_store()
    if s3 is not None:
        return s3.is_file(path)
    return artifact_storage().exists(path) and not list_dir(path)


def is_dir(path: str) -> bool:
    path = clean_relative_path(path)
    fs = _filesystem()
    if fs is not None:
        return os.path.isdir(fs.path(path))
    s3 = _object_store()
    if s3 is not None:
        return s3.is_dir(path)
    return bool(list_dir(path))


def _missing(path: str) -> NotFound:
    return NotFound(f"No artifact at path '{path}'.")


def open_read(path: str) -> IO[bytes]:
    """An open binary file; NotFound when there is no file at `path` (a directory is not a file)."""
    path = clean_relative_path(path)
    try:
        return artifact_storage().open(path, "rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise _missing(path) from None


def download_redirect(path: str, *, content_type: str) -> str | None:
    """With ARTIFACT_DOWNLOAD_REDIRECT on an object store: a presigned URL (ARTIFACT_DOWNLOAD_REDIRECT_SECONDS) of
    the file at `path`, which the caller has authorized; NotFound when it is no file. None: stream it instead."""
    s3 = _object_store() if settings.ARTIFACT_DOWNLOAD_REDIRECT else None
    if s3 is None:
        return None
    path = clean_relative_path(path)
    if not s3.is_file(path):
        raise _missing(path)
    return s3.presigned_get(path, filename=posixpath.basename(path), content_type=content_type,
                            expires=settings.ARTIFACT_DOWNLOAD_REDIRECT_SECONDS)


def size(path: str) -> int:
    path = clean_relative_path(path)
    try:
        return artifact_storage().size(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(path) from None


class IncompleteUpload(InvalidParameter):
    """The stream ended before the announced number of bytes arrived (the client went away)."""


class _HashingReader:
    """Wraps a stream, counting and hashing what passes through so a copy can be verified without a
    second read of the source."""

    def __init__(self, stream: IO[bytes], on_chunk=None, expected_size: int | None = None):
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.crc32 = artifact_manifest.Crc32()
        self.bytes = 0
        self.on_chunk = on_chunk
        self.expected_size = expected_size

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n if n and n > 0 else CHUNK_SIZE)
        if data:
            self.sha256.update(data)
            self.crc32.update(data)
            self.bytes += len(data)
            if self.on_chunk:
                self.on_chunk(len(data))
        elif self.expected_size is not None and self.bytes < self.expected_size:
            raise IncompleteUpload(
                f"Upload incomplete: received {self.bytes} of {self.expected_size} bytes."
            )
        return data


def save_stream(path: str, stream: IO[bytes], *, on_chunk=None, expected_size: int | None = None,
                before_commit=None) -> tuple[int, str]:
    """Write `stream` to `path` in chunks (never whole in memory); returns (bytes, sha256 hex).

    With `expected_size`, a stream that ends early is an IncompleteUpload and nothing is kept. On the
    filesystem the bytes go to a hidden sibling first and are renamed into place once complete;
    `before_commit()` runs just before that rename and may raise to keep the old file (a long upload re-checks
    that the path did not become a registered version's file meanwhile)."""
    path = clean_relative_path(path)
    if not path:
        raise InvalidParameter("Artifact path must name a file.")
    reader = _HashingReader(stream, on_chunk, expected_size)
    storage = artifact_storage()
    fs, s3 = _filesystem(), _object_store()
    directory, name = posixpath.split(path)
    # On S3 an object appears whole when its upload completes; a hidden object and a server-side copy are
    # needed only to re-check before it replaces the old one.
    hidden = fs is not None or (s3 is not None and before_commit is not None)
    target = posixpath.join(directory, f"{PARTIAL_PREFIX}{uuid.uuid4().hex}") if hidden else path
    try:
        if fs is not None and os.path.isdir(fs.path(path)):
            raise InvalidParameter(f"Cannot write artifact '{path}': a directory of that name exists.")
        if s3 is not None:
            _refuse_object_clash(s3, path)
        refuse_while_moving()
        storage.save(target, _ChunkedFile(reader))
        stat = None
        if fs is not None:
            # Stat the hidden file before the rename (which keeps its inode and mtime), so a concurrent upload
            # of the same path can never lend this checksum its own file's identity.
            stat = os.stat(fs.path(target))
            if before_commit is not None:
                before_commit()
            refuse_while_moving()  # a move's last pass may have begun while the bytes streamed
            os.replace(fs.path(target), fs.path(path))
        elif hidden:
            before_commit()
            s3.copy(target, path)
            _discard(storage, target)
    except BaseException as exc:
        _discard(storage, target)
        if isinstance(exc, (FileExistsError, NotADirectoryError, IsADirectoryError)):
            raise InvalidParameter(f"Cannot write artifact '{path}': a parent of it is a file.") from None
        if isinstance(exc, OSError) and not isinstance(exc, PermissionError):
            raise InvalidParameter(f"Cannot write artifact '{path}': {exc.strerror or exc}.") from None
        raise
    digest = reader.sha256.hexdigest()
    artifact_manifest.record([(path, reader.bytes, stat, digest, reader.crc32.hexdigest())])
    return reader.bytes, digest


def _refuse_object_clash(s3, path: str) -> None:
    """An object store has no directories, but the artifact tree keeps the filesystem's rules: no file named
    like a directory, nothing below a file."""
    if s3.is_dir(path):
        raise InvalidParameter(f"Cannot write artifact '{path}': a directory of that name exists.")
    parent = posixpath.dirname(path)
    while parent:
        if s3.is_file(parent):
            raise InvalidParameter(f"Cannot write artifact '{path}': a parent of it is a file.")
        parent = posixpath.dirname(parent)


def sweep_partial_uploads(*, older_than_seconds: float) -> int:
    """Remove the hidden partial files of uploads that died with their process (a killed web worker never runs
    save_stream's cleanup); returns how many. A partial counts as dead when nothing was written to it for
    `older_than_seconds`: a live upload writes every chunk as it arrives, so its file stays fresh. Only the
    filesystem has partial files; on an object store the parts of multipart uploads never completed are what a
    killed upload leaves, and those older than ARTIFACT_S3_ABANDONED_UPLOAD_HOURS are aborted."""
    s3 = _object_store()
    if s3 is not None:
        return s3.abort_abandoned_uploads(older_than_seconds=settings.ARTIFACT_S3_ABANDONED_UPLOAD_HOURS * 3600)
    fs = _filesystem()
    if fs is None:
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for directory, _, files in os.walk(fs.location):  # symlinked directories are not followed out of the root
        for name in files:
            if not name.startswith(PARTIAL_PREFIX):
                continue
            full = os.path.join(directory, name)
            try:
                info = os.lstat(full)
                if S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                    os.unlink(full)
                    removed += 1
            except FileNotFoundError:
                continue  # renamed into place or removed meanwhile
    return removed


def _discard(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except (OSError, InvalidParameter):
        pass


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


def flush_to_disk() -> None:
    """Make what was written durable before it is declared complete (filesystem backends only; object
    stores acknowledge durable writes themselves)."""
    if _filesystem() is not None:
        os.sync()


def flush_tree(path: str) -> None:
    """Make the directory entries below `path` durable (a tree of hard links: the files' bytes already are)."""
    fs = _filesystem()
    if fs is None:
        return
    for directory, _, _ in os.walk(fs.path(path)):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open_read(path) as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recorded_sha256(path: str) -> str | None:
    """The SHA-256 recorded when the file at `path` was written, while the manifest still describes it (same
    size, and on the filesystem the same mtime and inode); None when unknown or stale."""
    path = clean_relative_path(path)
    entry = artifact_manifest.get(path)
    if entry is None:
        return None
    fs = _filesystem()
    try:
        if fs is not None:
            stat = os.stat(fs.path(path))
            return entry.sha256 if entry.describes(stat, stat.st_size) else None
        return entry.sha256 if entry.describes(None, artifact_storage().size(path)) else None
    except (OSError, InvalidParameter):
        return None


def delete(path: str) -> None:
    path = clean_relative_path(path)
    refuse_while_moving()
    storage = artifact_storage()
    if storage.exists(path) and is_file(path):
        storage.delete(path)
    artifact_manifest.forget(path)


def delete_tree(path: str) -> int:
    """Delete `path` (a file or a directory and everything below it); returns how many files were removed.
    Safe to repeat. Symlinks below `path` are removed, never followed."""
    path = clean_relative_path(path)
    if not path:
        raise InvalidParameter("Refusing to delete the whole artifact root.")
    refuse_while_moving()
    artifact_manifest.forget(path)
    fs = _filesystem()
    s3 = _object_store()
    if s3 is not None:
        return s3.delete_tree(path)
    if fs is None:
        storage = artifact_storage()
        if is_file(path):
            storage.delete(path)
            return 1
        removed = 0
        for rel, _ in list(walk_files(path)):
            storage.delete(posixpath.join(path, rel))
            removed += 1
        return removed
    full = fs.path(path)
    if os.path.islink(full) or os.path.isfile(full):
        os.unlink(full)
        return 1
    if not os.path.isdir(full):
        return 0
    removed = sum(len(files) for _, _, files in os.walk(full))
    shutil.rmtree(full, ignore_errors=True)
    return removed
