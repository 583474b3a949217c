"""Presenting a run: the rich table, the JSON under ``bench/results/``, the docs section."""

from __future__ import annotations

import json
import os
import platform
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.recorder.crash import CrashReport

__all__ = ["CaseResult", "RunResults", "machine_info", "print_results", "update_docs", "write_json"]

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Recorder"
TARGET_RATE = 1500.0
TARGET_RATIO = 0.5

_DOCS_HEADER = """# Benchmarks

Measured by `make bench` (`uv run python -m bench`), which runs every benchmark package under
`bench/` and rewrites that benchmark's section below. Each section names the machine (CPU model,
`nproc`, Python), the date and the exact command; raw results are written to `bench/results/`
(not committed). Figures depend on the machine and on whatever else it runs at the time.
"""


_READING = (
    "Reading the figures: for PostgreSQL, its server processes count under *other CPU*. With "
    "the processor on (SQLite) the processor thread shares the GIL and the single SQLite "
    "writer with the recorder (it applies events in batches of 50 per commit), so ingest "
    "drops while the processor keeps up. The recorder's webhook path is a plain ASGI endpoint "
    "in front of FastAPI, so two baselines are measured: the bare FastAPI route (what the rest "
    "of `serve` runs on; the issue's target is against it) and a bare plain-ASGI app (the "
    "stricter baseline: no framework at all). The crash test runs the "
    "SQLite recorder under the same load, sends SIGKILL to the uvicorn process itself "
    "mid-load, restarts it on the same file and looks up every event id that got a complete "
    "2xx response; *in flight* are deliveries sent but unanswered at the kill (Stripe would "
    "retry them), which may or may not be in the log."
)


@dataclass
class CaseResult:
    """One measured case (a server, a backend, a processor setting) under the same client."""

    name: str
    server: str
    backend: str
    processor: bool | None
    connections: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    responses: dict[str, int]
    outcomes: dict[str, int]
    connection_errors: int
    server_cpu: float
    client_cpu: float
    other_cpu: float
    live_built: int
    log_rows: int | None = None
    log_status: dict[str, int] = field(default_factory=dict)

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.responses.items() if not code.startswith("2"))


@dataclass
class RunResults:
    machine: dict[str, Any]
    command: str
    options: dict[str, Any]
    cases: list[CaseResult]
    crash: CrashReport | None
    notes: list[str]

    def case(self, name: str) -> CaseResult | None:
        return next((c for c in self.cases if c.name == name), None)

    @property
    def ratio(self) -> float | None:
        bare, sqlite = self.case("bare endpoint"), self.case("recorder sqlite")
        if bare is None or sqlite is None or not bare.rate:
            return None
        return sqlite.rate / bare.rate

    def verdicts(self) -> list[str]:
        lines = []
        sqlite, ratio = self.case("recorder sqlite"), self.ratio
        if sqlite is not None:
            met = "met" if sqlite.rate >= TARGET_RATE else "MISSED"
            lines.append(
                f"SQLite, durable commits: {sqlite.rate:,.0f} events/s "
                f"(target >= {TARGET_RATE:,.0f}: {met})"
            )
        if ratio is not None:
            met = "met" if ratio >= TARGET_RATIO else "MISSED"
            lines.append(
                f"recorder / bare FastAPI endpoint: {ratio:.2f} (target >= {TARGET_RATIO}: {met})"
            )
        asgi = self.case("bare endpoint (plain ASGI)")
        if asgi is not None and sqlite is not None and asgi.rate:
            lines.append(
                f"recorder / bare plain-ASGI endpoint: {sqlite.rate / asgi.rate:.2f} "
                "(the stricter baseline: the webhook path's own stack)"
            )
        if self.crash is not None:
            c = self.crash
            lines.append(
                f"crash test (kill -9 after {c.killed_after_s:g} s): acked {c.acked:,}, "
                f"found {c.found:,}, lost {c.lost}; in flight at the kill {c.in_flight_at_kill} "
                f"({c.in_flight_found} of them recorded); re-sent {c.resent} acked, "
                f"{c.resent_duplicate} answered duplicate; integrity {c.integrity}"
                f" -> {'ok' if c.ok else 'FAILED'}"
            )
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "command": self.command,
            "options": self.options,
            "cases": [{**asdict(c), "non_2xx": c.non_2xx} for c in self.cases],
            "ratio_recorder_sqlite_to_bare": self.ratio,
            "crash": self.crash.as_dict() if self.crash else None,
            "verdicts": self.verdicts(),
            "notes": self.notes,
        }


def machine_info(db_dir: Path, postgres_version: str | None) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": postgres_version,
        "db_filesystem": _filesystem(db_dir),
        "loadavg_before": Path("/proc/loadavg").read_text().split()[:3],
    }


def print_results(results: RunResults, console: Console) -> None:
    table = Table(title="recorder ingest (same client, same concurrency)")
    for column in ("case", "events/s", "p50 ms", "p99 ms", "non-2xx", "server CPU", "client CPU"):
        table.add_column(column, justify="left" if column == "case" else "right")
    table.add_column("other CPU", justify="right")
    for c in results.cases:
        table.add_row(*_row(c))
    console.print(table)
    for line in results.verdicts():
        console.print(line)
    for note in results.notes:
        console.print(f"[yellow]note:[/] {note}")


def write_json(results: RunResults) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"recorder-{stamp}.json"
    text = json.dumps(results.as_dict(), indent=2, default=str) + "\n"
    path.write_text(text)
    (RESULTS / "recorder-latest.json").write_text(text)
    return path


def update_docs(results: RunResults, path: Path = DOCS) -> None:
    """Rewrite the ``## Recorder`` section only; keep the header and every other section."""
    text = path.read_text() if path.exists() else _DOCS_HEADER
    section = render_section(results)
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")


def render_section(results: RunResults) -> str:
    m = results.machine
    lines = [
        SECTION,
        "",
        "Sustained ingest of signed Stripe webhooks over HTTP: `paywindow serve` (uvicorn, one "
        "process, `--no-processor` unless noted) on SQLite (WAL, `synchronous=FULL`: every 2xx "
        "follows an fsynced group commit) and on PostgreSQL, against *bare endpoints* on the "
        "same server (uvicorn, same settings, one worker) that read the body and answer 200: a "
        "FastAPI route, and a plain ASGI app. One client for every case "
        "(`bench/recorder/load.py`: asyncio + uvloop over "
        f"raw keep-alive HTTP/1.1 sockets, {results.options['connections']} connections, one "
        "request outstanding per connection); requests are built and signed before the timer: "
        "unique `evt_` ids, 1.7-2.4 KB bodies (checkout.session.completed, "
        "payment_intent.succeeded, charge.updated) without paywindow metadata, so the processor, "
        "when on, marks them ignored. Client and server share the machine; the CPU columns are "
        "cores used during the case by the server process, the client process and everything "
        "else on the machine (other work running at the same time lowers every figure).",
        "",
        f"- Date: {m['date']}",
        f"- Machine: {m['cpu_model']}, nproc {m['nproc']}, {m['platform']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgres'] or 'not run'}; "
        f"database files on {m['db_filesystem']}",
        f"- Command: `{results.command}`",
        "",
        "| case | events/s | p50 ms | p99 ms | non-2xx | server CPU | client CPU | other CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(_row(c)) + " |" for c in results.cases]
    lines.append("")
    lines += [f"- {line}" for line in results.verdicts()]
    lines += [f"- Note: {note}" for note in results.notes]
    lines += ["", _READING]
    return "\n".join(lines) + "\n\n"


def _row(c: CaseResult) -> list[str]:
    return [
        c.name,
        f"{c.rate:,.0f}",
        f"{c.p50_ms:,.1f}",
        f"{c.p99_ms:,.1f}",
        f"{c.non_2xx + c.connection_errors}",
        f"{c.server_cpu:.2f}",
        f"{c.client_cpu:.2f}",
        f"{c.other_cpu:.2f}",
    ]


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _filesystem(directory: Path) -> str:
    best, kind = "", "unknown"
    target = str(directory.resolve())
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        mount, fstype = parts[1], parts[2]
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(
            best
        ):
            best, kind = mount, fstype
    return f"{kind} ({best})"
