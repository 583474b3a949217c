"""Stripe resources served by the sandbox; importing a module registers its routes."""

from __future__ import annotations

__all__ = ["install"]


def install() -> None:
    """Import every resource module so their routes and timers are registered (idempotent)."""
    from paywindow.sandbox.resources import (  # noqa: F401
        balance,
        checkout,
        connect,
        customers,
        disputes,
        events,
        intents,
    )
