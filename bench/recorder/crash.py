"""Crash test: ``kill -9`` the recorder mid-load, restart it, and look for every acknowledged id.

A delivery counts as acknowledged only when its whole 2xx response arrived. After the restart
every acknowledged event id must be in ``event_log`` (lost = acked - found = 0); a sample of
them is delivered again, re-signed, and must answer ``"duplicate"``.
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import uvloop
from sqlalchemy import create_engine, select

from bench.recorder.events import Delivery, DeliveryFactory, signature_header
from bench.recorder.load import run_load
from bench.recorder.servers import Server, start_recorder, stop
from paywindow.store.tables import event_log

__all__ = ["CrashReport", "crash_test"]


@dataclass
class CrashReport:
    processor: bool
    killed_after_s: float
    sent: int
    acked: int
    found: int
    lost: int
    in_flight_at_kill: int
    in_flight_found: int
    resent: int
    resent_duplicate: int
    integrity: str

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.resent_duplicate == self.resent and self.integrity == "ok"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def crash_test(
    env: dict[str, str],
    database_url: str,
    workdir: Path,
    secret: str,
    *,
    connections: int,
    kill_after: float,
    processor: bool,
    resend: int = 25,
) -> CrashReport:
    """Run load, kill the server ``kill_after`` s in, restart on the same DB, and count."""
    log = workdir / "crash-recorder.log"
    server = start_recorder(env, log, processor=processor)
    factory = DeliveryFactory(server.host, server.port, secret)
    prebuilt = factory.build(int(kill_after * 10_000) + 10_000)
    by_id = {d.event_id: d for d in prebuilt}
    result = uvloop.run(
        run_load(
            server.host,
            server.port,
            factory.stream(prebuilt),
            connections=connections,
            seconds=kill_after + 10,
            warmup=0,
            kill_after=kill_after,
            kill=lambda: os.kill(server.pid, signal.SIGKILL),
        )
    )
    server.process.wait(10)
    restarted = start_recorder(env, log, processor=processor)
    try:
        found = _present(database_url, result.acked)
        in_flight_found = _present(database_url, sorted(result.in_flight))
        sample = random.Random(7).sample(result.acked, min(resend, len(result.acked)))
        duplicates = sum(_resend(restarted, by_id[i], secret) for i in sample if i in by_id)
    finally:
        stop(restarted)
    return CrashReport(
        processor=processor,
        killed_after_s=kill_after,
        sent=result.sent,
        acked=len(result.acked),
        found=len(found),
        lost=len(set(result.acked) - found),
        in_flight_at_kill=len(result.in_flight),
        in_flight_found=len(in_flight_found),
        resent=len(sample),
        resent_duplicate=duplicates,
        integrity=_integrity(database_url),
    )


def _present(database_url: str, event_ids: list[str]) -> set[str]:
    engine = create_engine(database_url)
    found: set[str] = set()
    try:
        with engine.connect() as conn:
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start : start + 500]
                query = select(event_log.c.event_id).where(event_log.c.event_id.in_(chunk))
                found.update(conn.execute(query).scalars())
    finally:
        engine.dispose()
    return found


def _resend(server: Server, delivery: Delivery, secret: str) -> bool:
    """Deliver ``delivery``'s body again, freshly signed (as a Stripe retry); True if duplicate."""
    body = delivery.request.split(b"\r\n\r\n", 1)[1]
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(body, secret, int(time.time())),
    }
    url = f"http://{server.host}:{server.port}/webhooks/stripe"
    response = httpx.post(url, content=body, headers=headers, timeout=10)
    return bool(response.status_code == 200 and response.json().get("status") == "duplicate")


def _integrity(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name != "sqlite":
                return "ok"
            rows = conn.exec_driver_sql("PRAGMA integrity_check").scalars().all()
            return "ok" if rows == ["ok"] else "; ".join(str(r) for r in rows)[:200]
    finally:
        engine.dispose()
