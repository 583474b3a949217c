"""Wiring from settings to the objects the domain takes (engine, Stripe client, policies).

Shells (CLI, server, Prefect tasks) call these; domain code receives the results.
"""

from __future__ import annotations

import stripe
from sqlalchemy import Engine

from paywindow.gateway import make_stripe_client
from paywindow.inbox.backstop import record_session
from paywindow.payments.checkout import CheckoutPolicy
from paywindow.settings import Settings
from paywindow.store import make_engine

__all__ = ["checkout_policy", "engine_from", "stripe_from"]


def engine_from(settings: Settings) -> Engine:
    return make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)


def stripe_from(settings: Settings) -> stripe.StripeClient:
    """The Stripe client (raises ConfigError without ``PAYWINDOW_STRIPE_API_KEY``)."""
    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else None
    return make_stripe_client(key, settings.stripe_api_base)


def checkout_policy(settings: Settings) -> CheckoutPolicy:
    return CheckoutPolicy(
        window=settings.payment_window,
        margin=settings.checkout_expiry_margin,
        success_url=settings.checkout_success_url,
        cancel_url=settings.checkout_cancel_url,
        record_session=record_session,
    )
