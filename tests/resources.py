"""Resources for a test world: its settings, with its engine and Stripe client handed in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from paywindow.resources import Resources
from paywindow.settings import load_settings


def resources_for(engine: Engine, stripe: Any = None, **settings: Any) -> Resources:
    """:class:`Resources` over ``engine`` (and ``stripe``), with ``settings`` overridden."""
    url = engine.url.render_as_string(hide_password=False)
    return Resources(
        load_settings(database_url=url, **settings), engine=engine, stripe_client=stripe
    )
