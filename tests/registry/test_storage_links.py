"""Copies inside the filesystem store are hard links of the source files, verified against the manifest: no byte
is copied, a file without a trusted record is hashed once, and since no write path changes a file in place, writing
or deleting the source afterwards leaves the copy's bytes as they were."""
from __future__ import annotations

import hashlib
import io
import os
import tempfile

import pytest

from registry import artifact_manifest, storage, storage_copy
from registry.models import ArtifactChecksum

pytestmark = pytest.mark.django_db

LARGE = 5 * 1024 * 1024 + 7


@pytest.fixture
def root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "root"
    settings.ARTIFACT_COPY_LINKS = True
    settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC = 0
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


def upload(path: str, data: bytes) -> None:
    storage.save_stream(path, io.BytesIO(data))


def tree(prefix: str) -> dict[str, bytes]:
    contents = {"MLmodel": b"artifact_path: model\n", "weights.bin": os.urandom(LARGE), "empty.txt": b""}
    for index in range(80):
        contents[f"data/part-{index:03d}.bin"] = os.urandom(50 + index)
    for rel, data in contents.items():
        upload(f"{prefix}/{rel}", data)
    return contents


def copy(source: str, destination: str, **kwargs) -> dict[str, str]:
    return storage_copy.copy_tree(source, destination, list(storage.walk_files(source)), **kwargs)


def read_tree(root, prefix: str) -> dict[str, bytes]:
    base = root / prefix
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def test_copy_is_a_hard_link_of_every_file_recorded_with_the_sources_checksums(root):
    contents = tree("src")
    seen = {"bytes": 0}
    checksums = copy("src", "dst", on_bytes=lambda n: seen.__setitem__("bytes", seen["bytes"] + n))
    assert read_tree(root, "dst") == contents
    for rel, data in contents.items():
        assert os.stat(root / "dst" / rel).st_ino == os.stat(root / "src" / rel).st_ino
        assert checksums[rel] == hashlib.sha256(data).hexdigest()
        entry = artifact_manifest.get(f"dst/{rel}")
        assert entry.sha256 == checksums[rel] and entry.describes(os.stat(root / "dst" / rel), len(data))
    assert seen["bytes"] == sum(map(len, contents.values()))  # progress counts linked bytes


def test_overwriting_or_deleting_the_source_after_a_linked_copy_leaves_the_copy_intact(root):
    contents = tree("src")
    copy("src", "dst")
    upload("src/weights.bin", b"overwritten")  # save_stream renames a new file over the name: a new inode
    storage.save_stream("src/MLmodel", io.BytesIO(b"changed: true\n"), expected_size=14)
    assert (root / "src" / "weights.bin").read_bytes() == b"overwritten"
    assert read_tree(root, "dst") == contents
    storage.delete("src/data/part-000.bin")
    storage.delete_tree("src")
    assert not (root / "src").exists()
    assert read_tree(root, "dst") == contents
    # The copy's records still describe its files: a copy of the copy is again a trusted link.
    assert copy("dst", "dst2", instant_only=True) == {rel: hashlib.sha256(d).hexdigest() for rel, d in contents.items()}


def test_every_write_path_replaces_the_file_rather_than_writing_into_it(root):
    """The property links rely on: no write keeps the inode of the file it replaces."""
    upload("a/f.bin", b"one")
    inode = os.stat(root / "a/f.bin").st_ino
    os.link(root / "a/f.bin", root / "a/g.bin")  # a second name for the same bytes
    upload("a/f.bin", b"two")
    assert os.stat(root / "a/f.bin").st_ino != inode
    assert (root / "a/g.bin").read_bytes() == b"one"


def test_a_file_without_a_trusted_record_is_hashed_once_and_then_recorded(root):
    contents = tree("src")
    artifact_manifest.forget("src/weights.bin")
    os.utime(root / "src" / "MLmodel", ns=(1, 1))  # a stale record: the stat no longer matches
    with pytest.raises(storage_copy.NotInstant):
        copy("src", "fast", instant_only=True)
    storage.delete_tree("fast")
    checksums = copy("src", "dst")
    assert checksums["weights.bin"] == hashlib.sha256(contents["weights.bin"]).hexdigest()
    assert checksums["MLmodel"] == hashlib.sha256(contents["MLmodel"]).hexdigest()
    assert os.stat(root / "dst" / "weights.bin").st_ino == os.stat(root / "src" / "weights.bin").st_ino
    assert ArtifactChecksum.objects.get(path="dst/weights.bin").sha256 == checksums["weights.bin"]
    copy("dst", "again", instant_only=True)  # recorded now: the next copy needs no hashing


def test_a_leftover_file_at_the_target_is_replaced_not_written_into(root):
    """A crashed attempt may have left a link at the target that shares the source's inode: a retry (even a byte
    copy) must never write through it into the source."""
    contents = tree("src")
    (root / "dst").mkdir()
    os.link(root / "src" / "MLmodel", root / "dst" / "MLmodel")
    copy("src", "dst")
    assert read_tree(root, "src") == contents


def test_a_refused_link_falls_back_to_a_verified_byte_copy(root, settings):
    """Across devices (EXDEV) the link is refused. tmpfs (/dev/shm) is another device than the test's store."""
    other = tempfile.mkdtemp(dir="/dev/shm")
    source = os.path.join(other, "f.bin")
    with open(source, "wb") as handle:
        handle.write(os.urandom(LARGE))
    assert os.stat(other).st_dev != os.stat(root).st_dev
    plan = storage_copy._Plan("f.bin", LARGE, source, str(root / "f.bin"), None)
    assert storage_copy._link_one(plan, lambda n: None, only=False) is None
    with pytest.raises(storage_copy.NotInstant, match="refused a hard link"):
        storage_copy._link_one(plan, lambda n: None, only=True)
    copied = storage_copy._copy_one(plan, settings.ARTIFACT_COPY_VERIFY, lambda n: None)
    assert open(source, "rb").read() == (root / "f.bin").read_bytes()
    assert copied.stat.st_ino != os.stat(source).st_ino
    os.unlink(source)
    os.rmdir(other)


def test_links_are_off_when_disabled_or_when_a_copy_is_throttled(root, settings):
    tree("src")
    settings.ARTIFACT_COPY_LINKS = False
    copy("src", "a")
    assert os.stat(root / "a" / "MLmodel").st_ino != os.stat(root / "src" / "MLmodel").st_ino
    settings.ARTIFACT_COPY_LINKS = True
    settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC = 1024 ** 3
    copy("src", "b")
    assert os.stat(root / "b" / "MLmodel").st_ino != os.stat(root / "src" / "MLmodel").st_ino
    with pytest.raises(storage_copy.NotInstant):
        copy("src", "c", instant_only=True)
