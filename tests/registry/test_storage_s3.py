"""The S3 backend of the artifact store against a real S3-compatible server (moto's, on loopback: tests/s3.py):
copies are server-side (the worker never GETs a source's bytes), verified and recorded with the source's
checksums, large objects are copied in UploadPartCopy parts, listings and deletes page past 1000 objects, and
a copy keeps its bytes when the source is overwritten or deleted."""
from __future__ import annotations

import hashlib
import io
import os

import pytest

from registry import artifact_manifest, storage, storage_copy
from tests.s3 import BUCKET, use_s3_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(settings, s3_server, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "unused"  # nothing may land on the filesystem
    view = use_s3_store(settings, s3_server)
    yield view
    assert not settings.ARTIFACT_ROOT.exists()


def upload(path: str, data: bytes) -> None:
    storage.save_stream(path, io.BytesIO(data))


def tree(prefix: str) -> dict[str, bytes]:
    contents = {"MLmodel": b"artifact_path: model\n", "weights.bin": os.urandom(9 * 1024 * 1024 + 3),
                "data/a/part-0.bin": os.urandom(1000), "data/part-1.bin": b"", "z.txt": b"z"}
    for rel, data in contents.items():
        upload(f"{prefix}/{rel}", data)
    return contents


def copy(source: str, destination: str, **kwargs) -> dict[str, str]:
    return storage_copy.copy_tree(source, destination, list(storage.walk_files(source)), **kwargs)


def gets_of(requests: list[str], view, prefix: str) -> list[str]:
    """GETs of objects whose key starts with `prefix` (a directory ends with a slash)."""
    return [r for r in requests if r.startswith(f"GET /{BUCKET}/{view.prefix}/{prefix}")]


def test_walk_lists_depth_first_and_hides_partial_uploads(store):
    tree("src")
    store.s3.put_object(Bucket=BUCKET, Key=f"{store.prefix}/src/{storage.PARTIAL_PREFIX}dead", Body=b"x")
    assert [rel for rel, _ in storage.walk_files("src")] == [
        "data/a/part-0.bin", "data/part-1.bin", "MLmodel", "weights.bin", "z.txt"]
    assert [(e.path, e.is_dir) for e in storage.list_dir("src")] == [
        ("data", True), ("MLmodel", False), ("weights.bin", False), ("z.txt", False)]
    assert storage.is_dir("src/data") and not storage.is_file("src/data")
    assert storage.is_file("src/z.txt") and not storage.is_dir("src/z.txt")


def test_copy_is_server_side_verified_and_recorded_with_the_sources_checksums(store, s3_server):
    contents = tree("src")
    mark = s3_server.mark()
    checksums = copy("src", "dst")
    requests = s3_server.requests(mark)
    assert gets_of(requests, store, "src/") == []  # no byte of the source passed through this process
    assert any(r.startswith(f"PUT /{BUCKET}/{store.prefix}/dst/weights.bin") for r in requests)
    for rel, data in contents.items():
        assert store.read(f"dst/{rel}") == data
        assert checksums[rel] == hashlib.sha256(data).hexdigest()
        assert artifact_manifest.get(f"dst/{rel}").sha256 == checksums[rel]


def test_a_source_without_a_record_is_hashed_once_from_the_copy(store, s3_server):
    contents = tree("src")
    artifact_manifest.forget("src/weights.bin")
    mark = s3_server.mark()
    checksums = copy("src", "dst")
    requests = s3_server.requests(mark)
    assert gets_of(requests, store, "src/") == []
    assert len(gets_of(requests, store, "dst/weights.bin")) == 1  # the copy read back once, the rest trusted
    assert checksums["weights.bin"] == hashlib.sha256(contents["weights.bin"]).hexdigest()
    assert artifact_manifest.get("dst/weights.bin").sha256 == checksums["weights.bin"]


def test_objects_above_the_copy_threshold_are_copied_in_parts(store, s3_server, settings):
    settings.ARTIFACT_S3_MULTIPART_COPY_THRESHOLD = 5 * 1024 * 1024  # stands for S3's 5 GiB CopyObject limit
    contents = tree("src")
    mark = s3_server.mark()
    copy("src", "dst")
    requests = s3_server.requests(mark)
    assert any(r.startswith(f"PUT /{BUCKET}/{store.prefix}/dst/weights.bin?") and "partNumber=" in r
               for r in requests)  # UploadPartCopy
    assert gets_of(requests, store, "src/") == []
    assert store.read("dst/weights.bin") == contents["weights.bin"]


def test_the_copy_keeps_its_bytes_when_the_source_is_overwritten_or_deleted(store):
    contents = tree("src")
    copy("src", "dst")
    upload("src/weights.bin", b"overwritten")
    assert store.read("dst/weights.bin") == contents["weights.bin"]
    assert storage.delete_tree("src") == len(contents)
    assert store.keys("src") == []
    assert {rel: store.read(f"dst/{rel}") for rel, _ in storage.walk_files("dst")} == contents


def test_listing_and_deleting_page_past_a_thousand_objects(store):
    for index in range(1003):
        store.s3.put_object(Bucket=BUCKET, Key=f"{store.prefix}/many/d{index % 2}/f{index:04d}", Body=b"x")
    assert len(list(storage.walk_files("many"))) == 1003
    assert len(storage.list_dir("many/d0")) == 502
    assert storage.delete_tree("many") == 1003
    assert store.keys("many") == []


def test_an_upload_streams_in_parts_and_a_refused_one_leaves_the_old_object(store, settings):
    upload("run/model.bin", b"complete")
    size = 3 * settings.ARTIFACT_S3_MULTIPART_CHUNK_BYTES + 11
    data = os.urandom(size)
    written, digest = storage.save_stream("run/big.bin", io.BytesIO(data))
    assert (written, digest) == (size, hashlib.sha256(data).hexdigest())
    assert "-" in store.s3.head_object(Bucket=BUCKET, Key=f"{store.prefix}/run/big.bin")["ETag"]  # multipart

    def refuse():
        raise storage.InvalidParameter("registered meanwhile")

    with pytest.raises(storage.InvalidParameter):
        storage.save_stream("run/model.bin", io.BytesIO(b"late"), before_commit=refuse)
    assert store.read("run/model.bin") == b"complete"
    assert store.names("run") == ["big.bin", "model.bin"]  # the hidden upload is gone too
