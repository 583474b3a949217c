"""All configuration, read once from ``PAYWINDOW_*`` environment variables (or a ``.env`` file).

Every shell (CLI, server, flows) calls :func:`load_settings` at start and passes values down;
domain code never reads the environment.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from paywindow.errors import ConfigError

__all__ = ["MAX_RETRIES", "Settings", "load_settings", "parse_offsets"]

_SQLITE_DEFAULT = "sqlite:///./var/paywindow.db"


#: At most this many retries of a failed payment (the retry policy's limit).
MAX_RETRIES = 3

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_offsets(text: str) -> list[timedelta]:
    """``"1h,6h,18h"`` (or seconds: ``"3600,21600"``) as a list of positive durations."""
    offsets = []
    for part in text.split(","):
        match = _DURATION.match(part)
        if not match:
            raise ValueError(f"not a duration: {part!r} (use e.g. 1h, 90m, 3600)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        if seconds <= 0:
            raise ValueError("retry offsets must be positive")
        offsets.append(timedelta(seconds=seconds))
    if not offsets or len(offsets) > MAX_RETRIES:
        raise ValueError(f"give 1 to {MAX_RETRIES} retry offsets")
    return offsets


class Settings(BaseSettings):
    """paywindow's settings; each field is ``PAYWINDOW_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="PAYWINDOW_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default=_SQLITE_DEFAULT,
        description="SQLAlchemy URL: sqlite:///path (WAL) or postgresql+psycopg://user@host/db.",
    )
    data_dir: Path = Field(default=Path("var"), description="Where local files are kept.")
    sql_dir: Path | None = Field(
        default=None, description="The sql/ folder; None: the one shipped with paywindow."
    )
    reports_dir: Path | None = Field(
        default=None, description="The reports/ templates; None: the ones shipped with paywindow."
    )
    db_busy_timeout: float = Field(
        default=2.0, gt=0, le=60, description="Seconds to wait for a locked database."
    )

    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated webhook signing secrets (whsec_...); several for rotation.",
    )
    webhook_tolerance: int = Field(
        default=300,
        gt=0,
        description="Seconds a Stripe-Signature timestamp may be old, or ahead (clock skew).",
    )
    webhook_max_body: int = Field(
        default=512 * 1024, gt=0, description="Largest accepted webhook body, in bytes."
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        min_length=1,
        description="Comma-separated proxy addresses (or *) whose X-Forwarded-For and "
        "X-Forwarded-Proto `paywindow serve` trusts; unset: none, not even loopback.",
    )

    stripe_api_key: SecretStr | None = Field(default=None, description="sk_test_/sk_live_ key.")
    stripe_api_base: str | None = Field(
        default=None, description="Base URL of the Stripe API; the sandbox's URL when offline."
    )
    api_token: SecretStr | None = Field(
        default=None, description="The marketplace app's bearer token for /v1/orders."
    )
    support_token: SecretStr | None = Field(
        default=None,
        description="Support's bearer token: reads orders and runs support actions (/retry); "
        "must differ from the API token.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="The operator's bearer token for /v1/notification_endpoints (webhook "
        "endpoints and their secrets); must differ from the other two.",
    )
    payment_window: timedelta = Field(
        default=timedelta(hours=24),
        description="Time a buyer has to pay: an ISO-8601 duration (PT24H) or seconds.",
    )

    checkout_expiry_margin: timedelta = Field(
        default=timedelta(minutes=5),
        description="How far below Stripe's 24 h cap a session's expires_at is kept.",
    )
    checkout_success_url: str = Field(
        default="https://marketplace.example/checkout/done?session={CHECKOUT_SESSION_ID}",
        description="Where Checkout sends the buyer after paying.",
    )
    checkout_cancel_url: str = Field(
        default="https://marketplace.example/checkout/cancelled",
        description="Where Checkout sends a buyer who backs out.",
    )
    api_max_body: int = Field(default=64 * 1024, gt=0, description="Largest order API body.")

    # --- receipts: add receipt settings below this line ---
    receipts_bucket: str = Field(
        default="paywindow-receipts", description="S3 bucket (Object Lock enabled) for receipts."
    )
    receipts_kms_key_id: str | None = Field(
        default=None, description="KMS key id or ARN for SSE-KMS of every stored receipt."
    )
    receipts_retention: timedelta = Field(
        default=timedelta(days=2557),
        description="Object Lock COMPLIANCE retention: ISO-8601 duration (P2557D = 7 years).",
    )
    receipts_url_ttl: timedelta = Field(
        default=timedelta(hours=24), description="Lifetime of a receipt download URL."
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3/KMS endpoint (moto in tests and the demo); None for AWS."
    )
    s3_region: str = Field(default="us-east-1", description="AWS region of bucket and key.")
    s3_access_key_id: str | None = Field(
        default=None, description="Explicit S3 access key (moto); None: boto3's default chain."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Its secret.")
    cloudfront_domain: str | None = Field(
        default=None, description="CloudFront domain serving the bucket (d111.cloudfront.net)."
    )
    cloudfront_key_id: str | None = Field(
        default=None, description="CloudFront public key id (K2JCJMDEHXQW5F) of the signer."
    )
    cloudfront_private_key_file: Path | None = Field(
        default=None, description="PEM file of the RSA private key for CloudFront signed URLs."
    )
    receipts_platform_name: str = Field(
        default="paywindow marketplace", description="Platform name printed on receipts."
    )
    receipts_legal_footer: str = Field(
        default=(
            "paywindow Marketplace Ltd. acts as payment collection agent for the seller named "
            "above. Registered office: 1 Example Street, London. Company no. 00000000. "
            "VAT no. GB000000000."
        ),
        description="Legal footer printed on every receipt and credit note.",
    )
    receipts_batch_size: int = Field(
        default=8, ge=1, le=500, description="Receipts claimed per batch by one renderer."
    )
    receipts_workers: int = Field(
        default=0, ge=0, description="Render processes; 0 means one per core."
    )
    receipts_poll_interval: float = Field(
        default=0.2, gt=0, description="Seconds between renderer polls when idle."
    )
    receipts_max_attempts: int = Field(
        default=10, ge=1, description="Render attempts before a receipt job is parked as failed."
    )

    # --- retries: add retry settings below this line ---
    retry_offsets: Annotated[list[timedelta], NoDecode] = Field(
        default_factory=lambda: [timedelta(hours=1), timedelta(hours=6), timedelta(hours=18)],
        description="Retry times after an order's first failure, comma-separated (1h,6h,18h); "
        "at most 3 are used.",
    )
    retry_lease: timedelta = Field(
        default=timedelta(minutes=10),
        description="How long a claimed retry attempt is reserved for the run that claimed it.",
    )
    retry_batch_size: int = Field(
        default=200, ge=1, le=10_000, description="Most due retry attempts executed per run."
    )

    @field_validator("retry_offsets", mode="before")
    @classmethod
    def _parse_retry_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_offsets(value)
        return value

    # --- reconciliation: add reconciliation settings below this line ---
    reconcile_sync_overlap: timedelta = Field(
        default=timedelta(days=7),
        description="How far before the last synced 'created' the ledger sync looks again.",
    )
    reconcile_webhook_sla: timedelta = Field(
        default=timedelta(hours=6),
        description="How long a Stripe-side change may take to reach paywindow by webhook.",
    )
    reconcile_sync_sla: timedelta = Field(
        default=timedelta(hours=1),
        description="How long a local payment may wait for the ledger sync to see it.",
    )
    reconcile_refund_sla: timedelta = Field(
        default=timedelta(hours=1),
        description="How long a payment after the deadline may wait for its automatic refund.",
    )
    reconcile_duckdb_memory: str = Field(
        default="2GB", description="DuckDB memory_limit for reconciliation queries."
    )
    reconcile_duckdb_threads: int = Field(
        default=2, ge=1, description="DuckDB threads for reconciliation queries."
    )

    # --- operations: metrics, logs and alerts ---
    dogstatsd_host: str = Field(default="127.0.0.1", description="DogStatsD agent host (UDP).")
    dogstatsd_port: int = Field(default=8125, ge=0, le=65535, description="DogStatsD port.")
    metrics_enabled: bool = Field(
        default=True, description="Send payments.* metrics to DogStatsD (silent with no agent)."
    )
    log_level: str = Field(default="INFO", description="Log level: DEBUG, INFO, WARNING, ...")
    log_json: bool = Field(default=True, description="Log one JSON object per line.")
    alerts_receipt_pending_after: timedelta = Field(
        default=timedelta(minutes=15),
        description="A paid order without a stored receipt for this long raises an alert.",
    )
    alerts_notify_block: str | None = Field(
        default=None,
        description="Prefect notification block alerts send to, as type-slug/name "
        "(slack-webhook/oncall); none: alerts only show in the Prefect UI.",
    )

    processor_poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between processor sweeps when idle."
    )
    processor_max_attempts: int = Field(
        default=12, ge=1, description="Attempts before a failing event stops being retried."
    )

    notify_timeout: float = Field(
        default=15.0, gt=0, le=60, description="Seconds a marketplace endpoint has to answer."
    )
    notify_workers: int = Field(
        default=16, ge=1, le=256, description="Deliveries in flight at once, per relay."
    )
    notify_poll_interval: float = Field(
        default=0.2, gt=0, description="Seconds between relay passes when idle."
    )
    alerts_notify_backlog_after: timedelta = Field(
        default=timedelta(minutes=10),
        description="A notification still undelivered after this long raises an alert.",
    )

    @field_validator("stripe_webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("stripe_webhook_secrets")
    @classmethod
    def _check_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if not secret.get_secret_value().startswith("whsec_"):
                raise ValueError("each webhook secret must start with whsec_")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("payment_window", mode="before")
    @classmethod
    def _seconds_as_number(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("payment_window")
    @classmethod
    def _check_window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    def webhook_secret_values(self) -> list[str]:
        return [secret.get_secret_value() for secret in self.stripe_webhook_secrets]


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise :class:`ConfigError` naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"PAYWINDOW_{'_'.join(str(p) for p in err['loc'][:1]).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
