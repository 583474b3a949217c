"""The only place settings become objects: engine, Stripe client, object store, URL signer,
checkout and retry policies, reconciliation SLAs, and the ``sql/`` and ``reports/`` folders.

Shells (the server, the CLI, Prefect tasks, the demo) open :class:`Resources` once per run
with :func:`open_resources` and hand the pieces to :mod:`paywindow.jobs` or to the domain;
nothing else reads a setting to build something. Everything but the engine is built on first
use, so a command that never talks to Stripe or S3 never needs their settings.

``sql/`` and ``reports/`` are found in this order: the settings (``PAYWINDOW_SQL_DIR``,
``PAYWINDOW_REPORTS_DIR``), the copy shipped inside the wheel (``paywindow/_data/``), then the
folders of the source checkout this package runs from (an editable install).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from paywindow.errors import ConfigError
from paywindow.settings import Settings, load_settings

if TYPE_CHECKING:
    import stripe

    from paywindow.notify.relay import RelayConfig
    from paywindow.payments.checkout import CheckoutPolicy
    from paywindow.receipts.service import ReceiptConfig, ReceiptService
    from paywindow.receipts.signing import UrlSigner
    from paywindow.receipts.storage import ObjectStore
    from paywindow.reconcile.matching import Slas
    from paywindow.retries import RetryPolicy

__all__ = [
    "Resources",
    "checkout_policy",
    "checkout_root",
    "engine_from",
    "open_resources",
    "receipt_service",
    "relay_config",
    "reports_dir",
    "retry_policy",
    "slas",
    "sql_dir",
    "stripe_from",
]

_PACKAGED = Path(__file__).resolve().parent / "_data"
_CHECKOUT = Path(__file__).resolve().parents[2]


class Resources:
    """What one run needs, built from one :class:`Settings`; :meth:`close` disposes of it.

    ``engine`` and ``stripe_client`` may be handed in (tests, a caller that already holds them);
    what is handed in is not disposed of by :meth:`close`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        stripe_client: stripe.StripeClient | None = None,
    ) -> None:
        self.settings = settings
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else engine_from(settings)
        if stripe_client is not None:
            self.__dict__["stripe"] = stripe_client  # what the cached property would hold

    @cached_property
    def stripe(self) -> stripe.StripeClient:
        """The Stripe client (ConfigError without ``PAYWINDOW_STRIPE_API_KEY``)."""
        return stripe_from(self.settings)

    @property
    def has_stripe(self) -> bool:
        return "stripe" in self.__dict__ or self.settings.stripe_api_key is not None

    @cached_property
    def checkout(self) -> CheckoutPolicy:
        return checkout_policy(self.settings)

    @cached_property
    def retries(self) -> RetryPolicy:
        return retry_policy(self.settings, self.checkout)

    @cached_property
    def slas(self) -> Slas:
        return slas(self.settings)

    @cached_property
    def relay(self) -> RelayConfig:
        return relay_config(self.settings)

    @cached_property
    def sql_dir(self) -> Path:
        return sql_dir(self.settings)

    @cached_property
    def reports_dir(self) -> Path:
        return reports_dir(self.settings)

    @property
    def has_receipts(self) -> bool:
        """Whether an object store is configured (an endpoint, or AWS with a KMS key)."""
        return bool(self.settings.s3_endpoint_url or self.settings.receipts_kms_key_id)

    @cached_property
    def receipts(self) -> ReceiptService:
        return receipt_service(self.settings, self.engine)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


@contextmanager
def open_resources(settings: Settings | None = None) -> Iterator[Resources]:
    """Resources for ``settings`` (read from the environment when None), closed at the end."""
    resources = Resources(settings if settings is not None else load_settings())
    try:
        yield resources
    finally:
        resources.close()


def engine_from(settings: Settings) -> Engine:
    from paywindow.store import make_engine

    return make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)


def stripe_from(settings: Settings) -> stripe.StripeClient:
    """The Stripe client (raises ConfigError without ``PAYWINDOW_STRIPE_API_KEY``)."""
    from paywindow.gateway import make_stripe_client

    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else None
    return make_stripe_client(key, settings.stripe_api_base)


def checkout_policy(settings: Settings) -> CheckoutPolicy:
    from paywindow.inbox.backstop import record_session
    from paywindow.payments.checkout import CheckoutPolicy

    return CheckoutPolicy(
        window=settings.payment_window,
        margin=settings.checkout_expiry_margin,
        success_url=settings.checkout_success_url,
        cancel_url=settings.checkout_cancel_url,
        record_session=record_session,
    )


def retry_policy(settings: Settings, checkout: CheckoutPolicy | None = None) -> RetryPolicy:
    from paywindow.retries import RetryPolicy

    return RetryPolicy(
        checkout=checkout or checkout_policy(settings),
        offsets=tuple(settings.retry_offsets),
        lease=settings.retry_lease,
        batch_size=settings.retry_batch_size,
    )


def relay_config(settings: Settings) -> RelayConfig:
    from paywindow.notify.relay import RelayConfig

    return RelayConfig(timeout=settings.notify_timeout, workers=settings.notify_workers)


def slas(settings: Settings) -> Slas:
    from paywindow.reconcile.matching import Slas

    return Slas(
        webhook=settings.reconcile_webhook_sla,
        sync=settings.reconcile_sync_sla,
        refund=settings.reconcile_refund_sla,
    )


def sql_dir(settings: Settings | None = None) -> Path:
    """The ``sql/`` folder (its ``reconcile/`` holds the reconciliation queries)."""
    configured = settings.sql_dir if settings is not None else None
    return _find("sql", "reconcile", configured, "PAYWINDOW_SQL_DIR")


def reports_dir(settings: Settings | None = None) -> Path:
    """The ``reports/`` folder: templates, stylesheets, fonts and catalogs of every document."""
    configured = settings.reports_dir if settings is not None else None
    return _find("reports", "receipts", configured, "PAYWINDOW_REPORTS_DIR")


def checkout_root() -> Path | None:
    """The source checkout this package runs from (an editable install), if any."""
    return _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else None


def _find(name: str, marker: str, configured: Path | None, setting: str) -> Path:
    if configured is not None:
        if not (configured / marker).is_dir():
            raise ConfigError(f"{setting}={configured} has no {marker}/ folder")
        return configured.resolve()
    for candidate in (_PACKAGED / name, _CHECKOUT / name):
        if (candidate / marker).is_dir():
            return candidate
    raise ConfigError(f"{name}/ is neither packaged nor in a checkout; set {setting}")


def object_store(settings: Settings) -> ObjectStore:
    from paywindow.receipts.storage import ObjectStore, make_s3_client

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


def url_signer(settings: Settings, store: ObjectStore) -> UrlSigner:
    """CloudFront signed URLs when a distribution is configured, else S3 presigned URLs."""
    from paywindow.receipts.signing import CloudFrontUrlSigner, S3UrlSigner

    if settings.cloudfront_domain and settings.cloudfront_key_id:
        if settings.cloudfront_private_key_file is None:
            raise ConfigError("PAYWINDOW_CLOUDFRONT_PRIVATE_KEY_FILE is not set")
        return CloudFrontUrlSigner.from_file(
            settings.cloudfront_domain,
            settings.cloudfront_key_id,
            settings.cloudfront_private_key_file,
        )
    return S3UrlSigner(store)


def receipt_config(settings: Settings) -> ReceiptConfig:
    from paywindow.receipts.service import ReceiptConfig

    return ReceiptConfig(
        batch_size=settings.receipts_batch_size,
        max_attempts=settings.receipts_max_attempts,
        url_ttl=settings.receipts_url_ttl,
        poll_interval=settings.receipts_poll_interval,
    )


def receipt_service(settings: Settings, engine: Engine) -> ReceiptService:
    from paywindow.receipts.content import Platform
    from paywindow.receipts.service import ReceiptService

    store = object_store(settings)
    return ReceiptService(
        engine,
        store,
        url_signer(settings, store),
        Platform(settings.receipts_platform_name, settings.receipts_legal_footer),
        config=receipt_config(settings),
    )
