"""The Stripe adapter: every call paywindow makes to Stripe goes through this package.

Modules group calls by concern (``checkout``, ``charges``, ``ledger``); each function takes
a ``stripe.StripeClient`` built by :func:`make_stripe_client` and returns plain values.
"""

from paywindow.gateway.client import call, make_stripe_client, stripe_errors

__all__ = ["call", "make_stripe_client", "stripe_errors"]
