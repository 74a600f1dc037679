"""The registration job's work: copy a source's artifacts into a version's managed location, verify sizes
and checksums and that an MLmodel with a signature is there, then mark the version READY. A copy of a READY
version that the store can make without moving bytes is done at once, while the request waits (copy_now)."""
from __future__ import annotations

import json
import posixpath
import time
import threading

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry import storage, storage_copy
from registry.jobs import JobFailed, hold, progress
from registry.models import Job, ModelVersion

NO_SIGNATURE_MESSAGE = (
    "Model versions in Unity Catalog must have a signature (inputs and outputs). Log the model again with "
    "an input example, e.g. mlflow.sklearn.log_model(model, name='model', input_example=X[:5]), or pass "
    "signature=mlflow.models.infer_signature(X, model.predict(X)), then register the new model."
)
_PROGRESS_EVERY = 0.5  # seconds between progress writes


def read_signature(mlmodel_text: str) -> dict:
    try:
        document = yaml.safe_load(mlmodel_text) or {}
    except yaml.YAMLError as exc:
        raise JobFailed(f"The MLmodel file is not valid YAML: {exc}") from None
    signature = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signature, dict) or not signature.get("inputs") or not signature.get("outputs"):
        raise JobFailed(NO_SIGNATURE_MESSAGE)
    parsed = {}
    for key in ("inputs", "outputs", "params"):
        value = signature.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise JobFailed(f"The MLmodel signature's {key} is not valid JSON.") from None
        parsed[key] = value
    return parsed


class _Meter:
    """Counts copied bytes from the copy threads, applies ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC there (the test
    hook that stretches a copy), and writes progress (so renewing the lease) from the job's own thread at most
    every _PROGRESS_EVERY seconds: database connections belong to one thread."""

    def __init__(self, job: Job):
        self.job = job
        self.bytes = 0
        self.files = 0
        self.rate = settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC
        self.started = self.last = time.monotonic()
        self.lock = threading.Lock()

    def heartbeat(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= _PROGRESS_EVERY:
            self.last = now
            progress(self.job, files_done=self.files, bytes_done=self.bytes)

    def advance(self, n: int) -> None:  # on a copy thread
        with self.lock:
            self.bytes += n
            done = self.bytes
        while self.rate:
            behind = done / self.rate - (time.monotonic() - self.started)
            if behind <= 0:
                break
            time.sleep(min(behind, 0.2))

    def file_done(self) -> None:
        self.files += 1
        self.heartbeat()


def _source_files(mv: ModelVersion, source: str) -> tuple[list[tuple[str, int]], dict]:
    """The source's files and the signature of its MLmodel, or JobFailed saying what the source lacks."""
    files = list(storage.walk_files(source))
    if not files:
        raise JobFailed(f"The source {mv.source} has no artifacts. Log the model (mlflow.<flavor>.log_model) "
                        "before registering it.")
    if "MLmodel" not in {path for path, _ in files}:
        raise JobFailed(f"The source {mv.source} holds no MLmodel file: point the source at a logged model's "
                        "directory (for example runs:/<run_id>/model).")
    with storage.open_read(posixpath.join(source, "MLmodel")) as handle:
        text = handle.read(10 * 1024 * 1024).decode("utf-8", errors="replace")
    if not mv.model.is_unity_catalog:  # a workspace version uploaded from another deployment: no signature needed
        try:
            return files, read_signature(text)
        except JobFailed:
            return files, None
    return files, read_signature(text)


def copy_now(job: Job) -> bool:
    """Finish a COPY job inside the caller's transaction when no byte has to move: every file of the source
    version (READY, so immutable) can be hard-linked and is described by its manifest record. Then the version
    is READY before the request answers, whatever its size (the promotion snippet `copy_model_version` then
    `set_registered_model_alias` then `load_model('models:/...@alias')` needs no wait). False, with nothing
    left behind, when the copy has to go through the worker (a byte copy, hashing, object storage)."""
    if job.kind != Job.Kind.COPY or not storage_copy.links_enabled():
        return False
    mv = job.model_version
    source, destination = job.params["source_location"], job.params["destination"]
    try:
        files, signature = _source_files(mv, source)
        storage.delete_tree(destination)  # a rolled-back attempt at this number may have left links
        storage_copy.copy_tree(source, destination, files, instant_only=True)
    except (JobFailed, storage_copy.NotInstant, storage_copy.CopyMismatch, OSError):
        storage.delete_tree(destination)
        return False
    storage.flush_tree(destination)
    from registry.services.versions import model_version_mark_ready

    model_version_mark_ready(version_id=mv.pk, signature=signature)
    total = sum(size for _, size in files)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.SUCCEEDED, started_at=now, finished_at=now, updated_at=now, files_done=len(files),
        files_total=len(files), bytes_done=total, bytes_total=total,
        message=f"Linked {len(files)} files ({total} bytes): no bytes copied")
    return True


def register_version(job: Job) -> None:
    mv = ModelVersion.objects.select_related("model").filter(pk=job.model_version_id).first()
    if mv is None:
        progress(job, message="The version was deleted before registration finished")
        return
    if mv.status == "READY":  # a redelivery after the version was finished: nothing left to do
        return
    source = job.params["source_location"]
    destination = job.params["destination"]
    files, signature = _source_files(mv, source)
    total = sum(size for _, size in files)
    # The destination belongs to this version alone and is not served before READY: start from a clean
    # slate, so what an earlier (crashed) attempt left behind, half-written temp files included, goes.
    storage.delete_tree(destination)
    progress(job, files_done=0, bytes_done=0, files_total=len(files), bytes_total=total, message="Copying artifacts")
    meter = _Meter(job)
    try:
        # Every file is verified as it is copied (or linked): its checksum must equal the source's.
        storage_copy.copy_tree(source, destination, files, on_bytes=meter.advance, on_file=meter.file_done,
                               on_tick=meter.heartbeat)
    except storage_copy.CorruptedArtifact as exc:
        raise JobFailed(str(exc)) from None
    meter.heartbeat(force=True)
    progress(job, message="Flushing to disk")
    storage.flush_to_disk()  # READY promises the copy survives a crash
    from registry.services.versions import model_version_mark_ready

    # Under the job's row lock and only while this worker still holds the lease: READY is written once.
    with transaction.atomic():
        hold(job)
        model_version_mark_ready(version_id=mv.pk, signature=signature)
    progress(job, message=f"Registered {len(files)} files ({total} bytes)")
