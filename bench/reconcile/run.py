"""Reconciliation benchmark: DuckDB matching (the real sql/reconcile queries) vs plain pandas.

``uv run python -m bench.reconcile.run [--sizes 100000,1000000,5000000]``. For each size it
generates the ledger and local rows (1 % perturbed), then runs each engine in its own process
(threads 2, DuckDB ``memory_limit`` 2 GB) and records wall time, peak RSS and the findings,
which must agree between the engines. Results go to bench/results/ and docs/benchmarks.md.
pandas is not a dependency of paywindow but of the locked ``bench`` group: without it the
benchmark re-runs itself under ``uv run --frozen --group bench``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Reconciliation"


def _child_env(pycache: Path) -> dict[str, str]:
    """The engines' environment, bytecode cached under ``pycache``.

    Under ``PYTHONDONTWRITEBYTECODE`` a fresh ``bench`` group environment (numpy, pandas) has no
    .pyc files, so every process would compile them again (about 1 s for numpy, more for pandas).
    An installed environment has them; the benchmark measures matching, not the compiler.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(pycache)}


def _warm_imports(env: dict[str, str]) -> None:
    modules = "import duckdb, numpy, pandas, pyarrow.parquet, paywindow.reconcile.matching"
    subprocess.run([sys.executable, "-c", modules], cwd=ROOT, env=env, check=True)


def _measure(
    engine: str, data: Path, memory_limit: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.reconcile.engines", engine, str(data), memory_limit]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{engine} failed on {data}: status {status}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    # the child's own VmHWM: ru_maxrss also holds this (the parent's) peak, inherited at exec
    peak = result.pop("vmhwm_mb")
    result |= {"wall_s": wall, "peak_mb": peak, "ru_maxrss_mb": usage.ru_maxrss / 1024}
    return result


def _repeated(
    engines: list[str], data: Path, env: dict[str, str], repeat: int
) -> dict[str, dict[str, Any]]:
    """Each engine ``repeat`` times, interleaved (the machine is shared).

    The median run by wall time is kept, with every run's wall time and peak alongside; every
    run of either engine must report the same findings.
    """
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(repeat):
        for engine in engines:
            runs[engine].append(_measure(engine, data, "2GB", env))
            if runs[engine][-1]["findings"] != runs[engines[0]][0]["findings"]:
                raise AssertionError(f"{engine} disagrees on {data}: {runs}")
    kept = {}
    for engine, results in runs.items():
        ordered = sorted(results, key=lambda r: r["wall_s"])
        kept[engine] = ordered[len(ordered) // 2] | {
            "runs": [(round(r["wall_s"], 2), round(r["peak_mb"])) for r in results]
        }
    return kept


def _section(rows: list[dict[str, Any]], when: str, repeat: int) -> str:
    lines = [
        SECTION,
        "",
        "Matching Stripe's ledger against local orders (`sql/reconcile/*_findings.sql`) in DuckDB "
        "versus the same matching written plainly in pandas, each in its own process on the "
        "same Parquet files (reading them included), 2 threads, DuckDB `memory_limit` 2 GB. "
        "1 % of the rows perturbed across the finding kinds; both engines must report the same "
        "findings. DuckDB scans the Parquet files in place (the local rows too, with "
        "`register_parquet`) and only the findings come back into Python. Peak memory is the "
        "whole engine process's RSS (its `VmHWM`), imports included.",
        "",
        f"* machine: {_machine()}, shared with other work (see the spread of the runs)",
        "* command: `uv run python -m bench.reconcile.run"
        + (f" --repeat {repeat}`" if repeat > 1 else "`"),
        f"* date: {when}",
        f"* runs: {repeat} per engine and size, interleaved; the median by wall time is shown "
        "(every run is saved to `bench/results/reconcile-*.json`)",
        "",
        "| balance transactions | DuckDB s | DuckDB peak MB | pandas s | pandas peak MB "
        "| speed-up | memory ratio | findings | runs s (DuckDB; pandas) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        d, p = r["duckdb"], r.get("pandas")
        ps = f"{p['wall_s']:.1f}" if p else "—"
        pm = f"{p['peak_mb']:,.0f}" if p else "—"
        sp = f"{p['wall_s'] / d['wall_s']:.1f}x" if p else "—"
        mr = f"{d['peak_mb'] / p['peak_mb']:.2f}" if p else "—"
        lines.append(
            f"| {r['n']:,} | {d['wall_s']:.1f} | {d['peak_mb']:,.0f} | {ps} | {pm} | {sp} | {mr} "
            f"| {sum(d['findings'].values()):,} | {_spread(d)}; {_spread(p) if p else '—'} |"
        )
    lines += [
        "",
        "Targets: at least 5x faster than pandas with at most a third of its memory at 1M, and "
        "5M reconciled under a 2 GB DuckDB memory limit. Wall time includes process start and "
        "imports (about 0.5 s for either engine), with bytecode cached for both engines.",
        "",
        _verdict(rows),
        "",
        "Per-phase profile, what changed and the figures before: `docs/reconciliation.md`, "
        "*Benchmark*.",
        "",
    ]
    return "\n".join(lines)


def _spread(result: dict[str, Any]) -> str:
    walls = sorted(wall for wall, _ in result.get("runs", [(result["wall_s"], 0)]))
    return f"{walls[0]:.1f} to {walls[-1]:.1f}"


def _machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    models = [
        ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")
    ]
    model = models[0] if models else platform.processor() or "unknown CPU"
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} CPUs, {memory_gb:.0f} GB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, DuckDB {_duckdb_version()}"
    )


def _duckdb_version() -> str:
    import duckdb

    return str(duckdb.__version__)


def _verdict(rows: list[dict[str, Any]]) -> str:
    at = {r["n"]: r for r in rows}
    parts = []
    if 1_000_000 in at and "pandas" in at[1_000_000]:
        d, p = at[1_000_000]["duckdb"], at[1_000_000]["pandas"]
        speed, memory = p["wall_s"] / d["wall_s"], d["peak_mb"] / p["peak_mb"]
        met = speed >= 5 and memory <= 1 / 3
        parts.append(
            f"At 1M: {speed:.1f}x faster, {memory:.2f} of the memory: target "
            + ("met." if met else "**not met**.")
        )
    if 5_000_000 in at:
        d = at[5_000_000]["duckdb"]
        within = "within" if d["peak_mb"] <= 2048 else "**above**"
        parts.append(
            f"At 5M: reconciled with the 2 GB limit in {d['wall_s']:.1f} s, the whole process "
            f"peaking at {d['peak_mb']:,.0f} MB ({within} 2 GB)."
        )
    return " ".join(parts)


def _write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(rf"{re.escape(SECTION)}\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(section.rstrip() + "\n", text) if SECTION in text else text + "\n" + section
    DOC.write_text(text, encoding="utf-8")


def main() -> int:
    if importlib.util.find_spec("pandas") is None:
        args = ["uv", "run", "--frozen", "--group", "bench", "python", "-m", "bench.reconcile.run"]
        return subprocess.call([*args, *sys.argv[1:]], cwd=ROOT)
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--pandas-max", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; median kept")
    opts = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp:
        env = _child_env(Path(tmp) / "pycache")
        _warm_imports(env)
        for n in (int(s) for s in opts.sizes.split(",")):
            data = Path(tmp) / str(n)
            # in its own process: the data's arrays must not be in this one while engines run
            gen = [sys.executable, "-m", "bench.reconcile.data", str(n), str(data)]
            subprocess.run(gen, cwd=ROOT, env=env, check=True)
            engines = ["duckdb", "pandas"] if n <= opts.pandas_max else ["duckdb"]
            row: dict[str, Any] = {"n": n} | _repeated(engines, data, env, opts.repeat)
            if "pandas" in row and row["pandas"]["findings"] != row["duckdb"]["findings"]:
                raise AssertionError(f"engines disagree at {n}: {row}")
            print(json.dumps(row), flush=True)
            rows.append(row)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"reconcile-{stamp}.json").write_text(json.dumps(rows, indent=2))
    _write_doc(_section(rows, when, opts.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
