from __future__ import annotations

from datetime import timedelta

import pytest

from paywindow.errors import ConfigError
from paywindow.settings import load_settings


def test_defaults_are_embedded() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./var/paywindow.db"
    assert settings.payment_window == timedelta(hours=24)
    assert settings.webhook_tolerance == 300


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("PT2H", timedelta(hours=2), id="iso-8601"),
        pytest.param("3600", timedelta(hours=1), id="seconds"),
        pytest.param("P1DT30M", timedelta(days=1, minutes=30), id="iso-days"),
    ],
)
def test_payment_window_formats(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: timedelta
) -> None:
    monkeypatch.setenv("PAYWINDOW_PAYMENT_WINDOW", raw)
    assert load_settings().payment_window == expected


def test_secrets_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYWINDOW_STRIPE_WEBHOOK_SECRETS", "whsec_a, whsec_b,")
    assert load_settings().webhook_secret_values() == ["whsec_a", "whsec_b"]


def test_postgres_url_gets_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", "postgresql://u@h/db")
    assert load_settings().database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("PAYWINDOW_PAYMENT_WINDOW", "-5", id="negative-window"),
        pytest.param("PAYWINDOW_PAYMENT_WINDOW", "soon", id="garbage-window"),
        pytest.param("PAYWINDOW_WEBHOOK_TOLERANCE", "-1", id="negative-tolerance"),
        pytest.param("PAYWINDOW_DB_BUSY_TIMEOUT", "0", id="zero-timeout"),
    ],
)
def test_bad_values_raise_config_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
