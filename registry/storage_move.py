"""Moving a filesystem deployment's artifacts onto S3 (`manage.py artifacts_migrate --to s3://bucket/prefix`): the
MOVE_ARTIFACTS job, then the switch that every process follows (registry.storage.active_store).

Artifact locations are relative to the store (`mlflow-artifacts:/0/<run>/artifacts/...`, `registry/<uid>/...`) and
the layout is the same on both backends, so a move copies every file to the same key under the prefix and then
switches which store those paths name; no version, run or logged model row changes.

1. Copy: every file under ARTIFACT_ROOT is uploaded with its SHA-256 as object metadata (`x-amz-meta-sha256`),
   hashed while it streams and compared with the manifest's record (a file without a trusted record is hashed
   first and recorded). Each object is then checked on the server (size and recorded SHA-256). An object already
   there with the file's size and SHA-256 is skipped: that is how a rerun after a crash resumes.
2. Freeze: the switch row is marked frozen; writes (uploads, deletes, copies, job claims) wait with 503 / a retry,
   the move waits until every process has seen it (ARTIFACT_STORE_RECHECK_SECONDS) and running jobs have ended.
3. Last pass: the same sync again (files written or deleted during step 1), and objects whose file is gone are
   deleted from the prefix (which was empty when the move began).
4. Switch, in one transaction: the row names the S3 store and is no longer frozen; the manifest's entries drop
   their filesystem identity (inode, mtime), which an object has not. The files under ARTIFACT_ROOT are left as
   they were (a fallback until the operator removes them)."""
from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry import artifact_manifest, audit, storage
from registry.artifact_manifest import Crc32, Recorded
from registry.jobs import JobFailed, hold, progress
from registry.models import ArtifactChecksum, ArtifactStoreSwitch, Job

_THREADS = 4
_BATCH = 64
_TICK_SECONDS = 0.5
_DRAIN_TIMEOUT_SECONDS = 900


class SourceChanged(RuntimeError):
    """A file changed while it was uploaded (a crash for the job: the next attempt uploads it again)."""


def target_store(url: str):
    from registry.storage_s3 import S3ArtifactStorage

    return S3ArtifactStorage(url)


def source_files() -> list[tuple[str, int]]:
    """(path, size) of every artifact file on the filesystem store, confined to it, in walk_files' order."""
    fs = storage.ArtifactFileSystemStorage()
    root = os.path.realpath(fs.location)
    if not os.path.isdir(root):
        return []
    return list(storage._scan_files(root, "", root))


def move_run(job: Job) -> None:
    target = job.params["to"]
    storage.forget_active_store()
    current = storage.active_store()
    if current.url == target and not current.frozen:
        progress(job, message=f"Artifacts are on {target}")
        return
    if current.url:
        raise JobFailed(f"The artifact store is {current.url} already; only a filesystem store can be moved.")
    s3 = target_store(target)
    try:
        if not current.frozen:
            _set_switch(frozen=False, moving_to=target)
            files = source_files()
            progress(job, files_total=len(files), bytes_total=sum(size for _, size in files), files_done=0,
                     bytes_done=0, message=f"Copying {len(files)} files to {target}")
            _sync(job, s3, files)
            _set_switch(frozen=True, moving_to=target)
        _drain(job)
        files = source_files()
        progress(job, files_total=len(files), bytes_total=sum(size for _, size in files), files_done=0,
                 bytes_done=0, message="Writes are paused: checking every file once more")
        _sync(job, s3, files)
        _remove_extra(s3, {rel for rel, _ in files})
        _switch(job, target, len(files))
    except JobFailed:
        unfreeze()
        raise


def _set_switch(*, frozen: bool, moving_to: str) -> None:
    ArtifactStoreSwitch.objects.update_or_create(pk=1, defaults={"frozen": frozen, "moving_to": moving_to})
    storage.forget_active_store()


def unfreeze() -> None:
    """Writes go on to the old store (a move that failed for good)."""
    ArtifactStoreSwitch.objects.filter(pk=1, frozen=True).update(frozen=False, moving_to="", updated_at=timezone.now())
    storage.forget_active_store()


def _drain(job: Job) -> None:
    """Wait until every process sees the freeze and no other job that writes artifacts is running."""
    until = time.monotonic() + settings.ARTIFACT_STORE_RECHECK_SECONDS + 1
    deadline = time.monotonic() + _DRAIN_TIMEOUT_SECONDS
    progress(job, message="Pausing writes until every process has seen it")
    while True:
        # Any other job may write artifacts (new ones wait for the switch in jobs.claim).
        busy = Job.objects.filter(state=Job.State.RUNNING, lease_expires_at__gt=timezone.now()).exclude(
            pk=job.pk).count()
        if time.monotonic() >= until and not busy:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{busy} job(s) writing artifacts did not finish within {_DRAIN_TIMEOUT_SECONDS}s")
        progress(job)
        time.sleep(0.2)


class _Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.bytes = 0

    def add(self, n: int) -> None:
        with self.lock:
            self.bytes += n


def _sync(job: Job, s3, files: list[tuple[str, int]]) -> None:
    """Make every (path, size) of `files` an object with the same bytes, verified; progress per file. The copy
    threads touch no database: manifest records are read and written here, a batch at a time."""
    counter = _Counter()
    rate = settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC
    done = 0
    last = time.monotonic()
    queue = list(files)
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        pending: set = set()
        try:
            while queue or pending:
                if queue and len(pending) < _THREADS * 2:
                    batch, queue = queue[:_BATCH], queue[_BATCH:]
                    recorded = artifact_manifest.entries([rel for rel, _ in batch])
                    pending |= {pool.submit(_sync_one, s3, rel, recorded.get(rel), counter, rate)
                                for rel, _ in batch}
                finished, pending = wait(pending, timeout=_TICK_SECONDS, return_when=FIRST_COMPLETED)
                records = [record for record in (future.result() for future in finished) if record]
                artifact_manifest.record(records)
                done += len(finished)
                if finished or time.monotonic() - last >= _TICK_SECONDS:
                    progress(job, files_done=done, bytes_done=counter.bytes)
                    last = time.monotonic()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    progress(job, files_done=done, bytes_done=counter.bytes)


def _hash_file(full: str) -> tuple[str, str]:
    sha, crc = hashlib.sha256(), Crc32()
    with open(full, "rb") as handle:
        for chunk in iter(lambda: handle.read(storage.CHUNK_SIZE), b""):
            sha.update(chunk)
            crc.update(chunk)
    return sha.hexdigest(), crc.hexdigest()


def _verified(s3, rel: str, size: int, sha256: str) -> bool:
    head = s3.head(rel)
    return (head is not None and head["ContentLength"] == size
            and head.get("Metadata", {}).get("sha256") == sha256)


class _Reading:
    """The file's stream, hashed as it is uploaded, counted and (for tests) throttled."""

    def __init__(self, handle, counter: _Counter, rate: int):
        self.handle, self.counter, self.rate = handle, counter, rate
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.handle.read(n if n and n > 0 else storage.CHUNK_SIZE)
        if data:
            self.sha.update(data)
            self.counter.add(len(data))
            if self.rate:
                time.sleep(len(data) / self.rate)
        return data


def _sync_one(s3, rel: str, entry: Recorded | None, counter: _Counter, rate: int):
    """Upload one file unless its object is there and verified; returns a manifest record to write, or None.

    The file's SHA-256 is its manifest record's while that describes it (trusted: other bytes mean the file
    rotted), else the file is hashed first and that becomes its record."""
    full = storage.ArtifactFileSystemStorage().path(rel)
    try:
        stat = os.stat(full)
        record = None
        if entry is not None and entry.describes(stat, stat.st_size):
            sha256 = entry.sha256
        else:
            sha256, crc32 = _hash_file(full)
            record = (rel, stat.st_size, stat, sha256, crc32)
        if _verified(s3, rel, stat.st_size, sha256):
            counter.add(stat.st_size)
            return record
        handle = open(full, "rb")
    except FileNotFoundError:
        return None  # deleted since the listing: the last pass removes its object
    with handle:
        now = os.fstat(handle.fileno())
        if (now.st_ino, now.st_mtime_ns, now.st_size) != (stat.st_ino, stat.st_mtime_ns, stat.st_size):
            raise SourceChanged(f"{rel} was replaced while it was being moved")
        reading = _Reading(handle, counter, rate)
        s3.upload(rel, reading, metadata={"sha256": sha256})
    if reading.sha.hexdigest() != sha256:
        if record is None:  # a trusted record, same size, mtime and inode, other bytes
            raise JobFailed(f"{rel} no longer has the bytes recorded when it was written (SHA-256 "
                            f"{sha256[:12]}…, now {reading.sha.hexdigest()[:12]}…): restore it from a backup "
                            "or delete it, then run artifacts_migrate again.")
        raise SourceChanged(f"{rel} changed while it was uploaded")
    if not _verified(s3, rel, stat.st_size, sha256):
        raise SourceChanged(f"the object of {rel} does not have the file's size and SHA-256 after its upload")
    return record


def _remove_extra(s3, keep: set[str]) -> None:
    extra = [rel for rel, _ in s3.walk("") if rel not in keep]
    for rel in extra:
        s3.delete(rel)


def _switch(job: Job, target: str, files: int) -> None:
    with transaction.atomic():
        locked = hold(job)
        ArtifactStoreSwitch.objects.update_or_create(
            pk=1, defaults={"store": target, "frozen": False, "moving_to": "", "switched_at": timezone.now()})
        ArtifactChecksum.objects.filter(mtime_ns__isnull=False).update(mtime_ns=None, inode=None)
        audit.record(actor=locked.created_by, action="artifact_store.switch", params={"to": target, "files": files},
                     object_name=target)
    storage.forget_active_store()
    progress(job, message=f"Moved {files} files to {target}; the deployment uses it now")
