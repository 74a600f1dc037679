"""The sweep of abandoned multipart uploads on S3 (registry.tasks.sweep_partial_uploads, every 10 minutes with
celery beat): AbortMultipartUpload of the store's uploads older than ARTIFACT_S3_ABANDONED_UPLOAD_HOURS, nothing
outside the store's prefix. Against moto's server, which reports every upload as initiated on 2010-11-10, so an
upload's age is "since then": the tests set the threshold below and above it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from registry import storage, tasks
from tests.s3 import BUCKET, use_s3_store

pytestmark = pytest.mark.django_db

MOTO_INITIATED = datetime(2010, 11, 10, 20, 48, 33, tzinfo=timezone.utc)


def start_upload(s3, key: str) -> str:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * (5 * 1024 * 1024))
    return upload


def uploads(s3, prefix: str) -> set[str]:
    return {u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", ())}


@pytest.fixture
def store(settings, tmp_path, s3_server):
    settings.ARTIFACT_ROOT = tmp_path / "unused"
    return use_s3_store(settings, s3_server)


def test_the_beat_sweep_aborts_the_stores_abandoned_uploads_only(store, s3_server, settings):
    s3 = s3_server.client()
    mine = [f"{store.prefix}/0/run/artifacts/model/big-{i}.bin" for i in range(3)]
    for key in mine:
        start_upload(s3, key)
    elsewhere = f"{store.prefix}-other/0/x.bin"  # another deployment's prefix that starts with ours
    start_upload(s3, elsewhere)
    age_hours = (datetime.now(timezone.utc) - MOTO_INITIATED).total_seconds() / 3600

    settings.ARTIFACT_S3_ABANDONED_UPLOAD_HOURS = int(age_hours) + 24  # younger than the threshold: kept
    assert tasks.sweep_partial_uploads() == 0
    assert uploads(s3, f"{store.prefix}/") == set(mine)

    settings.ARTIFACT_S3_ABANDONED_UPLOAD_HOURS = 24
    assert tasks.sweep_partial_uploads() == 3
    assert uploads(s3, f"{store.prefix}/") == set()
    assert uploads(s3, f"{store.prefix}-other/") == {elsewhere}
    assert tasks.sweep_partial_uploads() == 0  # nothing left to abort
    s3.abort_multipart_upload(Bucket=BUCKET, Key=elsewhere,
                              UploadId=s3.list_multipart_uploads(Bucket=BUCKET, Prefix=elsewhere)["Uploads"][0]["UploadId"])


def test_a_completed_upload_is_not_touched(store, s3_server, settings):
    import io

    storage.save_stream("0/r/artifacts/whole.bin", io.BytesIO(b"y" * (9 * 1024 * 1024)))  # multipart, completed
    settings.ARTIFACT_S3_ABANDONED_UPLOAD_HOURS = 1
    assert tasks.sweep_partial_uploads() == 0
    assert store.read("0/r/artifacts/whole.bin") == b"y" * (9 * 1024 * 1024)
