"""Unit tests of registry.storage: path cleaning against hostile forms, and the helpers that read, write,
list and delete artifact bytes, confined to the artifact root."""
from __future__ import annotations

import hashlib
import io
import os

import pytest

from registry import storage
from registry.errors import InvalidParameter, NotFound
from registry.storage import clean_relative_path

# Writes and deletions keep the artifact manifest (a table) up to date.
pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings, tmp_path):
    """A fresh artifact root with an `outside` sibling that nothing may ever touch."""
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"top secret")
    settings.ARTIFACT_ROOT = tmp_path / "root"
    return tmp_path / "root"


def outside_files(root) -> list[str]:
    outside = root.parent / "outside"
    return sorted(str(p.relative_to(outside)) for p in outside.rglob("*"))


@pytest.mark.parametrize("raw, expected", [
    ("0/abc/artifacts/model/MLmodel", "0/abc/artifacts/model/MLmodel"),
    ("0/abc/artifacts/dir/", "0/abc/artifacts/dir"),
    ("0//abc///artifacts", "0/abc/artifacts"),
    ("0/abc/artifacts/with space.txt", "0/abc/artifacts/with space.txt"),
    ("0/abc/artifacts/..hidden", "0/abc/artifacts/..hidden"),
    ("0/abc/artifacts/file..txt", "0/abc/artifacts/file..txt"),
    ("0/abc/artifacts/100%.txt", "0/abc/artifacts/100%.txt"),
    # A literal percent sequence that decodes to something harmless is kept as spelled, not decoded.
    ("0/abc/artifacts/a%20b.txt", "0/abc/artifacts/a%20b.txt"),
    ("0/abc/artifacts/é.txt", "0/abc/artifacts/é.txt"),
    ("", ""),
])
def test_clean_relative_path_accepts_ordinary_paths(raw, expected):
    assert clean_relative_path(raw) == expected


@pytest.mark.parametrize("raw", [
    "..",
    "../etc/passwd",
    "0/abc/artifacts/../../../etc/passwd",
    "0/abc/artifacts/./x",
    "0/abc/artifacts/..",
    "/etc/passwd",
    "//etc/passwd",
    "0\\..\\..\\etc",
    "0/abc/artifacts/a\\b",
    "%2e%2e%2fetc%2fpasswd",
    "%2E%2E/etc",
    "0/abc/artifacts/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc",
    "%252e%252e%252fetc",
    "%25252e%25252e%25252fetc",
    "%2fetc%2fpasswd",
    "%5c%2e%2e%5cetc",
    "0/abc/artifacts/a\x00.txt",
    "0/abc/artifacts/a%00.txt",
    "0/abc/artifacts/a%2500.txt",
    "0/abc/artifacts/a\x01b",
    "0/abc/artifacts/line\nbreak",
    "0/abc/artifacts/del\x7f",
    "0/abc/artifacts/a#b",
    "0/abc/artifacts/a%23b",
    "0/abc/artifacts/" + "x" * 2000,
])
def test_clean_relative_path_refuses_hostile_forms(raw):
    with pytest.raises(InvalidParameter):
        clean_relative_path(raw)


@pytest.mark.parametrize("raw", [None, 3, b"0/a", ["0", "a"]])
def test_clean_relative_path_refuses_non_strings(raw):
    with pytest.raises(InvalidParameter):
        clean_relative_path(raw)


def test_clean_relative_path_refuses_endless_encoding():
    value = ".."
    for _ in range(8):
        value = value.replace("%", "%25") if "%" in value else "%2e%2e"
    with pytest.raises(InvalidParameter):
        clean_relative_path(value)


def test_save_stream_round_trip_reports_size_and_digest(root):
    payload = os.urandom(3 * storage.CHUNK_SIZE + 17)
    written, digest = storage.save_stream("1/r/artifacts/blob.bin", io.BytesIO(payload))
    assert written == len(payload)
    assert digest == hashlib.sha256(payload).hexdigest()
    assert (root / "1/r/artifacts/blob.bin").read_bytes() == payload
    with storage.open_read("1/r/artifacts/blob.bin") as handle:
        assert handle.read() == payload
    assert storage.size("1/r/artifacts/blob.bin") == len(payload)
    assert storage.sha256_of("1/r/artifacts/blob.bin") == digest


def test_save_stream_overwrites_and_leaves_no_partial_files(root):
    storage.save_stream("1/r/artifacts/f.txt", io.BytesIO(b"first version, longer"))
    storage.save_stream("1/r/artifacts/f.txt", io.BytesIO(b"second"))
    assert (root / "1/r/artifacts/f.txt").read_bytes() == b"second"
    assert sorted(os.listdir(root / "1/r/artifacts")) == ["f.txt"]


def test_incomplete_stream_keeps_previous_content(root):
    storage.save_stream("1/r/artifacts/f.txt", io.BytesIO(b"good"))
    with pytest.raises(storage.IncompleteUpload):
        storage.save_stream("1/r/artifacts/f.txt", io.BytesIO(b"trunc"), expected_size=100)
    assert (root / "1/r/artifacts/f.txt").read_bytes() == b"good"
    assert sorted(os.listdir(root / "1/r/artifacts")) == ["f.txt"]


def test_save_stream_refuses_a_path_through_a_file_or_onto_a_directory(root):
    storage.save_stream("1/r/artifacts/f.txt", io.BytesIO(b"x"))
    with pytest.raises(InvalidParameter):
        storage.save_stream("1/r/artifacts/f.txt/child", io.BytesIO(b"y"))
    with pytest.raises(InvalidParameter):
        storage.save_stream("1/r/artifacts", io.BytesIO(b"y"))
    with pytest.raises(InvalidParameter):
        storage.save_stream("", io.BytesIO(b"y"))


def test_list_dir_and_walk_files(root):
    storage.save_stream("1/r/artifacts/b.txt", io.BytesIO(b"bb"))
    storage.save_stream("1/r/artifacts/a/inner.txt", io.BytesIO(b"iii"))
    entries = storage.list_dir("1/r/artifacts")
    assert entries == [storage.Entry("a", True, None), storage.Entry("b.txt", False, 2)]
    assert sorted(storage.walk_files("1/r/artifacts")) == [("a/inner.txt", 3), ("b.txt", 2)]
    assert storage.list_dir("1/r/artifacts/missing") == []
    assert storage.list_dir("1/r/artifacts/b.txt") == []
    assert storage.is_file("1/r/artifacts/b.txt") and not storage.is_file("1/r/artifacts/a")
    assert storage.is_dir("1/r/artifacts/a") and not storage.is_dir("1/r/artifacts/b.txt")


def test_open_read_of_missing_or_directory_is_not_found(root):
    storage.save_stream("1/r/artifacts/a/inner.txt", io.BytesIO(b"i"))
    with pytest.raises(NotFound):
        storage.open_read("1/r/artifacts/nope.txt")
    with pytest.raises(NotFound):
        storage.open_read("1/r/artifacts/a")


def test_delete_tree_removes_files_and_directories_and_is_repeatable(root):
    storage.save_stream("1/r/artifacts/a/x.txt", io.BytesIO(b"x"))
    storage.save_stream("1/r/artifacts/a/deep/y.txt", io.BytesIO(b"y"))
    storage.save_stream("1/r/artifacts/keep.txt", io.BytesIO(b"k"))
    assert storage.delete_tree("1/r/artifacts/a") == 2
    assert not (root / "1/r/artifacts/a").exists()
    assert storage.delete_tree("1/r/artifacts/a") == 0
    assert storage.delete_tree("1/r/artifacts/keep.txt") == 1
    assert not (root / "1/r/artifacts/keep.txt").exists()
    with pytest.raises(InvalidParameter):
        storage.delete_tree("")


def test_symlink_out_of_the_root_is_never_followed(root):
    outside = root.parent / "outside"
    artifacts = root / "1/r/artifacts"
    artifacts.mkdir(parents=True)
    os.symlink(outside, artifacts / "evil_dir")
    os.symlink(outside / "secret.txt", artifacts / "evil_file")
    (artifacts / "ok.txt").write_bytes(b"ok")
    before = outside_files(root)

    with pytest.raises(InvalidParameter):
        storage.open_read("1/r/artifacts/evil_dir/secret.txt")
    with pytest.raises(InvalidParameter):
        storage.open_read("1/r/artifacts/evil_file")
    with pytest.raises(InvalidParameter):
        storage.save_stream("1/r/artifacts/evil_dir/planted.txt", io.BytesIO(b"planted"))
    with pytest.raises(InvalidParameter):
        storage.save_stream("1/r/artifacts/evil_file", io.BytesIO(b"overwritten"))
    # Listings leave out what escapes the root.
    assert storage.list_dir("1/r/artifacts") == [storage.Entry("ok.txt", False, 2)]
    # Deleting the tree removes the links themselves, never what they point to.
    storage.delete_tree("1/r/artifacts")
    assert not artifacts.exists()

    assert outside_files(root) == before
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_storage_follows_a_changed_artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "one"
    storage.save_stream("1/r/artifacts/f", io.BytesIO(b"1"))
    settings.ARTIFACT_ROOT = tmp_path / "two"
    storage.save_stream("1/r/artifacts/f", io.BytesIO(b"2"))
    assert (tmp_path / "one/1/r/artifacts/f").read_bytes() == b"1"
    assert (tmp_path / "two/1/r/artifacts/f").read_bytes() == b"2"
