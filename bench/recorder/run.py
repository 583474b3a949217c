"""Recorder benchmark: bare endpoint, SQLite, SQLite with the processor, PostgreSQL, crash test.

``uv run python -m bench.recorder.run [--seconds N] [--backend sqlite|postgres|all]``. Every
case uses a fresh database, a secret generated for this run, the same client and the same
concurrency; the table is printed, the JSON goes to ``bench/results/`` and the figures to the
``## Recorder`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg
import uvloop
from psycopg import sql
from rich.console import Console
from sqlalchemy import create_engine, func, select

from bench.recorder.crash import CrashReport, crash_test
from bench.recorder.events import DeliveryFactory, new_webhook_secret
from bench.recorder.load import LoadResult, run_load
from bench.recorder.report import (
    CaseResult,
    RunResults,
    machine_info,
    print_results,
    update_docs,
    write_json,
)
from bench.recorder.servers import (
    REPO,
    Server,
    cpu_seconds,
    migrate,
    recorder_env,
    start_bare,
    start_recorder,
    stop,
)
from paywindow.store.tables import event_log

__all__ = ["main"]

_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
_TICKS = os.sysconf("SC_CLK_TCK")
console = Console(width=max(Console().width, 110))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.recorder.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded seconds per case")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--kill-after", type=float, default=4.0, help="crash test: kill at (s)")
    parser.add_argument("--no-crash", action="store_true", help="skip the crash test")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", _PG_ADMIN),
        help="PostgreSQL URL used to create and drop the scratch database",
    )
    return parser.parse_args(argv)


def _command(args: argparse.Namespace) -> str:
    parts = [
        "uv run python -m bench.recorder.run",
        f"--seconds {args.seconds:g}",
        f"--warmup {args.warmup:g}",
        f"--backend {args.backend}",
        f"--connections {args.connections}",
    ]
    if args.no_crash:
        parts.append("--no-crash")
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    (REPO / "var").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-recorder-", dir=REPO / "var"))
    secret = new_webhook_secret()
    notes: list[str] = []
    sqlite = args.backend in ("sqlite", "all")
    pg_version = _postgres_version(args.pg_admin_url) if args.backend != "sqlite" else None
    if args.backend != "sqlite" and pg_version is None:
        if args.backend == "postgres":
            console.print(f"[red]PostgreSQL unreachable at {args.pg_admin_url}[/]")
            return 2
        notes.append(f"PostgreSQL unreachable at {args.pg_admin_url}: its case was skipped")
    machine = machine_info(workdir, pg_version)
    cases: list[CaseResult] = []
    crash: CrashReport | None = None
    failed = False
    try:
        for label, step in _steps(args, workdir, secret, sqlite, pg_version is not None):
            console.print(f"[bold]bench/recorder[/]: {label}")
            try:
                outcome = step()
            except Exception as exc:  # report the case and carry on with the others
                failed = True
                notes.append(f"{label} failed: {str(exc).strip().splitlines()[-1][:300]}")
                console.print_exception(max_frames=3)
                continue
            if isinstance(outcome, CrashReport):
                crash = outcome
            else:
                cases.append(outcome)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    options = {k: v for k, v in vars(args).items() if k != "pg_admin_url"}
    results = RunResults(machine, _command(args), options, cases, crash, notes)
    print_results(results, console)
    console.print(f"results: {write_json(results).relative_to(REPO)}")
    if failed:
        console.print("[red]a case failed: docs/benchmarks.md left as it was[/]")
    elif not args.no_docs:
        update_docs(results)
        console.print("updated docs/benchmarks.md (## Recorder)")
    return 1 if failed or (crash is not None and not crash.ok) else 0


def _steps(
    args: argparse.Namespace, workdir: Path, secret: str, sqlite: bool, postgres: bool
) -> list[tuple[str, Callable[[], CaseResult | CrashReport]]]:
    """The cases of this run, in order, as (label, thunk)."""
    steps: list[tuple[str, Callable[[], CaseResult | CrashReport]]] = [
        ("bare endpoint", lambda: _bare_case(args, workdir, secret)),
        ("bare endpoint (plain ASGI)", lambda: _bare_case(args, workdir, secret, asgi=True)),
    ]
    if sqlite:
        for processor in (False, True):
            url = f"sqlite:///{workdir / f'events-{int(processor)}.db'}"
            label = "recorder sqlite" + (" + processor" if processor else "")
            steps.append(
                (label, partial(_recorder_case, args, workdir, secret, url, "sqlite", processor))
            )
    if postgres:
        steps.append(("recorder postgres", lambda: _postgres_case(args, workdir, secret)))
    if sqlite and not args.no_crash:
        steps.append(
            ("crash test (SQLite, kill -9 mid-load)", lambda: _crash(args, workdir, secret))
        )
    return steps


def _postgres_case(args: argparse.Namespace, workdir: Path, secret: str) -> CaseResult:
    with _scratch_database(args.pg_admin_url) as url:
        return _recorder_case(args, workdir, secret, url, "postgres", False)


def _crash(args: argparse.Namespace, workdir: Path, secret: str) -> CrashReport:
    url = f"sqlite:///{workdir / 'crash.db'}"
    env = recorder_env(url, secret)
    migrate(env)
    return crash_test(
        env,
        url,
        workdir,
        secret,
        connections=args.connections,
        kill_after=args.kill_after,
        processor=False,
    )


def _bare_case(
    args: argparse.Namespace, workdir: Path, secret: str, *, asgi: bool = False
) -> CaseResult:
    server = start_bare(workdir / f"bare-{int(asgi)}.log", asgi=asgi)
    try:
        measured = _measure(server, args, secret)
    finally:
        stop(server)
    name = "bare endpoint (plain ASGI)" if asgi else "bare endpoint"
    return _case(name, "bare", "-", None, args, measured)


def _recorder_case(
    args: argparse.Namespace,
    workdir: Path,
    secret: str,
    url: str,
    backend: str,
    processor: bool,
) -> CaseResult:
    name = f"recorder {backend}" + (" + processor" if processor else "")
    env = recorder_env(url, secret)
    migrate(env)
    server = start_recorder(env, workdir / f"{backend}-{int(processor)}.log", processor=processor)
    try:
        measured = _measure(server, args, secret)
    finally:
        stop(server)
    case = _case(name, "recorder", backend, processor, args, measured)
    case.log_rows, case.log_status = _log_counts(url)
    return case


@dataclass
class _Measured:
    load: LoadResult
    server_cores: float
    other_cores: float
    live_built: int


def _measure(server: Server, args: argparse.Namespace, secret: str) -> _Measured:
    """Run the load; note the cores the server and everything else used in the same time."""
    factory = DeliveryFactory(server.host, server.port, secret)
    prebuilt = factory.build(int((args.seconds + args.warmup) * 12_000))
    server0, busy0, wall0 = cpu_seconds(server.pid), _busy_seconds(), time.monotonic()
    load = uvloop.run(
        run_load(
            server.host,
            server.port,
            factory.stream(prebuilt),
            connections=args.connections,
            seconds=args.seconds,
            warmup=args.warmup,
        )
    )
    wall = time.monotonic() - wall0
    server_cores = (cpu_seconds(server.pid) - server0) / wall
    other = (_busy_seconds() - busy0) / wall - server_cores - load.client_cpu / load.wall
    return _Measured(load, server_cores, max(0.0, other), max(0, load.sent - len(prebuilt)))


def _case(
    name: str,
    server: str,
    backend: str,
    processor: bool | None,
    args: argparse.Namespace,
    measured: _Measured,
) -> CaseResult:
    load = measured.load
    return CaseResult(
        name=name,
        server=server,
        backend=backend,
        processor=processor,
        connections=args.connections,
        seconds=args.seconds,
        rate=load.rate,
        p50_ms=load.percentile_ms(0.50),
        p99_ms=load.percentile_ms(0.99),
        responses={str(code): n for code, n in sorted(load.statuses.items())},
        outcomes=dict(load.outcomes),
        connection_errors=load.connection_errors,
        server_cpu=measured.server_cores,
        client_cpu=load.client_cpu / load.wall,
        other_cpu=measured.other_cores,
        live_built=measured.live_built,
    )


def _log_counts(url: str) -> tuple[int, dict[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = select(event_log.c.status, func.count()).group_by(event_log.c.status)
            status = Counter({s: int(n) for s, n in conn.execute(query)})
    finally:
        engine.dispose()
    return sum(status.values()), dict(status)


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, from ``/proc/stat``."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / _TICKS


def _postgres_version(admin_url: str) -> str | None:
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]).split()[0] if row else None


@contextlib.contextmanager
def _scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh database for one case, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"paywindow_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    sys.exit(main())
