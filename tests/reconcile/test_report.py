"""The finance report: HTML, PDF and CSV rendered from a real run, and their numbers checked."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pypdf import PdfReader

from paywindow.money import Money
from paywindow.reconcile.report import finance, markdown_summary, render_html, write_reports
from tests.reconcile.conftest import TEMPLATES, Reconciled


@pytest.fixture(scope="module")
def written(injected: Reconciled, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    out = tmp_path_factory.mktemp("report")
    files = write_reports(injected.result, TEMPLATES, out)
    assert files.pdf is not None
    return files.html, files.pdf, files.csv


def test_html_shows_totals_findings_and_charts(injected: Reconciled) -> None:
    html = render_html(injected.result, TEMPLATES)
    jpy = next(r for r in injected.result.totals if r["currency"] == "jpy")
    assert jpy["gross"] == 3000 and "3,000 JPY" in html
    assert "300 JPY" in html  # platform fee revenue
    assert html.count("<svg") == 2 and "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for finding in injected.result.findings:
        assert finding.kind in html


def test_pdf_has_the_same_numbers(written: tuple[Path, ...], injected: Reconciled) -> None:
    _, pdf, _ = written
    assert pdf.read_bytes().startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Reconciliation" in text and "Totals per currency" in text
    assert "3,000 JPY" in text
    for kind in ("payout_unexplained", "duplicate_charge", "missing_locally"):
        assert kind in text


def test_csv_lists_every_finding(written: tuple[Path, ...], injected: Reconciled) -> None:
    _, _, path = written
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(injected.result.findings) == 10
    over = next(r for r in rows if r["kind"] == "amount_over")
    assert (over["local_amount"], over["stripe_amount"], over["currency"]) == (
        "2000",
        "2500",
        "usd",
    )


def test_markdown_summary(injected: Reconciled) -> None:
    text = markdown_summary(injected.result)
    assert "**10 findings**" in text and "| JPY |" in text and "| payout_unexplained | 1 |" in text


def test_totals_carry_money_and_print_in_the_finance_format(injected: Reconciled) -> None:
    jpy = next(t for t in injected.result.currency_totals if t.currency == "jpy")
    assert (jpy.gross, jpy.platform_fees) == (Money(3000, "jpy"), Money(300, "jpy"))
    assert finance(jpy.gross) == "3,000 JPY"
    assert finance(Money(-123456, "usd")) == "-1,234.56 USD"
    assert finance(Money(1500, "kwd")) == "1.500 KWD" and finance(None) == "—"
