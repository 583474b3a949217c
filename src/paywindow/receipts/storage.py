"""The object store for receipt PDFs: S3 with Object Lock (COMPLIANCE) and SSE-KMS, via boto3.

Every object is written with a COMPLIANCE retention (nobody, not even the root account, can
delete or overwrite that version before it ends) and encrypted with the configured KMS key.
Writes are conditional, which is what makes a re-run harmless:

* the first version is put with ``If-None-Match: *``: if an object already exists under the
  key (an earlier run stored it and crashed before committing), S3 answers 412 and the
  existing object is adopted instead of a second, different receipt being created;
* an admin re-render is put with ``If-Match: <etag of the version we know>``: a crashed
  re-render that already stored its version makes the retry's precondition fail, and the
  version it stored is adopted (recognised by its ``paywindow-version`` metadata).

Tests and the demo point the same code at moto's S3/KMS server; production at AWS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from paywindow.errors import ObjectStoreRejected, ObjectStoreUnavailable

__all__ = [
    "ObjectStore",
    "ObjectStoreRejected",
    "ObjectStoreUnavailable",
    "StoredObject",
    "make_s3_client",
]

_TRANSIENT_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "KMS.KMSInternalException",
    "KMS.ThrottlingException",
    "KMS.DependencyTimeoutException",
    "KMS.DisabledException",
    "KMS.KMSInvalidStateException",
}


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One stored version of a receipt object, as read back from S3."""

    key: str
    version_id: str | None
    etag: str
    sha256: str
    size: int
    metadata: dict[str, str]
    adopted: bool = False  # True when the object was already there (a re-run)


def make_s3_client(
    *,
    endpoint_url: str | None,
    region: str,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    max_attempts: int = 3,
    timeout: float = 10.0,
) -> Any:
    """A boto3 S3 client built explicitly; ``endpoint_url`` points it at moto in tests."""
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
    )
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=min(timeout, 3.0),
        read_timeout=timeout,
        s3={"addressing_style": "path"},
        signature_version="s3v4",
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


class ObjectStore:
    """Receipt objects in one bucket: locked for ``retention``, encrypted with ``kms_key_id``."""

    def __init__(
        self, client: Any, bucket: str, *, kms_key_id: str | None, retention: timedelta
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self.retention = retention

    def put_first(
        self, key: str, body: bytes, *, now: datetime, metadata: dict[str, str]
    ) -> StoredObject:
        """Store the first version of ``key``; adopt the existing object if there is one."""
        try:
            return self._put(key, body, now, metadata, IfNoneMatch="*")
        except _PreconditionFailed:
            found = self.head(key)
            if found is None:  # pragma: no cover - deleted between the 412 and the HEAD
                raise ObjectStoreUnavailable(f"{key}: precondition failed but no object") from None
            return _adopted(found)

    def put_next(
        self,
        key: str,
        body: bytes,
        *,
        now: datetime,
        metadata: dict[str, str],
        expected_etag: str,
    ) -> StoredObject:
        """Store a new version over the one with ``expected_etag`` (an admin re-render)."""
        try:
            return self._put(key, body, now, metadata, IfMatch=expected_etag)
        except _PreconditionFailed:
            found = self.head(key)
            wanted = metadata.get("paywindow-version")
            if found is not None and found.metadata.get("paywindow-version") == wanted:
                return _adopted(found)
            raise ObjectStoreRejected(f"{key}: changed by someone else") from None

    def head(self, key: str, version_id: str | None = None) -> StoredObject | None:
        """The object's current (or given) version, or None when there is none."""
        extra = {"VersionId": version_id} if version_id else {}
        try:
            with _s3_errors():
                meta = self.client.head_object(Bucket=self.bucket, Key=key, **extra)
        except ObjectStoreRejected as exc:
            if "404" in str(exc) or "NoSuchKey" in str(exc) or "Not Found" in str(exc):
                return None
            raise
        metadata = dict(meta.get("Metadata", {}))
        return StoredObject(
            key=key,
            version_id=meta.get("VersionId"),
            etag=meta["ETag"],
            sha256=metadata.get("sha256", ""),
            size=int(meta["ContentLength"]),
            metadata=metadata,
        )

    def get(self, key: str, version_id: str | None = None) -> bytes:
        extra = {"VersionId": version_id} if version_id else {}
        with _s3_errors():
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key, **extra)[
                "Body"
            ].read()
        return body

    def presign_get(self, key: str, *, version_id: str | None, expires_in: timedelta) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        with _s3_errors():
            url: str = self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=int(expires_in.total_seconds())
            )
        return url

    def _put(
        self, key: str, body: bytes, now: datetime, metadata: dict[str, str], **condition: str
    ) -> StoredObject:
        digest = hashlib.sha256(body).hexdigest()
        meta = {**metadata, "sha256": digest}
        encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
        if self.kms_key_id:
            encryption["SSEKMSKeyId"] = self.kms_key_id
        with _s3_errors():
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/pdf",
                Metadata=meta,
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=now + self.retention,
                **encryption,
                **condition,
            )
        return StoredObject(
            key=key,
            version_id=answer.get("VersionId"),
            etag=answer["ETag"],
            sha256=digest,
            size=len(body),
            metadata=meta,
        )


class _PreconditionFailed(Exception):
    pass


def _adopted(found: StoredObject) -> StoredObject:
    return StoredObject(
        key=found.key,
        version_id=found.version_id,
        etag=found.etag,
        sha256=found.sha256,
        size=found.size,
        metadata=found.metadata,
        adopted=True,
    )


@contextmanager
def _s3_errors() -> Iterator[None]:
    """Translate botocore errors: 412 to _PreconditionFailed, transient ones to Unavailable."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if status == 412 or code == "PreconditionFailed":
            raise _PreconditionFailed() from exc
        if status >= 500 or code in _TRANSIENT_CODES or code.startswith("KMS."):
            raise ObjectStoreUnavailable(f"S3 {code or status}: {exc}") from exc
        raise ObjectStoreRejected(f"S3 {code or status}: {exc}") from exc
    except BotoCoreError as exc:
        raise ObjectStoreUnavailable(f"S3 unreachable: {exc}") from exc
