"""A real S3-compatible server for the tests: moto's standalone server (`python -m moto.server`, from moto[server]),
started on loopback by the test session in a process of its own, never a mock inside the test process. The
fixtures point the artifact store at a fresh prefix of its bucket, and StoreView reads what a test stored
straight from the filesystem or from S3 (not through registry.storage, the code under test)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from registry.child_process import die_with_parent

BUCKET = "artifacts"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    def __init__(self, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                env={**os.environ, **CREDENTIALS})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto server did not start within 60 s")
        self.client().create_bucket(Bucket=BUCKET)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        ).client("s3", endpoint_url=self.url, config=Config(s3={"addressing_style": "path"}))

    def mark(self) -> int:
        """Where the server's request log ends now: requests(mark) are those made after it."""
        return self.log.stat().st_size

    def requests(self, since: int = 0) -> list[str]:
        """The request lines ("GET /bucket/key?query") the server logged after `since`."""
        time.sleep(0.2)  # the server writes its log line after answering
        with open(self.log, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", "replace")
        return [line.split('"')[1].rsplit(" ", 1)[0] for line in text.splitlines() if line.count('"') >= 2]

    def env(self, prefix: str) -> dict[str, str]:
        """The environment of a process (web, worker) whose artifact store is `prefix` in the bucket."""
        return {**CREDENTIALS, "ARTIFACT_STORE": f"s3://{BUCKET}/{prefix}", "AWS_S3_ENDPOINT_URL": self.url}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log")
    server.start()
    os.environ.update(CREDENTIALS)  # boto3 in this process reads them from the environment, as deployments do
    yield server
    server.stop()


class S3Path:
    """A path in the S3 store with the few pathlib.Path methods the storage tests use on the filesystem root
    (`root / "a/b"`, read_bytes, exists, stat().st_size, rglob), read straight from the bucket. `parent` is the
    test's temporary directory on the filesystem (ARTIFACT_ROOT's parent), where nothing may appear."""

    def __init__(self, view: "S3View", rel: str = "", parent: Path | None = None):
        self.view, self.rel, self._parent = view, rel.strip("/"), parent

    def __truediv__(self, other) -> "S3Path":
        return S3Path(self.view, f"{self.rel}/{other}" if self.rel else str(other), self._parent)

    @property
    def parent(self) -> Path:
        return self._parent

    def read_bytes(self) -> bytes:
        return self.view.read(self.rel)

    def exists(self) -> bool:
        return self.view.exists(self.rel)

    def stat(self):
        return os.stat_result((0, 0, 0, 0, 0, 0, self.view.size(self.rel), 0, 0, 0))

    def is_file(self) -> bool:
        return True  # rglob yields objects only

    def rglob(self, pattern: str) -> list["S3Path"]:
        assert pattern == "*"
        return [self / key for key in self.view.keys(self.rel)]

    def names(self) -> list[str]:
        return self.view.names(self.rel)


class S3View:
    """What is stored, read from the bucket with boto3."""

    kind = "s3"

    def __init__(self, server: S3Server, prefix: str):
        self.s3, self.prefix = server.client(), prefix

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if path else self.prefix

    def read(self, path: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=self._key(path))["Body"].read()

    def keys(self, directory: str = "") -> list[str]:
        start = self._key(directory) + "/"
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=start):
            found.extend(item["Key"][len(start):] for item in page.get("Contents", ()))
        return found

    def exists(self, path: str) -> bool:
        try:
            self.s3.head_object(Bucket=BUCKET, Key=self._key(path))
            return True
        except self.s3.exceptions.ClientError:
            return bool(self.keys(path))

    def root(self, parent: Path) -> S3Path:
        return S3Path(self, "", parent)

    def size(self, path: str) -> int:
        return self.s3.head_object(Bucket=BUCKET, Key=self._key(path))["ContentLength"]

    def names(self, directory: str) -> list[str]:
        return sorted({key.split("/", 1)[0] for key in self.keys(directory)})


def use_s3_store(settings, server: S3Server) -> S3View:
    """Point this process's artifact store at a fresh prefix of the test bucket."""
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    settings.ARTIFACT_STORE = f"s3://{BUCKET}/{prefix}"
    settings.AWS_S3_ENDPOINT_URL = server.url
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    return S3View(server, prefix)
