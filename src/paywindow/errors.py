"""paywindow's one exception tree.

    PaywindowError
    ├── Transient                trouble that passes: the same call may succeed later
    │                            (HTTP 503, Prefect tasks retry it, nothing else is retried)
    ├── ConfigError              settings missing or invalid (raised at start-up)
    ├── StoreError               the local database failed
    │   ├── StoreUnavailable     unreachable or locked past the timeout  (also Transient)
    │   └── NotMigrated          schema missing or behind the code's head revision
    ├── WebhookRejected          a delivery that must not be recorded (bad signature, body, ...)
    ├── EventError               an event could not be applied
    │   └── OrderNotFound        the event names an order paywindow does not know (yet)
    ├── GatewayError             Stripe (or the sandbox) failed
    │   ├── GatewayUnavailable   5xx, 429, timeouts, connection errors  (also Transient)
    │   └── GatewayRejected      Stripe refused the request (4xx): ``message``, ``param``, ``code``
    ├── ObjectStoreError         S3 or KMS failed (receipt PDFs)
    │   ├── ObjectStoreUnavailable  network, 5xx, throttling, key unavailable  (also Transient)
    │   └── ObjectStoreRejected     refused for good (access denied, no such bucket)
    ├── InvalidRequest           a caller's request is malformed (``field`` names the culprit)
    ├── Conflict                 the request clashes with what exists (409)
    └── NotFound                 an admin lookup found nothing

Third-party errors are translated at the adapter boundary with ``raise ... from exc``: the
Stripe adapter (``paywindow.gateway``), the object store (``paywindow.receipts.storage``) and
the database engine (``paywindow.store``). Nothing above them names a third-party error.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "EventError",
    "GatewayError",
    "GatewayRejected",
    "GatewayUnavailable",
    "InvalidRequest",
    "NotFound",
    "NotMigrated",
    "ObjectStoreError",
    "ObjectStoreRejected",
    "ObjectStoreUnavailable",
    "OrderNotFound",
    "PaywindowError",
    "StoreError",
    "StoreUnavailable",
    "Transient",
    "WebhookRejected",
]


class PaywindowError(Exception):
    """Base of every error paywindow raises on purpose."""


class Transient(PaywindowError):
    """Trouble that passes (an outage, a timeout, a lock held too long): the same call may
    succeed later. The web answers 503; Prefect tasks retry it and nothing else."""


class ConfigError(PaywindowError):
    """A setting is missing or invalid."""


class StoreError(PaywindowError):
    """The local database failed."""


class StoreUnavailable(StoreError, Transient):
    """The database is unreachable or locked past the timeout; the caller may retry."""


class NotMigrated(StoreError):
    """The schema is missing or older than the code expects."""


class WebhookRejected(PaywindowError):
    """A webhook delivery that is refused and not recorded.

    ``status`` is the HTTP status to answer with and ``reason`` a short machine-readable tag
    used for the rejection counter.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class EventError(PaywindowError):
    """An event could not be applied to the order state machine."""


class OrderNotFound(EventError):
    """The event carries paywindow metadata for an order this database does not hold."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"no order {order_id}")
        self.order_id = order_id


class GatewayError(PaywindowError):
    """A call to Stripe failed."""


class GatewayUnavailable(GatewayError, Transient):
    """Stripe could not answer now (5xx, 429, timeout, network); the call may be retried."""


class GatewayRejected(GatewayError):
    """Stripe refused the request; ``message`` is Stripe's, ``param`` the field it named."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        decline_code: str | None = None,
        advice_code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.decline_code = decline_code
        self.advice_code = advice_code
        self.http_status = http_status


class ObjectStoreError(PaywindowError):
    """The object store (S3, KMS) failed."""


class ObjectStoreUnavailable(ObjectStoreError, Transient):
    """S3 or KMS cannot answer now (network, 5xx, throttling, key unavailable): retry later."""


class ObjectStoreRejected(ObjectStoreError):
    """S3 refused the request for good (access denied, no such bucket, bad request)."""


class InvalidRequest(PaywindowError):
    """A request is malformed; ``field`` is the offending field's path."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(PaywindowError):
    """The request clashes with existing state (same id, different body; window closed)."""


class NotFound(PaywindowError):
    """An admin lookup (event, order) found nothing."""
