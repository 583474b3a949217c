"""Building the receipt service from settings: the one place real adapters are chosen."""

from __future__ import annotations

from sqlalchemy import Engine

from paywindow.receipts.content import ChargeLookup, Platform
from paywindow.receipts.service import ReceiptConfig, ReceiptService
from paywindow.receipts.signing import CloudFrontUrlSigner, S3UrlSigner, UrlSigner
from paywindow.receipts.storage import ObjectStore, make_s3_client
from paywindow.settings import Settings

__all__ = ["config_from_settings", "service_from_settings", "store_from_settings"]


def store_from_settings(settings: Settings) -> ObjectStore:
    secret = settings.s3_secret_access_key
    client = make_s3_client(
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
    )
    return ObjectStore(
        client,
        settings.receipts_bucket,
        kms_key_id=settings.receipts_kms_key_id,
        retention=settings.receipts_retention,
    )


def signer_from_settings(settings: Settings, store: ObjectStore) -> UrlSigner:
    if settings.cloudfront_domain and settings.cloudfront_key_id:
        if settings.cloudfront_private_key_file is None:
            from paywindow.errors import ConfigError

            raise ConfigError("PAYWINDOW_CLOUDFRONT_PRIVATE_KEY_FILE is not set")
        return CloudFrontUrlSigner.from_file(
            settings.cloudfront_domain,
            settings.cloudfront_key_id,
            settings.cloudfront_private_key_file,
        )
    return S3UrlSigner(store)


def config_from_settings(settings: Settings) -> ReceiptConfig:
    return ReceiptConfig(
        batch_size=settings.receipts_batch_size,
        max_attempts=settings.receipts_max_attempts,
        url_ttl=settings.receipts_url_ttl,
        poll_interval=settings.receipts_poll_interval,
    )


def service_from_settings(
    settings: Settings, engine: Engine, *, charge_lookup: ChargeLookup | None = None
) -> ReceiptService:
    store = store_from_settings(settings)
    return ReceiptService(
        engine,
        store,
        signer_from_settings(settings, store),
        Platform(settings.receipts_platform_name, settings.receipts_legal_footer),
        config=config_from_settings(settings),
        charge_lookup=charge_lookup,
    )
