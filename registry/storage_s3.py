"""The S3-compatible backend of the artifact store (ARTIFACT_STORE=s3://<bucket>/<prefix>), a Django storage over
boto3 (imported only when this backend is configured). Only registry.storage and registry.storage_copy use it.

Credentials and region come from the environment as boto3 reads them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, AWS_PROFILE, instance roles...); AWS_S3_ENDPOINT_URL points it at another
S3-compatible server. Uploads stream in parts above ARTIFACT_S3_MULTIPART_THRESHOLD (a bounded number of parts in
memory, never the whole file); downloads stream the object's body; listings page through prefixes; copies inside
the store are server-side (CopyObject, UploadPartCopy above 5 GiB)."""
from __future__ import annotations

import posixpath
from functools import cached_property
from typing import Iterator
from urllib.parse import quote, urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage

_COPY_PART = 512 * 1024 ** 2
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


def parse_store_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix without slashes) of s3://bucket/prefix."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ImproperlyConfigured(f"ARTIFACT_STORE must look like s3://<bucket>/<prefix>, got {url!r}")
    return parsed.netloc, parsed.path.strip("/")


class _FullReads:
    """read(n) returns n bytes unless the stream ends: multipart parts other than the last must be full sized,
    and a request body may answer a read with fewer bytes than asked."""

    def __init__(self, stream):
        self.stream = stream

    def read(self, n: int = -1) -> bytes:
        # s3transfer reads "the rest" (n < 0) only after a short read of the multipart threshold, at the end.
        parts, left = [], n if n is not None and n >= 0 else float("inf")
        while left > 0:
            data = self.stream.read(int(min(left, 1024 * 1024)))
            if not data:
                break
            parts.append(data)
            left -= len(data)
        return b"".join(parts)


class S3File(File):
    """A streamed object body with its size known from the GET's headers."""

    def __init__(self, body, name: str, size: int):
        super().__init__(body, name=name)
        self._size = size
        self.mode = "rb"

    @property
    def size(self):
        return self._size

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        return self.file.read(None if n is None or n < 0 else n)

    def close(self) -> None:
        self.file.close()


class S3ArtifactStorage(Storage):
    is_object_store = True

    def __init__(self, url: str | None = None):
        self.bucket, self.prefix = parse_store_url(url or settings.ARTIFACT_STORE)

    @cached_property
    def client(self):
        import boto3
        from botocore.config import Config

        endpoint = settings.AWS_S3_ENDPOINT_URL or None
        style = settings.AWS_S3_ADDRESSING_STYLE
        # Checksums only where the API requires them: many S3-compatible servers do not implement the flexible
        # checksums botocore adds by default (moto's multipart ones do not validate); the bytes are checked
        # against the artifact manifest's SHA-256 / CRC-32 instead.
        # SigV4 also for presigned URLs (botocore would presign with the deprecated SigV2 otherwise).
        config = Config(s3={"addressing_style": style}, signature_version="s3v4",
                        retries={"max_attempts": 5, "mode": "standard"},
                        max_pool_connections=16, request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
        return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)

    def _transfer_config(self, *, copy: bool = False):
        from boto3.s3.transfer import TransferConfig

        if copy:
            return TransferConfig(multipart_threshold=settings.ARTIFACT_S3_MULTIPART_COPY_THRESHOLD,
                                  multipart_chunksize=_COPY_PART, max_concurrency=4)
        part = settings.ARTIFACT_S3_MULTIPART_CHUNK_BYTES
        config = TransferConfig(multipart_threshold=settings.ARTIFACT_S3_MULTIPART_THRESHOLD,
                                multipart_chunksize=part, max_concurrency=2)
        config.max_in_memory_upload_chunks = 2  # parts read ahead of the ones being sent: the upload's memory
        return config

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _dir_key(self, name: str) -> str:
        key = self.key(name) if name else self.prefix  # the store's root is the prefix itself, not "<prefix>/"
        return key + "/" if key else ""

    @staticmethod
    def _missing(exc) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    # Django's Storage interface.
    def _open(self, name, mode="rb"):
        from botocore.exceptions import ClientError

        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("artifact objects are written through save_stream")
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as exc:
            if self._missing(exc):
                raise FileNotFoundError(name) from None
            raise
        return S3File(answer["Body"], name, answer["ContentLength"])

    def _save(self, name, content):
        self.client.upload_fileobj(_FullReads(content), self.bucket, self.key(name),
                                   Config=self._transfer_config())
        return name

    def get_available_name(self, name, max_length=None):
        return name  # artifacts are overwritten under their own name

    def delete(self, name):
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))

    def exists(self, name):
        return self.is_file(name) or self.is_dir(name)

    def listdir(self, path):
        dirs, files = self.scan(path)
        return dirs, [name for name, _ in files]

    def size(self, name):
        info = self.head(name)
        if info is None:
            raise FileNotFoundError(name)
        return info["ContentLength"]

    def url(self, name):
        raise NotImplementedError("artifacts are served through the API")

    # What registry.storage needs beyond it.
    def head(self, name: str) -> dict | None:
        from botocore.exceptions import ClientError

        if not name:
            return None
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def is_file(self, name: str) -> bool:
        return self.head(name) is not None

    def is_dir(self, name: str) -> bool:
        answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._dir_key(name), MaxKeys=1)
        return answer.get("KeyCount", 0) > 0

    def scan(self, path: str) -> tuple[list[str], list[tuple[str, int]]]:
        """The sub-directories and (file name, size) directly below `path`, one page of 1000 at a time."""
        prefix = self._dir_key(path)
        dirs, files = [], []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/")
        for page in pages:
            dirs.extend(p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", ()))
            files.extend((o["Key"][len(prefix):], o["Size"]) for o in page.get("Contents", ())
                         if o["Key"] != prefix)
        return dirs, files

    def walk(self, path: str) -> Iterator[tuple[str, int]]:
        """(path relative to `path`, size) of every object below `path`, paging through the whole prefix."""
        prefix = self._dir_key(path)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                rel = item["Key"][len(prefix):]
                if rel and not rel.endswith("/"):
                    yield rel, item["Size"]

    def delete_tree(self, path: str) -> int:
        """Delete the object `path` and every object below it; returns how many."""
        keys = [self.key(rel if not path else posixpath.join(path, rel)) for rel, _ in self.walk(path)]
        if self.is_file(path):
            keys.append(self.key(path))
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start:start + _DELETE_BATCH]
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise OSError(f"S3 refused to delete {first.get('Key')}: {first.get('Message')}")
        return len(keys)

    def copy(self, source: str, target: str, *, if_match: str | None = None) -> None:
        """Server-side copy: CopyObject up to 5 GiB, UploadPartCopy parts above; the bytes never leave the store.
        With `if_match`, the copy is of the source object with that ETag or fails."""
        extra = {"CopySourceIfMatch": if_match} if if_match else None
        self.client.copy({"Bucket": self.bucket, "Key": self.key(source)}, self.bucket, self.key(target),
                         ExtraArgs=extra, Config=self._transfer_config(copy=True))

    def upload(self, name: str, stream, *, metadata: dict[str, str]) -> None:
        """Upload `stream` to `name` with user metadata (the move records each object's SHA-256 on it)."""
        self.client.upload_fileobj(_FullReads(stream), self.bucket, self.key(name),
                                   ExtraArgs={"Metadata": metadata}, Config=self._transfer_config())

    def presigned_get(self, name: str, *, filename: str, content_type: str, expires: int) -> str:
        """A URL that GETs the object `name` without credentials for `expires` seconds, answered as an attachment
        named `filename` with `content_type` (S3 sets the headers from the signed query)."""
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return self.client.generate_presigned_url(
            "get_object", ExpiresIn=expires,
            Params={"Bucket": self.bucket, "Key": self.key(name), "ResponseContentDisposition": disposition,
                    "ResponseContentType": content_type})

    def abort_abandoned_uploads(self, *, older_than_seconds: float) -> int:
        """AbortMultipartUpload of every multipart upload below the prefix started more than `older_than_seconds`
        ago (a process killed mid-upload leaves its parts, billed, behind); returns how many."""
        from datetime import datetime, timedelta, timezone

        cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than_seconds)
        prefix = self._dir_key("")
        aborted = 0
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", ()):
                if upload["Initiated"] < cutoff:
                    try:
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                           UploadId=upload["UploadId"])
                    except Exception as exc:  # completed or aborted meanwhile
                        if not self._missing(exc) and "NoSuchUpload" not in str(exc):
                            raise
                        continue
                    aborted += 1
        return aborted
