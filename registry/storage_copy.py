"""Copying a directory of artifacts inside the store with verification: the copy half of the storage layer.

Every byte of every copy is read back and checksummed, and must match the source's checksum. The source's
checksums come from the artifact manifest (recorded when the file was uploaded) while the manifest still
describes the file, so a copy reads the source once (the kernel copy) and the copy once (verification);
otherwise the source is hashed as well. Verification uses CRC-32 by default (ARTIFACT_COPY_VERIFY=crc32, as
object stores check transfers) or SHA-256 (=sha256, about half as fast on this hardware); the SHA-256
identity of a verified copy is the source's.

On the filesystem the kernel copies the bytes (`copy_file_range`, as `cp` does) in chunks while a second
thread checksums each chunk of the copy right behind it, and files are copied on a few threads, largest first
(the copy syscalls, hashlib and zlib release the GIL). Other storage backends stream through `save_stream`.

Callbacks: `on_bytes(n)` is called from copy threads (it must be thread-safe and may sleep, which is how tests
stretch a copy); `on_file()` and `on_tick()` are called on the caller's thread only, so they may use the
database."""
from __future__ import annotations

import hashlib
import os
import posixpath
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
              on_tick: Callable[[], None] | None = None) -> dict[str, str]:
    """Copy every (relative path, size) of `files` (from storage.walk_files(source)) from the directory `source`
    to `destination`, verify every copy, record the copies in the manifest and return {relative path: SHA-256}.

    The destination must be private to the caller until it publishes it (a version's location before READY):
    files are written in place, so a crash leaves partial files that the caller clears before trying again."""
    source = storage.clean_relative_path(source)
    destination = storage.clean_relative_path(destination)
    recorded = artifact_manifest.below(source)
    on_bytes = on_bytes or _ignore
    fs = storage._filesystem()
    if fs is None:  # save_stream records each copy as it writes it
        return _copy_streamed(source, destination, files, recorded, on_bytes, on_file)
    # The two directories are confined once; `files` come from walk_files, which leaves out anything below them
    # that resolves outside the root.
    source_dir, target_dir = fs.path(source), fs.path(destination)
    plans = [_Plan(rel, size, os.path.join(source_dir, rel), os.path.join(target_dir, rel), recorded.get(rel))
             for rel, size in ((storage.clean_relative_path(rel), size) for rel, size in files)]
    results = _copy_planned(plans, on_bytes, on_file, on_tick, _COPY_THREADS)
    artifact_manifest.record([(posixpath.join(destination, rel), size, results[rel].stat, results[rel].sha256,
                               results[rel].crc32) for rel, size in files])
    return {rel: copied.sha256 for rel, copied in results.items()}


def _ignore(_n: int) -> None:
    pass


def _copy_planned(plans: list[_Plan], on_bytes, on_file, on_tick, threads: int) -> dict[str, _Copied]:
    """Copy threads hand each finished file to this thread through a queue, so progress is per file even for
    batched small files, and this thread alone calls on_file/on_tick."""
    verify = settings.ARTIFACT_COPY_VERIFY
    finished: queue.SimpleQueue = queue.SimpleQueue()
    results: dict[str, _Copied] = {}
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="artifact-copy") as pool:
        futures = [pool.submit(_copy_batch, batch, verify, on_bytes, finished.put) for batch in _batches(plans)]
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
                report: Callable[[tuple[str, _Copied]], None]) -> None:
    made: set[str] = set()
    for plan in batch:
        directory = os.path.dirname(plan.target)
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        report((plan.rel, _copy_one(plan, verify, on_bytes)))


def _new_digest(kind: str):
    return Crc32() if kind == "crc32" else hashlib.sha256()


def _copy_one(plan: _Plan, verify: str, on_bytes: Callable[[int], None]) -> _Copied:
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
    with open(plan.target, "wb") as handle:
        handle.write(data)
    with open(plan.target, "rb") as handle:  # verify what landed, not what was meant to
        target_digest.update(handle.read())


def _copy_chunked(plan: _Plan, source_digests, target_digest, on_bytes: Callable[[int], None]) -> None:
    """The kernel copies chunk after chunk; a checksum thread reads each finished chunk of the copy (and of the
    source, when its checksums are not known) right behind it, so copying and checksumming overlap."""
    finished: queue.SimpleQueue = queue.SimpleQueue()
    offset = 0
    with open(plan.source, "rb") as fin, open(plan.target, "w+b") as fout:
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
