"""Sandbox benchmark: Stripe API requests per second served by the offline sandbox."""
