"""The wheel works outside a checkout: built, installed into a fresh venv, run from elsewhere.

Builds the wheel with ``uv build``, installs it without extras into a new venv (the lock's
versions as constraints, from uv's cache when it can), then, in a directory that is not the
checkout, runs ``paywindow --help``, migrates a SQLite database, reconciles an empty day (the
queries under ``sql/``, the templates under ``reports/``) and renders a receipt PDF. The sandbox
extra is not installed, so moto is absent and asking for the S3 emulator says how to get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

_RENDER = """
import sys
from datetime import UTC, datetime
from pathlib import Path

from paywindow.money import Money
from paywindow.resources import reports_dir, sql_dir
from paywindow.receipts.model import Line, PaymentMethod, ReceiptDocument
from paywindow.receipts.render import Renderer

site = Path(sys.argv[1]).resolve()
for found in (sql_dir(), reports_dir()):
    assert found.is_relative_to(site), f"{found} is not the packaged copy under {site}"
when = datetime(2026, 11, 28, tzinfo=UTC)
usd = lambda amount: Money(amount, "usd")
doc = ReceiptDocument(
    kind="receipt", number="R-2026-000001", version=1, issued_at=when, order_id="ord_wheel",
    currency="usd", locale="en_US", buyer_email="b@example.com", buyer_id="u_1",
    seller_name="Seller", seller_account="acct_1",
    lines=(Line("Signed vinyl", 1, usd(2500), usd(2500), usd(0)),), subtotal=usd(2500),
    tax_total=usd(0), tax_included=False, total=usd(2500), amount=usd(2500), paid_at=when,
    charge="ch_1", payment_method=PaymentMethod("card", "visa", "4242"),
    platform_name="paywindow", legal_footer="Legal footer.",
)
Path(sys.argv[2]).write_bytes(Renderer(reports_dir()).pdf(doc))
"""

_NO_MOTO = """
from paywindow.sandbox.s3 import running_s3
try:
    with running_s3():
        pass
except ModuleNotFoundError as exc:
    assert "paywindow[sandbox]" in str(exc), exc
else:
    raise AssertionError("the S3 emulator started without moto")
"""


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH; the wheel test needs it to build and install")
    return uv


def _env(tmp: Path) -> dict[str, str]:
    """The caller's environment minus anything that points into the checkout or its venv."""
    drop = ("PAYWINDOW_", "VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return env | {
        "PAYWINDOW_DATABASE_URL": f"sqlite:///{tmp / 'paywindow.db'}",
        "PAYWINDOW_DATA_DIR": str(tmp / "var"),
        "PAYWINDOW_METRICS_ENABLED": "false",
    }


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{command} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _uv_offline_first(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    """From uv's cache if it has everything, else from the package index."""
    offline = subprocess.run([*command, "--offline"], cwd=cwd, env=env, capture_output=True)
    if offline.returncode != 0:
        _run(command, cwd, env)


def _install(tmp: Path, env: dict[str, str]) -> Path:
    uv = _uv()
    dist = tmp / "dist"
    _uv_offline_first([uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)], ROOT, env)
    (wheel,) = dist.glob("paywindow-*.whl")
    constraints = tmp / "constraints.txt"
    export = [uv, "export", "--frozen", "--no-hashes", "--no-dev", "--no-emit-project"]
    _run([*export, "--all-extras", "--output-file", str(constraints)], ROOT, env)
    venv = tmp / "venv"
    _run([uv, "venv", "--python", sys.executable, str(venv)], tmp, env)
    python = venv / "bin" / "python"
    install = [uv, "pip", "install", "--python", str(python), "-c", str(constraints), str(wheel)]
    _uv_offline_first(install, tmp, env)
    return venv


def test_installed_wheel_reconciles_and_renders_outside_the_checkout(tmp_path: Path) -> None:
    env = _env(tmp_path)
    venv = _install(tmp_path, env)
    bin_dir = venv / "bin"
    work = tmp_path / "elsewhere"
    work.mkdir()
    assert not work.resolve().is_relative_to(ROOT)
    paywindow = str(bin_dir / "paywindow")

    assert "reconcile" in _run([paywindow, "--help"], work, env)
    _run([paywindow, "db", "upgrade"], work, env)
    out = work / "reports"
    day = ["--from", "2026-11-01", "--to", "2026-11-01"]
    _run([paywindow, "reconcile", *day, "--out", str(out)], work, env)
    stem = "reconcile-2026-11-01_2026-11-01"
    for name in (f"{stem}.html", f"{stem}.pdf", f"{stem}-findings.csv"):
        assert (out / name).stat().st_size > 0, name
    assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF")

    pdf = work / "receipt.pdf"
    python = str(bin_dir / "python")
    _run([python, "-c", _RENDER, str(venv), str(pdf)], work, env)
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Signed vinyl" in text and "R-2026-000001" in text

    _run([python, "-c", _NO_MOTO], work, env)
