"""Server processes for the benchmark: the recorder (``paywindow serve``) and the bare endpoint.

Both run as direct children of this Python (no ``uv run`` wrapper), so ``pid`` is the uvicorn
process itself: the crash test can ``kill -9`` it and CPU time can be read from ``/proc``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from paywindow.sandbox import free_port

__all__ = [
    "REPO",
    "Server",
    "cpu_seconds",
    "free_port",
    "migrate",
    "recorder_env",
    "start_bare",
    "start_recorder",
    "stop",
]

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
_PAYWINDOW = [sys.executable, "-c", "from paywindow.cli.app import main; main()"]
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    host: str = HOST

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def recorder_env(database_url: str, secret: str) -> dict[str, str]:
    """The environment for ``paywindow``: inherited, minus any other PAYWINDOW_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYWINDOW_")}
    env["PAYWINDOW_DATABASE_URL"] = database_url
    env["PAYWINDOW_STRIPE_WEBHOOK_SECRETS"] = secret
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [*_PAYWINDOW, "db", "upgrade"], env=env, cwd=REPO, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"paywindow db upgrade failed:\n{done.stderr.decode(errors='replace')}")


def start_recorder(env: dict[str, str], log: Path, *, processor: bool) -> Server:
    port = free_port(HOST)
    command = [*_PAYWINDOW, "serve", "--host", HOST, "--port", str(port)]
    if not processor:
        command.append("--no-processor")
    return _start("recorder", command, env, port, log)


def start_bare(log: Path, *, asgi: bool = False) -> Server:
    port = free_port(HOST)
    command = [sys.executable, "-m", "bench.recorder.bare", "--host", HOST, "--port", str(port)]
    command += ["--asgi"] if asgi else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYWINDOW_")}
    return _start("bare", command, env, port, log)


def _start(name: str, command: list[str], env: dict[str, str], port: int, log: Path) -> Server:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=out)
    server = Server(name, process, port, log)
    _wait_healthy(server)
    return server


def _wait_healthy(server: Server, timeout: float = 30.0) -> None:
    url = f"http://{server.host}:{server.port}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start:\n{server.log_tail()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"{server.name} not healthy after {timeout:.0f}s:\n{server.log_tail()}")


def stop(server: Server, timeout: float = 15.0) -> None:
    """Stop gracefully (SIGTERM: uvicorn drains and runs the lifespan shutdown), then SIGKILL."""
    if server.process.poll() is not None:
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS
