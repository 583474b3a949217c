"""``paywindow run`` / ``make run``: the whole system on one machine, wired together.

Starts, in order: the Stripe sandbox and moto's S3/KMS server (only when no real Stripe key or
S3 endpoint is configured), a Prefect server (UI at http://127.0.0.1:4200), the ``paywindow``
process work pool with every deployment of prefect.yaml, a worker, and ``paywindow serve``
(recorder + order API) registered as the sandbox's webhook endpoint. Ctrl-C stops everything
it started, newest first.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console

from paywindow.errors import ConfigError

__all__ = ["Stack", "run_stack"]

_PAYWINDOW = [sys.executable, "-c", "from paywindow.cli.app import main; main()"]


@dataclass
class Stack:
    """The processes started, so they can be stopped in reverse order."""

    console: Console
    env: dict[str, str]
    logs: Path
    root: Path
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, command: list[str], ready: Callable[[], bool]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(command, env=self.env, cwd=self.root, stdout=log, stderr=log)
        self.processes.append((name, process))
        deadline = time.monotonic() + 90
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {self.logs / (name + '.log')}")
            time.sleep(0.25)
        self.console.print(f"[green]started[/] {name}")

    def run(self, name: str, command: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        subprocess.run(command, env=self.env, cwd=self.root, stdout=log, stderr=log, check=True)

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for name, process in reversed(self.processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
            self.console.print(f"stopped {name}")


def _checkout() -> Path:
    """The working directory, which must hold prefect.yaml and flows/ (the deployments)."""
    root = Path.cwd()
    if not (root / "prefect.yaml").is_file() or not (root / "flows").is_dir():
        raise ConfigError(f"run paywindow run from a checkout: {root} lacks prefect.yaml or flows/")
    return root


def _up(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    return check


def run_stack(console: Console, *, serve_port: int = 8000, prefect_port: int = 4200) -> None:
    """Start everything and wait for Ctrl-C, from the checkout in the working directory."""
    root = _checkout()
    var = root / "var"
    logs = var / "run-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(var / "prefect"),
        PREFECT_API_URL=f"http://127.0.0.1:{prefect_port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    env.setdefault("PAYWINDOW_API_TOKEN", secrets.token_urlsafe(24))
    env.setdefault("PAYWINDOW_SUPPORT_TOKEN", secrets.token_urlsafe(24))
    secret = env.setdefault("PAYWINDOW_STRIPE_WEBHOOK_SECRETS", "whsec_" + secrets.token_hex(24))
    stack = Stack(console, env, logs, root)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _start_emulators(stack, secret.split(",")[0], serve_port)
        stack.run("db-upgrade", [*_PAYWINDOW, "db", "upgrade"])
        prefect = [sys.executable, "-m", "prefect"]
        stack.start(
            "prefect-server",
            [*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
            _up(f"http://127.0.0.1:{prefect_port}/api/health"),
        )
        subprocess.run(
            [*prefect, "work-pool", "create", "paywindow", "--type", "process"],
            env=env,
            cwd=root,
            capture_output=True,
        )
        stack.run("deploy", [*prefect, "--no-prompt", "deploy", "--all"])
        stack.start("worker", [*prefect, "worker", "start", "--pool", "paywindow"], lambda: True)
        stack.start(
            "serve",
            [*_PAYWINDOW, "serve", "--port", str(serve_port)],
            _up(f"http://127.0.0.1:{serve_port}/healthz"),
        )
        console.print(
            f"\n[bold]paywindow is running[/]\n"
            f"  Prefect UI   http://127.0.0.1:{prefect_port}\n"
            f"  order API    http://127.0.0.1:{serve_port}/v1/orders  "
            f"(Authorization: Bearer {env['PAYWINDOW_API_TOKEN']})\n"
            f"  support      http://127.0.0.1:{serve_port}/v1/orders/{{id}}/retry  "
            f"(Authorization: Bearer {env['PAYWINDOW_SUPPORT_TOKEN']})\n"
            f"  webhooks     http://127.0.0.1:{serve_port}/webhooks/stripe\n"
            f"  logs         {logs}\n"
            "Ctrl-C stops everything."
        )
        while all(p.poll() is None for _, p in stack.processes):
            time.sleep(1)
        console.print("[red]a process exited[/]; stopping the rest")
    except KeyboardInterrupt:
        console.print("\nstopping")
    finally:
        stack.stop()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _start_emulators(stack: Stack, secret: str, serve_port: int) -> None:
    env = stack.env
    if not env.get("PAYWINDOW_STRIPE_API_KEY"):
        key = "sk_test_" + secrets.token_hex(12)
        env.update(PAYWINDOW_STRIPE_API_KEY=key, PAYWINDOW_STRIPE_API_BASE="http://127.0.0.1:12111")
        stack.start(
            "sandbox",
            [
                sys.executable,
                "-m",
                "paywindow.sandbox",
                "--port",
                "12111",
                "--api-key",
                key,
                "--state",
                str(stack.root / "var" / "sandbox.json"),
                "--webhook-url",
                f"http://127.0.0.1:{serve_port}/webhooks/stripe",
                "--webhook-secret",
                secret,
            ],
            _up("http://127.0.0.1:12111/_sandbox/clock"),
        )
    if not env.get("PAYWINDOW_S3_ENDPOINT_URL"):
        from paywindow.sandbox.s3 import TEST_CREDENTIALS, prepare_bucket, require_moto

        require_moto()
        endpoint = "http://127.0.0.1:5055"
        stack.start(
            "s3-emulator",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "5055"],
            _up(f"{endpoint}/moto-api/"),
        )
        handle = prepare_bucket(endpoint)
        env.update(
            PAYWINDOW_S3_ENDPOINT_URL=endpoint,
            PAYWINDOW_S3_ACCESS_KEY_ID=TEST_CREDENTIALS["access_key_id"],
            PAYWINDOW_S3_SECRET_ACCESS_KEY=TEST_CREDENTIALS["secret_access_key"],
            PAYWINDOW_RECEIPTS_BUCKET=handle.bucket,
            PAYWINDOW_RECEIPTS_KMS_KEY_ID=handle.kms_key_id,
        )
