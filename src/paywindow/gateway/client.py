"""Building the Stripe client and translating its errors: the one door to Stripe.

The same code talks to Stripe (a real ``sk_test_``/``sk_live_`` key) and to the offline
sandbox (``PAYWINDOW_STRIPE_API_BASE``); only configuration differs. Clients are built
explicitly and passed in, never set as module globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import stripe
from stripe._base_address import BaseAddresses

from paywindow.errors import ConfigError, GatewayRejected, GatewayUnavailable

__all__ = ["call", "make_stripe_client", "stripe_errors"]

T = TypeVar("T")


def make_stripe_client(
    api_key: str | None,
    api_base: str | None = None,
    *,
    max_network_retries: int = 2,
    timeout: float = 10.0,
) -> stripe.StripeClient:
    """A ``StripeClient``; ``api_base`` points it at the sandbox.

    Network retries (5xx, 409, connection errors) reuse the request's idempotency key;
    ``timeout`` bounds each HTTP attempt (connect at most 3 s).
    """
    if not api_key:
        raise ConfigError("PAYWINDOW_STRIPE_API_KEY is not set")
    http_client = stripe.RequestsClient(timeout=(min(3.0, timeout), timeout))
    if not api_base:
        return stripe.StripeClient(
            api_key, max_network_retries=max_network_retries, http_client=http_client
        )
    base: BaseAddresses = {"api": api_base, "connect": api_base, "files": api_base}
    return stripe.StripeClient(
        api_key,
        base_addresses=base,
        max_network_retries=max_network_retries,
        http_client=http_client,
    )


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Translate stripe-python exceptions into paywindow's tree (``raise ... from exc``)."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise GatewayUnavailable(exc.user_message or str(exc)) from exc
    except stripe.StripeError as exc:
        status = exc.http_status
        if status is None or status >= 500 or status == 409:
            raise GatewayUnavailable(exc.user_message or str(exc)) from exc
        error = exc.error
        raise GatewayRejected(
            (error.message if error and error.message else None) or exc.user_message or str(exc),
            param=error.param if error else None,
            code=error.code if error else None,
            decline_code=error.decline_code if error else None,
            advice_code=getattr(error, "advice_code", None) if error else None,
            http_status=status,
        ) from exc


def call(fn: Callable[[], T]) -> T:
    """Run one Stripe call with errors translated."""
    with stripe_errors():
        return fn()
