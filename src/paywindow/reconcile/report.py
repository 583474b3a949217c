"""The finance report of a run: HTML (Jinja2), the same as PDF (WeasyPrint), findings as CSV.

Rendering never touches the network: charts are inline SVG, fonts come from the system
(fontconfig), and the Jinja2 environment and WeasyPrint set-up are :mod:`paywindow.documents`'
(its URL fetcher refuses anything that is not ``data:`` or a file under the templates folder).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from paywindow.documents import Offline, environment
from paywindow.money import Money, exponent
from paywindow.reconcile.charts import bar_chart, column_chart
from paywindow.reconcile.matching import FINDING_KINDS
from paywindow.reconcile.run import ReconcileResult

__all__ = ["ReportFiles", "finance", "markdown_summary", "render_html", "write_reports"]

CSV_COLUMNS = (
    "id", "kind", "status", "order_id", "stripe_id", "currency", "local_amount",
    "stripe_amount", "explanation", "occurred_at", "first_seen_at", "resolved_at",
    "resolution_note",
)  # fmt: skip
PAYOUT_AMOUNTS = (
    "charges", "refunds", "disputes", "platform_fees", "transfers", "other", "amount", "difference",
)  # fmt: skip
TOTAL_COLUMNS = (
    ("gross", "Gross"), ("stripe_fees", "Stripe fees"), ("refunds", "Refunds"),
    ("disputes", "Disputes"), ("platform_fees", "Platform fees"),
    ("transfers", "Transfers to sellers"), ("net", "Net"), ("payouts", "Payouts"),
)  # fmt: skip


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    csv: Path


def finance(value: Money | None) -> str:
    """Finance's one plain format, whatever the locale: ``1,234.50 USD``; ``—`` for none."""
    if value is None:
        return "—"
    return f"{value.decimal:,.{exponent(value.currency)}f} {value.currency.upper()}"


def _minor(amount: int | None, currency: str | None) -> str:
    """A finding's amount (minor units, either side may be missing) in :func:`finance`'s form."""
    return finance(Money(int(amount), currency) if amount is not None and currency else None)


def _environment(templates: Path) -> jinja2.Environment:
    return environment(
        templates,
        {
            "money": finance,
            "minor": _minor,
            "when": lambda v: v.strftime("%Y-%m-%d %H:%M") if v else "",
        },
    )


def _payout(row: dict[str, Any]) -> dict[str, Any]:
    return row | {key: Money(int(row[key]), row["currency"]) for key in PAYOUT_AMOUNTS}


def _context(result: ReconcileResult) -> dict[str, Any]:
    days = sorted({str(row["day"]) for row in result.daily})
    currencies = sorted({row["currency"] for row in result.daily})
    series: dict[str, list[float]] = {c: [0.0] * len(days) for c in currencies}
    for row in result.daily:
        major = float(Money(int(row["gross"]), row["currency"]).decimal)
        series[row["currency"]][days.index(str(row["day"]))] = major
    by_kind = {k: result.by_kind[k] for k in FINDING_KINDS if result.by_kind.get(k)}
    rank = {k: n for n, k in enumerate(FINDING_KINDS)}
    findings = sorted(result.findings, key=lambda f: (rank[f.kind], f.id))
    return {
        "r": result,
        "totals": result.currency_totals,
        "total_columns": TOTAL_COLUMNS,
        "findings": findings,
        "open_count": sum(1 for f in findings if f.status == "open"),
        "payouts": [_payout(row) for row in result.payouts],
        "expected": result.expected,
        "volume_chart": column_chart(days, {c.upper(): v for c, v in series.items()}),
        "kind_chart": bar_chart(by_kind),
    }


def render_html(result: ReconcileResult, templates: Path) -> str:
    """The report as one self-contained HTML document (CSS inlined, charts inline SVG)."""
    env = _environment(templates)
    css = (templates / "reconcile.css").read_text(encoding="utf-8")
    context = _context(result)
    return env.get_template("reconcile.html.j2").render(css=css, **context)


def write_pdf(html: str, path: Path, templates: Path) -> None:
    Offline(templates).pdf(html, templates, target=path)


def write_csv(result: ReconcileResult, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for f in result.findings:
            writer.writerow(
                [f.status if c == "status" else getattr(f, c) or "" for c in CSV_COLUMNS]
            )


def write_reports(
    result: ReconcileResult, templates: Path, out_dir: Path, *, pdf: bool = True
) -> ReportFiles:
    """Write ``reconcile-<from>_<to>.{html,pdf,csv}`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"reconcile-{result.period_from.date()}_{result.period_last}"
    html = render_html(result, templates)
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(html, encoding="utf-8")
    pdf_path = out_dir / f"{stem}.pdf" if pdf else None
    if pdf_path is not None:
        write_pdf(html, pdf_path, templates)
    csv_path = out_dir / f"{stem}-findings.csv"
    write_csv(result, csv_path)
    return ReportFiles(html_path, pdf_path, csv_path)


def markdown_summary(result: ReconcileResult) -> str:
    """A short Markdown summary (for the Prefect UI and the CLI)."""
    lines = [
        f"# Reconciliation {result.period_from.date()} to {result.period_last}",
        "",
        f"Run {result.run_id}, as of {result.as_of:%Y-%m-%d %H:%M} UTC: "
        f"**{len(result.findings)} findings** "
        f"({sum(1 for f in result.findings if f.status == 'open')} open), "
        f"{len(result.expected)} expected (inside their SLA).",
        "",
        "| currency | " + " | ".join(label for _, label in TOTAL_COLUMNS) + " |",
        "|---|" + "---:|" * len(TOTAL_COLUMNS),
    ]
    for row in result.currency_totals:
        cells = [finance(getattr(row, key)) for key, _ in TOTAL_COLUMNS]
        lines.append(f"| {row.currency.upper()} | " + " | ".join(cells) + " |")
    if result.by_kind:
        lines += ["", "| finding | count |", "|---|---:|"]
        lines += [f"| {k} | {n} |" for k, n in result.by_kind.items()]
    return "\n".join(lines) + "\n"
