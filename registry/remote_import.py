"""The IMPORT job's work: download a remote registry's version into a local version's managed location through
the remote's signed URLs, verify every file (its size against the remote's listing, its SHA-256 against the
remote's X-Checksum-Sha256 header when it sends one, and the stored copy read back against the bytes received),
check the MLmodel and its signature as any registration does, then mark the version READY once.

Crash safety is the registration job's: the destination belongs to the pending version alone, so an attempt
starts from a clean slate; READY is written under the job's row lock while this worker holds the lease."""
from __future__ import annotations

import posixpath
from typing import Iterator

from django.db import transaction

from registry import storage
from registry.jobs import JobFailed, hold, progress
from registry.models import Job, ModelVersion, RemoteRegistry
from registry.registration import _Meter, _source_files
from registry.remote_client import RemoteError
from registry.services.remote_registries import remote_client

CHECKSUM_HEADER = "X-Checksum-Sha256"


class _ChunkStream:
    """A file-like reader over an iterator of byte chunks (a streamed HTTP body)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.buffer = b""

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            data, self.buffer = self.buffer + b"".join(self.chunks), b""
            return data
        while len(self.buffer) < n:
            try:
                chunk = next(self.chunks)
            except StopIteration:
                break
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


def _transient(exc: RemoteError) -> bool:
    """Worth another attempt: the remote was unreachable or failed on its side, not a refusal or a missing file."""
    if exc.error_code == "DESTINATION_REFUSED":
        return False
    return exc.status is None or exc.status >= 500 or exc.status == 429


def import_version(job: Job) -> None:
    mv = ModelVersion.objects.select_related("model").filter(pk=job.model_version_id).first()
    if mv is None:
        progress(job, message="The version was deleted before the import finished")
        return
    if mv.status == "READY":  # a redelivery after the version was finished
        return
    params = job.params
    registry = RemoteRegistry.objects.filter(pk=params.get("remote_registry_id"), owner_id=job.created_by_id).first()
    if registry is None:
        raise JobFailed(f"The remote registry {params.get('remote_registry')!r} was removed before the import "
                        "finished: add it again and import again.")
    name, number = params["remote"]["name"], params["remote"]["version"]
    destination = params["destination"]
    try:
        with remote_client(registry) as client:
            files = client.list_files(name, number)
            if not files:
                raise JobFailed(f"Version {number} of {name} on {registry.name} has no files to import.")
            if "MLmodel" not in {f.path for f in files}:
                raise JobFailed(f"Version {number} of {name} on {registry.name} holds no MLmodel file.")
            total = sum(f.size for f in files)
            storage.delete_tree(destination)  # what a crashed attempt left behind goes
            progress(job, files_done=0, bytes_done=0, files_total=len(files), bytes_total=total,
                     message=f"Downloading from {registry.name}")
            meter = _Meter(job)

            def on_chunk(n: int) -> None:
                meter.advance(n)  # the throttle of test copies applies here too
                meter.heartbeat()  # renews the lease during a long file

            for remote_file in files:
                path = posixpath.join(destination, storage.clean_relative_path(remote_file.path))
                chunks, headers = client.download(name, number, remote_file.path)
                written, sha256 = storage.save_stream(path, _ChunkStream(chunks), on_chunk=on_chunk,
                                                      expected_size=remote_file.size)
                if written != remote_file.size:
                    raise RuntimeError(f"{remote_file.path}: received {written} bytes, the remote listed "
                                       f"{remote_file.size}")
                announced = {k.lower(): v for k, v in headers.items()}.get(CHECKSUM_HEADER.lower())
                if announced and announced.lower() != sha256:
                    raise RuntimeError(f"{remote_file.path}: the SHA-256 of the bytes received differs from the "
                                       "remote's checksum")
                if storage.sha256_of(path) != sha256:
                    raise RuntimeError(f"{remote_file.path}: the stored copy differs from the bytes received")
                meter.file_done()
            meter.heartbeat(force=True)
    except RemoteError as exc:
        if _transient(exc):
            raise RuntimeError(exc.message) from None  # retried with backoff, up to the attempts cap
        raise JobFailed(exc.message) from None
    _, signature = _source_files(mv, destination)
    progress(job, message="Flushing to disk")
    storage.flush_to_disk()
    from registry.services.versions import model_version_mark_ready

    with transaction.atomic():
        hold(job)
        model_version_mark_ready(version_id=mv.pk, signature=signature)
    progress(job, message=f"Imported {len(files)} files ({total} bytes) from {registry.name}, checksums verified")
