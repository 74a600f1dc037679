"""The artifact manifest (checksums recorded at upload) and the verified copy that relies on it: one hash pass
per copy when the manifest describes the source, a full re-hash when it does not, and a corrupted source or a
bad copy detected rather than copied."""
from __future__ import annotations

import hashlib
import io
import os
import zlib

import pytest

from registry import artifact_manifest, storage, storage_copy
from registry.models import ArtifactChecksum

pytestmark = pytest.mark.django_db

LARGE = 5 * 1024 * 1024 + 123  # above the whole-file limit: copied in kernel chunks with a checker thread


@pytest.fixture
def root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "root"
    settings.ARTIFACT_COPY_LINKS = False  # byte copies; hard-linked copies are tests/registry/test_storage_links.py
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture(params=["crc32", "sha256"])
def verify(request, settings):
    settings.ARTIFACT_COPY_VERIFY = request.param
    return request.param


def upload(path: str, data: bytes) -> None:
    storage.save_stream(path, io.BytesIO(data))


def tree(prefix: str) -> dict[str, bytes]:
    contents = {"MLmodel": b"artifact_path: model\n", "weights.bin": os.urandom(LARGE), "empty.txt": b""}
    for index in range(150):  # more than one batch of small files
        contents[f"data/d{index % 3}/part-{index:03d}.bin"] = os.urandom(100 + index)
    for rel, data in contents.items():
        upload(f"{prefix}/{rel}", data)
    return contents


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_upload_records_size_checksums_and_identity_and_deletion_forgets(root):
    upload("0/r/artifacts/a.bin", b"first")
    entry = ArtifactChecksum.objects.get(path="0/r/artifacts/a.bin")
    stat = os.stat(root / "0/r/artifacts/a.bin")
    assert (entry.size, entry.sha256, entry.crc32) == (5, sha(b"first"), f"{zlib.crc32(b'first'):08x}")
    assert (entry.mtime_ns, entry.inode) == (stat.st_mtime_ns, stat.st_ino)

    upload("0/r/artifacts/a.bin", b"second!")  # an overwrite replaces the entry
    assert ArtifactChecksum.objects.get(path="0/r/artifacts/a.bin").sha256 == sha(b"second!")

    upload("0/r/artifacts/dir/b.bin", b"b")
    storage.delete("0/r/artifacts/a.bin")
    assert not ArtifactChecksum.objects.filter(path="0/r/artifacts/a.bin").exists()
    storage.delete_tree("0/r/artifacts")
    assert not ArtifactChecksum.objects.exists()


def test_below_matches_the_exact_directory_prefix_only(root):
    for path in ("m/a/x", "m/a/sub/y", "m/ab/z", "m/A/w", "m/a.txt"):
        upload(path, path.encode())
    assert sorted(artifact_manifest.below("m/a")) == ["sub/y", "x"]


def test_copy_tree_copies_verifies_and_records_the_copy(root, verify):
    contents = tree("src")
    files = list(storage.walk_files("src"))
    progress = {"files": 0, "bytes": 0}
    checksums = storage_copy.copy_tree(
        "src", "dst", files, on_file=lambda: progress.__setitem__("files", progress["files"] + 1),
        on_bytes=lambda n: progress.__setitem__("bytes", progress["bytes"] + n))
    assert checksums == {rel: sha(data) for rel, data in contents.items()}
    for rel, data in contents.items():
        assert (root / "dst" / rel).read_bytes() == data
    assert progress == {"files": len(contents), "bytes": sum(len(d) for d in contents.values())}
    recorded = artifact_manifest.below("dst")
    assert {rel: entry.sha256 for rel, entry in recorded.items()} == checksums
    stat = os.stat(root / "dst" / "weights.bin")
    assert recorded["weights.bin"].describes(stat, LARGE)


def test_a_source_without_a_manifest_entry_is_hashed_and_still_verified(root, verify):
    contents = tree("src")
    artifact_manifest.forget("src")  # files written before the manifest existed
    checksums = storage_copy.copy_tree("src", "dst", list(storage.walk_files("src")))
    assert checksums == {rel: sha(data) for rel, data in contents.items()}
    assert artifact_manifest.below("dst")["weights.bin"].crc32 == f"{zlib.crc32(contents['weights.bin']):08x}"


def test_a_stale_entry_is_not_trusted(root, verify):
    """The file was replaced behind the store's back (new inode and mtime): its bytes are hashed afresh."""
    tree("src")
    replacement = os.urandom(LARGE)
    path = root / "src" / "weights.bin"
    path.unlink()
    path.write_bytes(replacement)
    checksums = storage_copy.copy_tree("src", "dst", list(storage.walk_files("src")))
    assert checksums["weights.bin"] == sha(replacement)
    assert (root / "dst" / "weights.bin").read_bytes() == replacement


@pytest.mark.parametrize("rel", ["weights.bin", "MLmodel"])
def test_silently_corrupted_source_is_reported_not_copied(root, verify, rel):
    """Same size, mtime and inode as recorded but other bytes: bit rot, not an upload. The copy stops."""
    tree("src")
    path = root / "src" / rel
    before = os.stat(path)
    with open(path, "r+b") as handle:  # flip one byte in place
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(before.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(storage_copy.CorruptedArtifact, match=f"{rel} no longer matches the checksum recorded"):
        storage_copy.copy_tree("src", "dst", list(storage.walk_files("src")))
    assert not artifact_manifest.below("dst")


def test_a_copy_that_lands_other_bytes_fails_verification(root, verify, monkeypatch):
    tree("src")
    real = storage_copy._kernel_copy_chunk

    def flaky(source_fd, target_fd, offset):
        n = real(source_fd, target_fd, offset)
        if offset == 0 and n:
            os.pwrite(target_fd, b"\x00", 7)  # a torn write in the first chunk
        return n

    monkeypatch.setattr(storage_copy, "_kernel_copy_chunk", flaky)
    with pytest.raises(storage_copy.CopyMismatch, match="verification failed for weights.bin"):
        storage_copy.copy_tree("src", "dst", list(storage.walk_files("src")))


def test_walk_files_leaves_out_partial_uploads_and_escaping_symlinks(root, tmp_path):
    upload("w/a.txt", b"a")
    upload("w/sub/b.txt", b"bb")
    (root / "w" / f"{storage.PARTIAL_PREFIX}123").write_bytes(b"half")
    (tmp_path / "secret").write_bytes(b"secret")
    os.symlink(tmp_path / "secret", root / "w" / "escape")
    os.symlink(root / "w" / "a.txt", root / "w" / "inside")
    assert list(storage.walk_files("w")) == [("sub/b.txt", 2), ("a.txt", 1), ("inside", 1)]


def test_backends_without_a_filesystem_stream_and_verify_the_copy(settings):
    """An object store (here Django's in-memory storage): no kernel copy, no stat; each file streams through
    save_stream, is read back and checked, and the copies are recorded."""
    settings.ARTIFACT_STORAGE_BACKEND = "django.core.files.storage.InMemoryStorage"
    contents = {"MLmodel": b"artifact_path: model\n", "data/part-0.bin": os.urandom(3000), "empty.txt": b""}
    for rel, data in contents.items():
        upload(f"src/{rel}", data)
    assert artifact_manifest.below("src")["MLmodel"].describes(None, len(contents["MLmodel"]))
    files = list(storage.walk_files("src"))
    assert sorted(rel for rel, _ in files) == sorted(contents)
    checksums = storage_copy.copy_tree("src", "dst", files)
    assert checksums == {rel: sha(data) for rel, data in contents.items()}
    for rel, data in contents.items():
        with storage.open_read(f"dst/{rel}") as handle:
            assert handle.read() == data
    assert {rel: e.sha256 for rel, e in artifact_manifest.below("dst").items()} == checksums
