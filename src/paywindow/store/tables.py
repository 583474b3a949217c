"""SQLAlchemy Core tables: the operational store (SQLite by default, PostgreSQL in production).

The schema itself is created by Alembic migrations (``store/migrations``); these table objects
are what the code queries with, and the initial migration is written to match them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UtcDateTime",
    "attempts",
    "event_log",
    "ledger_cursors",
    "metadata",
    "notification_attempts",
    "notification_deliveries",
    "notification_endpoints",
    "order_items",
    "order_transitions",
    "orders",
    "outbox",
    "payment_failures",
    "receipt_counters",
    "receipt_versions",
    "receipts",
    "reconcile_findings",
    "reconcile_run_findings",
    "reconcile_runs",
    "retry_attempts",
    "retry_plans",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone, so it is stored as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_Ts = UtcDateTime()

event_log = Table(
    "event_log",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False, unique=True),
    Column("type", String(255), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("account", String(255)),
    Column("livemode", Boolean, nullable=False),
    Column("api_version", String(64)),
    Column("body", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),
    Column("received_at", _Ts, nullable=False),
    Column("remote_addr", String(64)),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", _Ts),
    Column("waiting_on", String(255)),
    Column("order_id", String(64)),
    Column("note", Text),
    Column("last_error", Text),
    Column("last_traceback", Text),
    Column("processed_at", _Ts),
    Index("ix_event_log_status_next", "status", "next_attempt_at"),
    Index("ix_event_log_waiting_on", "waiting_on"),
    Index("ix_event_log_received_at", "received_at"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_total", BigInteger, nullable=False),
    Column("application_fee_amount", BigInteger, nullable=False),
    Column("seller_account", String(255), nullable=False),
    Column("buyer_id", String(255), nullable=False),
    Column("buyer_email", String(320)),
    Column("customer", String(255)),
    Column("deadline", _Ts, nullable=False),
    Column("current_attempt", Integer, nullable=False, default=1),
    Column("window_closed_at", _Ts),
    # Facts merged from Stripe events (monotone: see payments/facts.py).
    Column("paid_at", _Ts),
    Column("payment_intent", String(255)),
    Column("charge", String(255)),
    Column("amount_charged", BigInteger),
    Column("amount_refunded", BigInteger, nullable=False, default=0),
    Column("dispute", String(255)),
    Column("dispute_status", String(32)),
    Column("created_at", _Ts, nullable=False),
    Column("updated_at", _Ts, nullable=False),
    Column("locale", String(35)),
    Column("seller_name", String(255)),
    Column("request_hash", String(64)),
    Column("late_refund", String(255)),
    Column("synced_at", _Ts),
    # A payment that does not match the order holds it for review (state payment_mismatch).
    Column("held_reason", Text),
    # The order lease: who is talking to Stripe about this order, about what, until when
    # (one session, charge or refund at a time per order; see payments/lease.py).
    Column("busy_by", String(64)),
    Column("busy_with", String(255)),
    Column("busy_until", _Ts),
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("unit_amount", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("tax_amount", BigInteger, nullable=False, default=0),
    UniqueConstraint("order_id", "position", name="uq_order_items_order_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("session_id", String(255), unique=True),
    Column("payment_intent", String(255), unique=True),
    Column("status", String(16), nullable=False),
    Column("expires_at", _Ts),
    Column("completed_at", _Ts),
    Column("created_at", _Ts, nullable=False),
    Column("url", Text),
    Column("channel", String(16)),
    Index("ix_attempts_order", "order_id", "attempt"),
    Index("uq_attempts_order_attempt", "order_id", "attempt", unique=True),
)

payment_failures = Table(
    "payment_failures",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("failure_key", String(255), nullable=False),
    Column("payment_intent", String(255)),
    Column("charge", String(255)),
    Column("code", String(64)),
    Column("decline_code", String(64)),
    Column("advice_code", String(64)),
    Column("message", Text),
    Column("failed_at", _Ts, nullable=False),
    Column("event_id", String(255), nullable=False),
    UniqueConstraint("failure_key", name="uq_payment_failures_failure_key"),
    Index("ix_payment_failures_order", "order_id"),
)

order_transitions = Table(
    "order_transitions",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("event_id", String(255)),
    Column("reason", String(255), nullable=False),
    Column("at", _Ts, nullable=False),
    Index("ix_order_transitions_order", "order_id", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("order_id", String(64)),
    Column("dedupe_key", String(255), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", _Ts, nullable=False),
    Column("published_at", _Ts),
    # the feed position: given in the order messages became visible (paywindow.notify.feed)
    Column("seq", BigInteger),
    UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    Index("ix_outbox_unpublished", "published_at", "id"),
    Index("uq_outbox_seq", "seq", unique=True),
)

# --- notifications: the outbox delivered as signed webhooks ---------------------------

notification_endpoints = Table(
    "notification_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("topics", Text),  # a JSON list; NULL is every topic
    Column("secret", String(128), nullable=False),
    Column("previous_secret", String(128)),  # still signs until previous_until (rotation)
    Column("previous_until", _Ts),
    Column("description", String(255)),
    Column("created_at", _Ts, nullable=False),
    Column("disabled_at", _Ts),
    Column("disabled_reason", String(255)),
    Column("failing_since", _Ts),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("message_id", _Id, ForeignKey("outbox.id"), nullable=False),
    Column("endpoint_id", String(40), ForeignKey("notification_endpoints.id"), nullable=False),
    Column("order_id", String(64)),
    Column("seq", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", _Ts, nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_until", _Ts),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("delivered_at", _Ts),
    Column("created_at", _Ts, nullable=False),
    UniqueConstraint("message_id", "endpoint_id", name="uq_notification_deliveries"),
    Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    Index("ix_notification_deliveries_order", "endpoint_id", "order_id", "seq"),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("delivery_id", _Id, ForeignKey("notification_deliveries.id"), nullable=False),
    Column("attempted_at", _Ts, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer),
    Column("response_excerpt", String(500)),
    Column("error", String(500)),
    Index("ix_notification_attempts_delivery", "delivery_id"),
)


# --- reconciliation ---------------------------------------------------------------

ledger_cursors = Table(
    "ledger_cursors",
    metadata,
    Column("resource", String(64), primary_key=True),
    Column("created_through", BigInteger, nullable=False),
    Column("synced_at", _Ts, nullable=False),
    Column("rows", BigInteger, nullable=False, default=0),
)

reconcile_runs = Table(
    "reconcile_runs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("started_at", _Ts, nullable=False),
    Column("finished_at", _Ts),
    Column("period_from", _Ts, nullable=False),
    Column("period_to", _Ts, nullable=False),
    Column("as_of", _Ts, nullable=False),
    Column("findings", Integer, nullable=False, default=0),
    Column("expected", Integer, nullable=False, default=0),
    Column("summary", Text),
)

reconcile_findings = Table(
    "reconcile_findings",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("order_id", String(64)),
    Column("stripe_id", String(255)),
    Column("currency", String(3)),
    Column("local_amount", BigInteger),
    Column("stripe_amount", BigInteger),
    Column("explanation", Text, nullable=False),
    Column("occurred_at", _Ts),
    Column("first_run_id", _Id, ForeignKey("reconcile_runs.id"), nullable=False),
    Column("last_run_id", _Id, ForeignKey("reconcile_runs.id"), nullable=False),
    Column("first_seen_at", _Ts, nullable=False),
    Column("last_seen_at", _Ts, nullable=False),
    Column("resolved_at", _Ts),
    Column("resolution_note", Text),
    UniqueConstraint("fingerprint", name="uq_reconcile_findings_fingerprint"),
    Index("ix_reconcile_findings_kind", "kind"),
)

reconcile_run_findings = Table(
    "reconcile_run_findings",
    metadata,
    Column("run_id", _Id, ForeignKey("reconcile_runs.id"), primary_key=True),
    Column("finding_id", _Id, ForeignKey("reconcile_findings.id"), primary_key=True),
)


# --- receipts ---------------------------------------------------------------------

receipt_counters = Table(
    "receipt_counters",
    metadata,
    Column("series", String(32), primary_key=True),
    Column("last_value", BigInteger, nullable=False),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    # For a credit note: the order's cumulative refunded amount it brings the receipts up to;
    # 0 for the receipt itself. Unique per order, so each refund step gets one document.
    Column("refunded_to", BigInteger, nullable=False),
    Column("series", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("number", String(32), nullable=False),
    Column("original_number", String(32)),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("issued_at", _Ts, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("target_version", Integer, nullable=False, default=1),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", _Ts, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", _Ts),
    Column("object_key", String(255), nullable=False),
    Column("version_id", String(255)),
    Column("etag", String(255)),
    Column("sha256", String(64)),
    Column("size", BigInteger),
    Column("stored_at", _Ts),
    Column("rerender_reason", Text),
    Column("last_error", Text),
    Column("last_traceback", Text),
    Column("created_at", _Ts, nullable=False),
    Column("updated_at", _Ts, nullable=False),
    UniqueConstraint("number", name="uq_receipts_number"),
    UniqueConstraint("order_id", "kind", "refunded_to", name="uq_receipts_order_id"),
    UniqueConstraint("series", "seq", name="uq_receipts_series"),
    Index("ix_receipts_due", "status", "next_attempt_at"),
)

receipt_versions = Table(
    "receipt_versions",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("receipt_id", _Id, ForeignKey("receipts.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("object_key", String(255), nullable=False),
    Column("version_id", String(255)),
    Column("etag", String(255)),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("reason", Text),
    Column("stored_at", _Ts, nullable=False),
    UniqueConstraint("receipt_id", "version", name="uq_receipt_versions_receipt_id"),
)

Index("ix_receipts_orders_updated_at", orders.c.updated_at)


# --- retries ----------------------------------------------------------------------

retry_plans = Table(
    "retry_plans",
    metadata,
    # One plan per order: the first failure opens it; later failures never restart it.
    Column("order_id", String(64), ForeignKey("orders.id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("first_failed_at", _Ts, nullable=False),
    Column("failure_key", String(255), nullable=False),
    Column("code", String(64)),
    Column("decline_code", String(64)),
    Column("advice_code", String(64)),
    Column("decline_class", String(16), nullable=False),
    Column("hard_declined_at", _Ts),
    Column("opened_at", _Ts, nullable=False),
    Column("closed_at", _Ts),
    Column("close_reason", String(32)),
    Index("ix_retry_plans_status", "status"),
    Index("ix_retry_plans_first_failed_at", "first_failed_at"),
)

retry_attempts = Table(
    "retry_attempts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("due_at", _Ts, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(64)),
    Column("channel", String(16)),
    Column("order_attempt", Integer),
    Column("payment_intent", String(255)),
    Column("payment_method", String(255)),
    Column("session_id", String(255)),
    Column("outcome", String(16)),
    Column("decline_code", String(64)),
    Column("stripe_errors", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("claimed_by", String(64)),
    Column("lease_until", _Ts),
    Column("manual", Boolean, nullable=False, default=False),
    Column("executed_at", _Ts),
    Column("created_at", _Ts, nullable=False),
    Column("updated_at", _Ts, nullable=False),
    UniqueConstraint("order_id", "number", name="uq_retry_attempts_order_id"),
    Index("ix_retry_attempts_due", "status", "due_at"),
    # At most one attempt runs per order at a time.
    Index(
        "uq_retry_attempts_running",
        "order_id",
        unique=True,
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
)


# --- server errors ----------------------------------------------------------------------------

# Every 5xx answer, kept best-effort by the web shell for the server-errors alert (30 days).
server_errors = Table(
    "server_errors",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("correlation_id", String(32)),
    Column("status", Integer, nullable=False),
    Column("route", String(255), nullable=False),
    Column("error", String(255)),
    Column("at", _Ts, nullable=False),
    Index("ix_server_errors_at", "at"),
)
