"""moto's S3 and KMS as a real HTTP endpoint, for tests, the demo and benchmarks.

``with running_s3() as s3:`` starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1 and a free
port, creates a KMS key and an Object-Lock-enabled (hence versioned) bucket, and gives the
endpoint, the names and ready-made clients. The boto3 code under test is the production code;
only ``endpoint_url`` differs. moto keeps its state per process, so each call uses a fresh
bucket name. moto is an extra (``paywindow[sandbox]``), imported only when a server starts.
"""

from __future__ import annotations

import importlib.util
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3

from paywindow.receipts.storage import ObjectStore, make_s3_client
from paywindow.sandbox import free_port

__all__ = [
    "TEST_CREDENTIALS",
    "S3Handle",
    "prepare_bucket",
    "require_moto",
    "running_s3",
]

TEST_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}


@dataclass(frozen=True)
class S3Handle:
    endpoint_url: str
    region: str
    bucket: str
    kms_key_id: str

    def client(self, **options: Any) -> Any:
        return make_s3_client(
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=TEST_CREDENTIALS["access_key_id"],
            secret_access_key=TEST_CREDENTIALS["secret_access_key"],
            **options,
        )

    def kms_client(self) -> Any:
        return boto3.session.Session(
            aws_access_key_id=TEST_CREDENTIALS["access_key_id"],
            aws_secret_access_key=TEST_CREDENTIALS["secret_access_key"],
            region_name=self.region,
        ).client("kms", endpoint_url=self.endpoint_url)

    def store(self, retention: timedelta = timedelta(days=2557), **options: Any) -> ObjectStore:
        return ObjectStore(
            self.client(**options), self.bucket, kms_key_id=self.kms_key_id, retention=retention
        )


def prepare_bucket(endpoint_url: str, region: str = "us-east-1", bucket: str = "") -> S3Handle:
    """Create a KMS key and an Object-Lock-enabled bucket on a running moto server."""
    bucket = bucket or f"receipts-{uuid.uuid4().hex[:12]}"
    handle = S3Handle(endpoint_url, region, bucket, "")
    key = handle.kms_client().create_key(Description="paywindow receipts")["KeyMetadata"]
    handle.client().create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return S3Handle(endpoint_url, region, bucket, key["Arn"])


def require_moto() -> None:
    """Fail clearly when moto (an extra: ``paywindow[sandbox]``) is not installed."""
    if importlib.util.find_spec("moto") is None:
        raise ModuleNotFoundError(
            "the S3/KMS emulator needs moto: install paywindow[sandbox] "
            "(pip install 'paywindow[sandbox]'; a checkout's uv sync has it)",
            name="moto",
        )


@contextmanager
def running_s3(region: str = "us-east-1", port: int | None = None) -> Iterator[S3Handle]:
    """moto's S3/KMS server on a free loopback port for the duration of the block."""
    require_moto()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield prepare_bucket(f"http://127.0.0.1:{port}", region)
    finally:
        server.stop()
