"""manage.py artifacts_migrate in this process against moto's S3 server: every file moved and verified against the
manifest, the switch (reads and writes follow it), writes paused while frozen, a rotted file refused, bad targets
refused. The kill -9 and the real mlflow client are tests/e2e/test_artifacts_migrate.py."""
from __future__ import annotations

import hashlib
import io
import os
import uuid

import pytest
from django.core.management import CommandError, call_command

from registry import artifact_manifest, jobs, storage
from registry.models import ArtifactChecksum, ArtifactStoreSwitch, AuditEvent, Job
from tests.registry.factories import make_run
from tests.s3 import BUCKET, S3View

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fs_store(settings, tmp_path, s3_server):
    settings.ARTIFACT_ROOT = tmp_path / "root"
    settings.ARTIFACT_ROOT.mkdir()
    settings.ARTIFACT_STORE = ""
    settings.AWS_S3_ENDPOINT_URL = s3_server.url
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.ARTIFACT_STORE_RECHECK_SECONDS = 0
    storage.forget_active_store()
    yield settings.ARTIFACT_ROOT
    ArtifactStoreSwitch.objects.all().delete()
    storage.forget_active_store()


def target(s3_server) -> tuple[str, S3View]:
    prefix = f"move-{uuid.uuid4().hex[:10]}"
    return f"s3://{BUCKET}/{prefix}", S3View(s3_server, prefix)


def write(path: str, data: bytes) -> None:
    storage.save_stream(path, io.BytesIO(data), expected_size=len(data))


def test_move_copies_every_file_verified_then_switches(fs_store, s3_server, capsys, admin):
    files = {f"0/run{i}/artifacts/model/data-{i}.bin": os.urandom(1000 + i) for i in range(20)}
    files["registry/uid-1/versions/1/MLmodel"] = b"flavors: {}\n"
    for path, data in files.items():
        write(path, data)
    # A file written behind the store's back (before the manifest existed): hashed by the move, then recorded.
    (fs_store / "0/old").mkdir(parents=True)
    (fs_store / "0/old/legacy.txt").write_bytes(b"from before the manifest")
    files["0/old/legacy.txt"] = b"from before the manifest"
    url, view = target(s3_server)

    call_command("artifacts_migrate", "--to", url)

    out = capsys.readouterr().out
    assert "SUCCEEDED: 21/21 files" in out or "SUCCEEDED: 22/22 files" in out, out
    job = Job.objects.get(kind=Job.Kind.MOVE_ARTIFACTS)
    assert job.state == Job.State.SUCCEEDED and (job.files_done, job.files_total) == (len(files), len(files))
    assert job.bytes_done == job.bytes_total == sum(len(d) for d in files.values())
    switch = ArtifactStoreSwitch.objects.get()
    assert (switch.store, switch.frozen) == (url, False) and switch.switched_at
    assert sorted(view.keys("")) == sorted(files)
    s3 = s3_server.client()
    for path, data in files.items():
        assert view.read(path) == data
        recorded = ArtifactChecksum.objects.get(path=path)
        assert recorded.sha256 == hashlib.sha256(data).hexdigest()
        assert (recorded.mtime_ns, recorded.inode) == (None, None)  # an object's record: size and checksums
        head = s3.head_object(Bucket=BUCKET, Key=f"{view.prefix}/{path}")
        assert head["Metadata"]["sha256"] == recorded.sha256
    assert AuditEvent.objects.filter(action="artifact_store.switch", object_name=url).count() == 1

    # The deployment now reads and writes on S3; the filesystem copy is left as it was.
    assert storage.active_store().url == url
    with storage.open_read("0/old/legacy.txt") as handle:
        assert handle.read() == b"from before the manifest"
    assert storage.recorded_sha256("0/run3/artifacts/model/data-3.bin") == hashlib.sha256(
        files["0/run3/artifacts/model/data-3.bin"]).hexdigest()
    write("0/new/after.txt", b"after the switch")
    assert view.read("0/new/after.txt") == b"after the switch"
    assert not (fs_store / "0/new").exists()
    assert (fs_store / "0/run0/artifacts/model/data-0.bin").read_bytes() == files["0/run0/artifacts/model/data-0.bin"]

    # Admins see the job on the Jobs page ("all jobs": the command line started it) like any other.
    from django.test import Client
    from django.urls import reverse

    browser = Client()
    browser.force_login(admin)
    page = browser.get(reverse("explorer:jobs"), {"all": "1"})
    assert page.status_code == 200 and "move_artifacts" in page.content.decode()
    assert f"Moved {len(files)} files to {url}" in page.content.decode()

    # A second run has nothing to do.
    with pytest.raises(CommandError, match="already"):
        call_command("artifacts_migrate", "--to", url)


def test_frozen_store_refuses_writes_and_jobs_wait(fs_store):
    write("0/r/artifacts/a.txt", b"a")
    ArtifactStoreSwitch.objects.create(pk=1, frozen=True, moving_to="s3://artifacts/x")
    with pytest.raises(storage.StoreMoving):
        write("0/r/artifacts/b.txt", b"b")
    with pytest.raises(storage.StoreMoving):
        storage.delete_tree("0/r")
    with storage.open_read("0/r/artifacts/a.txt") as handle:  # reads go on
        assert handle.read() == b"a"
    job = Job.objects.create(kind=Job.Kind.DELETE_ARTIFACTS, params={"prefixes": ["0/r"]})
    with pytest.raises(jobs.LeaseHeld):
        jobs.claim(job.pk, "t")
    assert Job.objects.get(pk=job.pk).attempts == 0

    ArtifactStoreSwitch.objects.filter(pk=1).update(frozen=False)
    assert jobs.execute(job.pk, "t") == Job.State.SUCCEEDED
    assert not storage.exists("0/r")


def test_frozen_store_answers_uploads_with_the_503_envelope(fs_store, api, owner):
    run = make_run()
    run.owner = owner
    run.save()
    ArtifactStoreSwitch.objects.create(pk=1, frozen=True, moving_to="s3://artifacts/x")
    location = run.artifact_uri.split(":/", 1)[1]
    answer = api(owner).put(f"/api/2.0/mlflow-artifacts/artifacts/{location}/x.txt", data=b"x",
                            content_type="application/octet-stream")
    assert answer.status_code == 503
    assert answer.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"


def test_a_file_that_rotted_fails_the_move_and_nothing_switches(fs_store, s3_server):
    write("0/r/artifacts/good.bin", b"g" * 5000)
    write("0/r/artifacts/rotted.bin", b"r" * 5000)
    full = fs_store / "0/r/artifacts/rotted.bin"
    before = os.stat(full)
    with open(full, "r+b") as handle:  # bit rot: other bytes, same size, inode and mtime
        handle.seek(100)
        handle.write(b"X")
    os.utime(full, ns=(before.st_atime_ns, before.st_mtime_ns))
    url, _ = target(s3_server)
    with pytest.raises(CommandError, match="rotted.bin no longer has the bytes recorded"):
        call_command("artifacts_migrate", "--to", url)
    assert Job.objects.get(kind=Job.Kind.MOVE_ARTIFACTS).state == Job.State.FAILED
    switch = ArtifactStoreSwitch.objects.get()
    assert (switch.store, switch.frozen) == ("", False)
    assert storage.active_store().url == ""
    write("0/r/artifacts/more.bin", b"writes go on")  # not frozen


@pytest.mark.parametrize("bad", ["/tmp/elsewhere", "s3://", "gs://bucket/x", "s3://Bad_Bucket/x"])
def test_a_bad_target_is_refused(fs_store, bad):
    with pytest.raises(CommandError, match="s3://<bucket>/<prefix>"):
        call_command("artifacts_migrate", "--to", bad)
    assert not Job.objects.exists()


def test_a_prefix_that_holds_objects_is_refused(fs_store, s3_server):
    url, view = target(s3_server)
    s3_server.client().put_object(Bucket=BUCKET, Key=f"{view.prefix}/someone-elses.txt", Body=b"x")
    with pytest.raises(CommandError, match="already holds objects"):
        call_command("artifacts_migrate", "--to", url)
    assert not Job.objects.exists()


def test_an_unreachable_bucket_is_refused(fs_store):
    with pytest.raises(CommandError, match="Cannot reach"):
        call_command("artifacts_migrate", "--to", "s3://no-such-bucket-here/x")


def test_a_rerun_resumes_the_crashed_move_without_uploading_again(fs_store, s3_server, settings):
    """What a crashed attempt leaves (a RUNNING job whose lease lapsed, part of the objects uploaded, one object of a
    file deleted since): the rerun takes the same job over, uploads only what is missing and removes the stray."""
    from datetime import timedelta

    from django.utils import timezone

    from registry.storage_move import _Counter, _sync_one, target_store

    files = {f"0/r/artifacts/f{i:02d}.bin": os.urandom(3000) for i in range(10)}
    for path, data in files.items():
        write(path, data)
    url, view = target(s3_server)
    s3 = target_store(url)
    recorded = artifact_manifest.entries(list(files))
    for path in sorted(files)[:6]:  # what the first attempt finished
        _sync_one(s3, path, recorded[path], _Counter(), 0)
    s3_server.client().put_object(Bucket=BUCKET, Key=f"{view.prefix}/0/r/artifacts/deleted-since.bin", Body=b"x")
    ArtifactStoreSwitch.objects.create(pk=1, moving_to=url)
    job = Job.objects.create(kind=Job.Kind.MOVE_ARTIFACTS, params={"to": url}, state=Job.State.RUNNING, attempts=1,
                             lease_owner="dead-host:1:x", lease_expires_at=timezone.now() - timedelta(seconds=1))
    mark = s3_server.mark()

    call_command("artifacts_migrate", "--to", url)

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.attempts == 2
    assert Job.objects.filter(kind=Job.Kind.MOVE_ARTIFACTS).count() == 1
    puts = [line for line in s3_server.requests(mark) if line.startswith(f"PUT /{BUCKET}/{view.prefix}/")]
    assert sorted(line.split("?")[0].rsplit("/", 1)[1] for line in puts) == [
        p.rsplit("/", 1)[1] for p in sorted(files)[6:]]
    assert sorted(view.keys("")) == sorted(files)
    for path, data in files.items():
        assert view.read(path) == data
    assert ArtifactStoreSwitch.objects.get().store == url


def test_writes_during_the_copy_are_caught_by_the_last_pass(fs_store, s3_server, settings):
    """A file uploaded, one replaced and one deleted while the first pass copies: after the move the store has
    exactly the files of the filesystem at the freeze, each with its latest bytes."""
    import threading

    from tests.conftest import wait_for

    files = {f"0/r/artifacts/f{i:02d}.bin": os.urandom(64 * 1024) for i in range(12)}
    for path, data in files.items():
        write(path, data)
    settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC = 256 * 1024  # ~3 s for the first pass
    url, view = target(s3_server)
    failure = []

    def run():
        try:
            call_command("artifacts_migrate", "--to", url)
        except BaseException as exc:  # reported below
            failure.append(exc)
        finally:
            from django.db import connection

            connection.close()

    mover = threading.Thread(target=run)
    mover.start()
    copied = {"0/r/artifacts/f00.bin", "0/r/artifacts/f01.bin"}
    wait_for(lambda: copied <= {f"0/r/artifacts/{key}" for key in view.keys("0/r/artifacts")}, timeout=60,
             interval=0.05, message="the first pass to have copied two files")
    # Changes to files the first pass has already copied, and one it cannot know of: only the last pass sees them.
    write("0/r/artifacts/new.bin", b"written during the move")
    write("0/r/artifacts/f01.bin", b"replaced during the move")
    storage.delete("0/r/artifacts/f00.bin")
    assert not ArtifactStoreSwitch.objects.get().frozen  # still the first pass: writes went through
    mover.join(timeout=120)
    assert not mover.is_alive() and not failure, failure

    expected = {**files, "0/r/artifacts/new.bin": b"written during the move",
                "0/r/artifacts/f01.bin": b"replaced during the move"}
    del expected["0/r/artifacts/f00.bin"]
    assert sorted(view.keys("")) == sorted(expected)
    for path, data in expected.items():
        assert view.read(path) == data, path
    assert ArtifactStoreSwitch.objects.get().store == url
