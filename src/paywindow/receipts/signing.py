"""Download links: CloudFront signed URLs (canned policy), or S3 presigned URLs without a CDN.

A canned policy grants one URL until ``Expires``; CloudFront checks the RSA-SHA1 signature
with the public key registered under ``Key-Pair-Id``. The private key is read from a PEM file
whose path is configured; it never enters the database or the logs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paywindow.errors import ConfigError
from paywindow.receipts.storage import ObjectStore

__all__ = ["CloudFrontUrlSigner", "S3UrlSigner", "UrlSigner"]


class UrlSigner(Protocol):
    def sign(self, key: str, version_id: str | None, *, now: datetime, expires_at: datetime) -> str:
        """A URL that downloads ``key`` until ``expires_at``."""
        ...


class CloudFrontUrlSigner:
    """Signed URLs on ``https://<domain>/<key>`` with a canned policy."""

    def __init__(self, domain: str, key_id: str, private_key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("the CloudFront private key must be an RSA key")
        self._key = key
        self.domain = domain.removeprefix("https://").rstrip("/")
        self._signer = CloudFrontSigner(key_id, self._rsa_sign)

    @classmethod
    def from_file(cls, domain: str, key_id: str, path: Path) -> CloudFrontUrlSigner:
        try:
            return cls(domain, key_id, path.read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read CloudFront private key {path}: {exc}") from exc

    def _rsa_sign(self, message: bytes) -> bytes:
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA1())

    def sign(self, key: str, version_id: str | None, *, now: datetime, expires_at: datetime) -> str:
        # CloudFront serves the current version; an admin re-render makes the new one current.
        url = f"https://{self.domain}/{quote(key)}"
        signed: str = self._signer.generate_presigned_url(url, date_less_than=expires_at)
        return signed


class S3UrlSigner:
    """S3 presigned GET of the exact stored version (when no CloudFront is configured)."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def sign(self, key: str, version_id: str | None, *, now: datetime, expires_at: datetime) -> str:
        return self._store.presign_get(key, version_id=version_id, expires_in=expires_at - now)
