"""``paywindow notifications``: endpoints added (secret shown once), listed, disabled, enabled,
rotated; messages listed and replayed; the relay run once against a live receiver."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paywindow.cli.app import app
from paywindow.sandbox.marketplace import Fault, running_marketplace
from paywindow.store.outbox import write_message
from tests.factories import NOW

runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_endpoints_and_messages_from_the_command_line(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", engine.url.render_as_string(False))
    with running_marketplace() as market:
        added = json.loads(_invoke("notifications", "endpoints", "add", market.url, "--json"))
        assert added["id"].startswith("ep_") and added["secret"].startswith("whsec_")
        market.secrets.append(added["secret"])
        listed = json.loads(_invoke("notifications", "endpoints", "list", "--json"))
        assert [e["id"] for e in listed] == [added["id"]]
        assert "secret" not in listed[0] and added["secret"] not in json.dumps(listed)
        refused = runner.invoke(
            app, ["notifications", "endpoints", "add", market.url, "--topics", "order.nope"]
        )
        assert refused.exit_code == 1 and "unknown topic" in refused.output

        with engine.begin() as conn:
            for n, topic in enumerate(("order.paid", "order.expired")):
                write_message(
                    conn,
                    topic=topic,
                    dedupe_key=f"cli:{n}",
                    payload={"order_id": f"ord_c{n}"},
                    now=NOW,
                    order_id=f"ord_c{n}",
                )
        market.fail(Fault(status=500, match="order.expired"))
        once = _invoke("notifications", "deliver", "--once")
        assert "'delivered': 1" in once and "'failed': 1" in once
        assert [r.type for r in market.received] == ["order.paid"]

        failed = json.loads(_invoke("notifications", "list", "--failed", "--json"))
        assert [m["type"] for m in failed] == ["order.expired"]
        assert failed[0]["deliveries"][0]["last_status"] == 500
        mine = json.loads(_invoke("notifications", "list", "--order", "ord_c0", "--json"))
        assert [m["deliveries"][0]["status"] for m in mine] == ["delivered"]

        paid_id = mine[0]["id"]
        assert "1 deliveries scheduled" in _invoke("notifications", "replay", "--id", paid_id)
        market.fail(None)
        _invoke("notifications", "deliver", "--once")
        assert market.deliveries[paid_id] == 2  # the same webhook-id, delivered again

        _invoke("notifications", "endpoints", "disable", added["id"], "--reason", "maintenance")
        listed = json.loads(_invoke("notifications", "endpoints", "list", "--json"))
        assert (listed[0]["status"], listed[0]["disabled_reason"]) == ("disabled", "maintenance")
        _invoke("notifications", "endpoints", "enable", added["id"])
        rotated = json.loads(
            _invoke("notifications", "endpoints", "rotate-secret", added["id"], "--json")
        )
        assert rotated["secret"] != added["secret"] and rotated["secret"].startswith("whsec_")
        assert runner.invoke(app, ["notifications", "replay"]).exit_code == 2
