"""Copying a directory of artifacts inside the store with verification: the copy half of the storage layer.

Every byte of every copy is read back and checksummed, and must match the source's checksum. The source's
checksums come from the artifact manifest (recorded when the file was uploaded) while the manifest still
describes the file, so a copy reads the source once (the kernel copy) and the copy once (verification);
otherwise the source is hashed as well. Verification uses CRC-32 by default (ARTIFACT_COPY_VERIFY=crc32, as
object stores check transfers) or SHA-256 (=sha256, about half as fast on this hardware); the SHA-256
identity of a verified copy is the source's.

On the filesystem a copy is a hard link of each source file when it can be (ARTIFACT_COPY_LINKS, on by default):
artifact files are never changed in place (storage.save_stream writes a new file and renames it over the old name,
deletes unlink a name), so a link shares immutable bytes and costs no I/O. A link whose file the manifest describes
(same size, mtime and inode) is verified by that record alone; one without a trusted record is hashed once, and
its entry then serves every later copy. A link refused by the filesystem (another device, a link-count limit, no
hard links) falls back to a byte copy of that file. ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC (a test hook that
stretches byte copies) turns links off.

Otherwise the kernel copies the bytes (`copy_file_range`, as `cp` does) in chunks while a second
thread checksums each chunk of the copy right behind it, and files are copied on a few threads, largest first
(the copy syscalls, hashlib and zlib release the GIL). On S3 each object is copied by the store itself
(CopyObject, UploadPartCopy above 5 GiB), conditional on the source's ETag, on a few threads: no byte passes through
the worker; the copy's size must match and, for copies made in one request, its ETag the source's; its checksums
are the manifest's (an object without a trusted record is read once and hashed). Other storage backends stream
through `save_stream`.

Callbacks: `on_bytes(n)` is called from copy threads (it must be thread-safe and may sleep, which is how tests
stretch a copy); `on_file()` and `on_tick()` are called on the caller's thread only, so they may use the
database."""
from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

from django.conf import settings

from registry import artifact_manifest, storage
from registry.artifact_manifest import Crc32, Recorded

_KERNEL_CHUNK = 8 * 1024 * 1024
# Files up to this size are read whole, written and read back: fewer syscalls than chunked copies.
_WHOLE_FILE_LIMIT = 4 * 1024 * 1024
_TICK_SECONDS = 0.2
_BATCH_FILES = 64
_COPY_THREADS = min(4, max(2, os.cpu_count() or 2))
_BATCH_BYTES = 16 * 1024 * 1024


class CopyMismatch(RuntimeError):
    """A copy's bytes differ from the source's (transient: the copy may be tried again)."""


class NotInstant(RuntimeError):
    """copy_tree(instant_only=True) met a file it cannot link with a trusted manifest record."""


# A link refused for one of these reasons is not an error: that file is copied byte by byte instead.
_LINK_REFUSED = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP,
                 errno.ENOSYS}


def links_enabled() -> bool:
    """Whether filesystem copies may be hard links (not when a throttle asks for a slow byte copy)."""
    return (settings.ARTIFACT_COPY_LINKS and not settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC
            and storage._filesystem() is not None and not storage.active_store().frozen)


class CorruptedArtifact(RuntimeError):
    """A source file no longer has the bytes recorded when it was uploaded although its size, modification
    time and inode are unchanged: copying it again would not help."""


@dataclass(frozen=True)
class _Plan:
    rel: str
    size: int
    source: str  # absolute filesystem paths
    target: str
    recorded: Recorded | None


@dataclass(frozen=True)
class _Copied:
    sha256: str
    crc32: str
    stat: os.stat_result


def copy_tree(source: str, destination: str, files: list[tuple[str, int]], *,
              on_bytes: Callable[[int], None] | None = None, on_file: Callable[[], None] | None = None,
              on_tick: Callable[[], None] | None = None, instant_only: bool = False) -> dict[str, str]:
    """Copy every (relative path, size) of `files` (from storage.walk_files(source)) from the directory `source`
    to `destination`, verify every copy, record the copies in the manifest and return {relative path: SHA-256}.

    The destination must be private to the caller until it publishes it (a version's location before READY):
    files are written in place, so a crash leaves partial files that the caller clears before trying again.

    With `instant_only`, every file must be linked and described by its manifest record (no byte copied, no byte
    hashed), or NotInstant is raised and the caller clears the destination."""
    source = storage.clean_relative_path(source)
    destination = storage.clean_relative_path(destination)
    storage.refuse_while_moving()
    recorded = artifact_manifest.below(source)
    on_bytes = on_bytes or _ignore
    fs = storage._filesystem()
    s3 = storage._object_store()
    if s3 is not None:
        if instant_only:
            raise NotInstant("an object store copies on the server, in a job")
        return _copy_server_side(s3, source, destination, files, recorded, on_bytes, on_file, on_tick)
    if fs is None:  # save_stream records each copy as it writes it
        return _copy_streamed(source, destination, files, recorded, on_bytes, on_file)
    # The two directories are confined once; `files` come from walk_files, which leaves out anything below them
    # that resolves outside the root.
    source_dir, target_dir = fs.path(source), fs.path(destination)
    plans = [_Plan(rel, size, os.path.join(source_dir, rel), os.path.join(target_dir, rel), recorded.get(rel))
             for rel, size in ((storage.clean_relative_path(rel), size) for rel, size in files)]
    link = "only" if instant_only else links_enabled()
    if instant_only and not links_enabled():
        raise NotInstant("hard links are off or not available for this store")
    results = _copy_planned(plans, on_bytes, on_file, on_tick, _COPY_THREADS, link)
    artifact_manifest.record([(posixpath.join(destination, rel), size, results[rel].stat, results[rel].sha256,
                               results[rel].crc32) for rel, size in files])
    return {rel: copied.sha256 for rel, copied in results.items()}


def _ignore(_n: int) -> None:
    pass


def _copy_planned(plans: list[_Plan], on_bytes, on_file, on_tick, threads: int, link) -> dict[str, _Copied]:
    """Copy threads hand each finished file to this thread through a queue, so progress is per file even for
    batched small files, and this thread alone calls on_file/on_tick."""
    verify = settings.ARTIFACT_COPY_VERIFY
    finished: queue.SimpleQueue = queue.SimpleQueue()
    results: dict[str, _Copied] = {}
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="artifact-copy") as pool:
        futures = [pool.submit(_copy_batch, batch, verify, on_bytes, finished.put, link) for batch in _batches(plans)]
        try:
            last_tick = time.monotonic()
            while len(results) < len(plans):
                try:
                    rel, copied = finished.get(timeout=_TICK_SECONDS)
                except queue.Empty:
                    for future in futures:
                        if future.done() and future.exception() is not None:
                            raise future.exception()
                else:
                    results[rel] = copied
                    if on_file is not None:
                        on_file()
                if on_tick is not None and time.monotonic() - last_tick >= _TICK_SECONDS:
                    last_tick = time.monotonic()
                    on_tick()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


def _batches(plans: list[_Plan]) -> list[list[_Plan]]:
    """One task per large file, largest first (so the threads finish together); small files in batches, so
    10,000 of them are a few hundred tasks, not 10,000."""
    large = sorted((plan for plan in plans if plan.size > _WHOLE_FILE_LIMIT), key=lambda plan: -plan.size)
    batches = [[plan] for plan in large]
    batch, batch_bytes = [], 0
    for plan in (plan for plan in plans if plan.size <= _WHOLE_FILE_LIMIT):
        batch.append(plan)
        batch_bytes += plan.size
        if len(batch) >= _BATCH_FILES or batch_bytes >= _BATCH_BYTES:
            batches.append(batch)
            batch, batch_bytes = [], 0
    if batch:
        batches.append(batch)
    return batches


def _copy_batch(batch: list[_Plan], verify: str, on_bytes: Callable[[int], None],
                report: Callable[[tuple[str, _Copied]], None], link=False) -> None:
    made: set[str] = set()
    for plan in batch:
        directory = os.path.dirname(plan.target)
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        copied = _link_one(plan, on_bytes, only=link == "only") if link else None
        report((plan.rel, copied or _copy_one(plan, verify, on_bytes)))


def _new_digest(kind: str):
    return Crc32() if kind == "crc32" else hashlib.sha256()


def _link_one(plan: _Plan, on_bytes: Callable[[int], None], *, only: bool) -> _Copied | None:
    """A hard link of the source at the target, verified; None when the filesystem refuses the link (the caller
    copies the bytes instead)."""
    _remove_if_present(plan.target)  # left by a crashed attempt: never write into (or link over) an old file
    try:
        os.link(plan.source, plan.target)  # follows a (confined) symlink: the link is to the file itself
    except OSError as exc:
        if exc.errno in _LINK_REFUSED:
            if only:
                raise NotInstant(f"{plan.rel}: the filesystem refused a hard link ({exc.strerror})") from None
            return None
        raise CopyMismatch(f"{plan.rel}: cannot link the source: {exc.strerror or exc}") from None
    # The target's own stat, taken after the link: whatever file got linked (even one renamed over the source
    # meanwhile) is the one judged by the record.
    stat = os.stat(plan.target)
    if stat.st_size != plan.size:
        raise CopyMismatch(f"{plan.rel}: the source changed size during the copy")
    if plan.recorded is not None and plan.recorded.describes(stat, plan.size):
        # Same inode, size and mtime as the file hashed at upload: the manifest vouches for these bytes.
        on_bytes(plan.size)
        return _Copied(plan.recorded.sha256, plan.recorded.crc32, stat)
    if only:
        raise NotInstant(f"{plan.rel}: no trusted checksum in the manifest")
    # No trusted record: hash the one shared file once (SHA-256 and CRC-32 for the copy's record).
    sha256, crc32 = hashlib.sha256(), Crc32()
    with open(plan.target, "rb") as handle:
        while chunk := handle.read(_KERNEL_CHUNK):
            sha256.update(chunk)
            crc32.update(chunk)
            on_bytes(len(chunk))
    if os.stat(plan.target).st_mtime_ns != stat.st_mtime_ns:
        raise CopyMismatch(f"{plan.rel}: the source was written during the copy")
    return _Copied(sha256.hexdigest(), crc32.hexdigest(), stat)


def _remove_if_present(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _copy_one(plan: _Plan, verify: str, on_bytes: Callable[[int], None]) -> _Copied:
    _remove_if_present(plan.target)  # a byte copy writes a new file, never into one a link may share
    stat = os.stat(plan.source)
    if stat.st_size != plan.size:
        raise CopyMismatch(f"{plan.rel}: the source changed size during the copy")
    known = plan.recorded if plan.recorded is not None and plan.recorded.describes(stat, plan.size) else None
    # Without a trusted record the source is hashed too: SHA-256 and CRC-32 for the copy's record.
    source_digests = None if known is not None else (hashlib.sha256(), Crc32())
    target_digest = _new_digest(verify)
    if plan.size <= _WHOLE_FILE_LIMIT:
        _copy_whole(plan, source_digests, target_digest)
        on_bytes(plan.size)
    else:
        _copy_chunked(plan, source_digests, target_digest, on_bytes)
    if known is not None:
        sha256, crc32 = known.sha256, known.crc32
    else:
        sha256, crc32 = source_digests[0].hexdigest(), source_digests[1].hexdigest()
    expected = crc32 if verify == "crc32" else sha256
    landed = target_digest.hexdigest()
    if landed != expected:
        if known is not None and _digest_of_file(plan.source, verify) == landed:
            raise CorruptedArtifact(
                f"The artifact {plan.rel} no longer matches the checksum recorded when it was uploaded "
                f"({verify} {expected}, stored bytes {landed}): the stored file is corrupted.")
        raise CopyMismatch(f"verification failed for {plan.rel}: the copy's {verify} differs from the source's")
    return _Copied(sha256, crc32, os.stat(plan.target))


def _copy_whole(plan: _Plan, source_digests, target_digest) -> None:
    with open(plan.source, "rb") as handle:
        data = handle.read()
    if len(data) != plan.size:
        raise CopyMismatch(f"{plan.rel}: read {len(data)} bytes, expected {plan.size}")
    for digest in source_digests or ():
        digest.update(data)
    with open(plan.target, "xb") as handle:
        handle.write(data)
    with open(plan.target, "rb") as handle:  # verify what landed, not what was meant to
        target_digest.update(handle.read())


def _copy_chunked(plan: _Plan, source_digests, target_digest, on_bytes: Callable[[int], None]) -> None:
    """The kernel copies chunk after chunk; a checksum thread reads each finished chunk of the copy (and of the
    source, when its checksums are not known) right behind it, so copying and checksumming overlap."""
    finished: queue.SimpleQueue = queue.SimpleQueue()
    offset = 0
    with open(plan.source, "rb") as fin, open(plan.target, "x+b") as fout:
        reads = [(fout.fileno(), [target_digest])]
        if source_digests is not None:
            reads.append((fin.fileno(), list(source_digests)))
        checker = _ChunkChecker(reads, finished)
        thread = threading.Thread(target=checker.run, name="artifact-check", daemon=True)
        thread.start()
        try:
            while n := _kernel_copy_chunk(fin.fileno(), fout.fileno(), offset):
                finished.put((offset, n))
                offset += n
                on_bytes(n)
        finally:
            finished.put(None)
            thread.join()
        if checker.error is not None:
            raise checker.error
    if offset != plan.size:
        raise CopyMismatch(f"{plan.rel}: copied {offset} bytes, expected {plan.size}")


def _kernel_copy_chunk(source_fd: int, target_fd: int, offset: int) -> int:
    try:
        return os.copy_file_range(source_fd, target_fd, _KERNEL_CHUNK, offset, offset)
    except OSError:  # not supported between these files: through user space
        data = os.pread(source_fd, _KERNEL_CHUNK, offset)
        os.pwrite(target_fd, data, offset)
        return len(data)


class _ChunkChecker:
    """Reads (offset, length) chunks of some files into one buffer and feeds them to their digests."""

    def __init__(self, reads: list[tuple[int, list]], finished: queue.SimpleQueue):
        self.reads = reads
        self.finished = finished
        self.error: BaseException | None = None
        self.buffer = memoryview(bytearray(_KERNEL_CHUNK))

    def run(self) -> None:
        while (item := self.finished.get()) is not None:
            if self.error is not None:
                continue  # drain until the copier stops
            offset, length = item
            chunk = self.buffer[:length]
            try:
                for fd, digests in self.reads:
                    got = os.preadv(fd, [chunk], offset)
                    if got != length:
                        raise CopyMismatch(f"read back {got} of {length} bytes at offset {offset}")
                    for digest in digests:
                        digest.update(chunk)
            except BaseException as exc:  # handed over to the copier's thread
                self.error = exc


def _digest_of_file(path: str, kind: str) -> str:
    digest = _new_digest(kind)
    with open(path, "rb") as handle:
        while chunk := handle.read(storage.CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_streamed(source: str, destination: str, files: list[tuple[str, int]], recorded: dict[str, Recorded],
                   on_bytes, on_file) -> dict[str, str]:
    """Backends without a filesystem: stream each file through save_stream (which hashes what it reads and
    records the copy), then read the copy back and hash it again."""
    checksums = {}
    for rel, size in files:
        target = posixpath.join(destination, rel)
        with storage.open_read(posixpath.join(source, rel)) as handle:
            written, read_sha256 = storage.save_stream(target, handle, on_chunk=on_bytes)
        if written != size or storage.sha256_of(target) != read_sha256:
            raise CopyMismatch(f"verification failed for {rel}")
        known = recorded.get(rel)
        if known is not None and known.describes(None, size) and known.sha256 != read_sha256:
            raise CorruptedArtifact(f"The artifact {rel} no longer matches the SHA-256 recorded when it was "
                                    "uploaded: the stored file is corrupted.")
        checksums[rel] = read_sha256
        if on_file is not None:
            on_file()
    return checksums


def _copy_server_side(s3, source: str, destination: str, files: list[tuple[str, int]],
                      recorded: dict[str, Recorded], on_bytes, on_file, on_tick) -> dict[str, str]:
    def one(item: tuple[str, int]) -> tuple[str, int, str, str]:
        rel, size = item
        src, dst = posixpath.join(source, rel), posixpath.join(destination, rel)
        before = s3.head(src)
        if before is None or before["ContentLength"] != size:
            raise CopyMismatch(f"{rel}: the source changed or vanished during the copy")
        s3.copy(src, dst, if_match=before["ETag"])  # exactly the object looked at, or an error
        after = s3.head(dst)
        if after is None or after["ContentLength"] != size or (
                "-" not in before["ETag"] and "-" not in after["ETag"] and before["ETag"] != after["ETag"]):
            raise CopyMismatch(f"verification failed for {rel}: the copy's size or ETag differs from the source's")
        known = recorded.get(rel)
        if known is not None and known.describes(None, size):
            sha256, crc32 = known.sha256, known.crc32
        else:  # no trusted record: read the copy once and hash it
            sha256, crc32 = hashlib.sha256(), Crc32()
            with storage.open_read(dst) as handle:
                while chunk := handle.read(storage.CHUNK_SIZE):
                    sha256.update(chunk)
                    crc32.update(chunk)
            sha256, crc32 = sha256.hexdigest(), crc32.hexdigest()
        on_bytes(size)
        return rel, size, sha256, crc32

    checksums: dict[str, str] = {}
    rows = []
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="artifact-s3-copy") as pool:
        pending = {pool.submit(one, item) for item in files}
        try:
            # Files are counted as they finish (not in list order), and this thread ticks while one large object
            # is being copied by the store, so the job's lease is renewed throughout.
            while pending:
                finished, pending = wait(pending, timeout=_TICK_SECONDS, return_when=FIRST_COMPLETED)
                for future in finished:
                    rel, size, sha256, crc32 = future.result()
                    checksums[rel] = sha256
                    rows.append((posixpath.join(destination, rel), size, None, sha256, crc32))
                    if on_file is not None:
                        on_file()
                if on_tick is not None:
                    on_tick()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    artifact_manifest.record(rows)
    return checksums
