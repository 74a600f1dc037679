"""The registration job's work: copy a source's artifacts into a version's managed location, verify sizes
and checksums and that an MLmodel with a signature is there, then mark the version READY."""
from __future__ import annotations

import json
import posixpath
import time

import yaml

from registry import storage
from registry.jobs import JobFailed, progress
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


def register_version(job: Job) -> None:
    mv = ModelVersion.objects.select_related("model").filter(pk=job.model_version_id).first()
    if mv is None:
        progress(job, message="The version was deleted before registration finished")
        return
    if mv.status == "READY":
        return
    source = job.params["source_location"]
    destination = job.params["destination"]
    files = list(storage.walk_files(source))
    if not files:
        raise JobFailed(f"The source {mv.source} has no artifacts. Log the model (mlflow.<flavor>.log_model) "
                        "before registering it.")
    names = {path for path, _ in files}
    if "MLmodel" not in names:
        raise JobFailed(f"The source {mv.source} holds no MLmodel file: point the source at a logged model's "
                        "directory (for example runs:/<run_id>/model).")
    with storage.open_read(posixpath.join(source, "MLmodel")) as handle:
        signature = read_signature(handle.read(10 * 1024 * 1024).decode("utf-8", errors="replace"))
    total = sum(size for _, size in files)
    progress(job, files_done=0, bytes_done=0, files_total=len(files), bytes_total=total, message="Copying artifacts")
    done_bytes, last = 0, 0.0
    checksums = {}
    for index, (rel, size) in enumerate(files, start=1):
        def advance(n):
            nonlocal done_bytes, last
            done_bytes += n
            now = time.monotonic()
            if now - last >= _PROGRESS_EVERY:
                last = now
                progress(job, bytes_done=done_bytes)

        with storage.open_read(posixpath.join(source, rel)) as handle:
            written, digest = storage.save_stream(posixpath.join(destination, rel), handle, on_chunk=advance)
        if written != size:
            raise RuntimeError(f"{rel}: copied {written} bytes, expected {size}")
        checksums[rel] = digest
        progress(job, files_done=index, bytes_done=done_bytes)
    progress(job, message="Verifying")
    for rel, size in files:
        target = posixpath.join(destination, rel)
        if storage.size(target) != size or storage.sha256_of(target) != checksums[rel]:
            raise RuntimeError(f"verification failed for {rel}")
    from registry.services.versions import model_version_mark_ready

    model_version_mark_ready(version_id=mv.pk, signature=signature)
    progress(job, message=f"Registered {len(files)} files ({total} bytes)")
