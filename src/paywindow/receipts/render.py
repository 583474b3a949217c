"""Rendering a :class:`ReceiptDocument` to PDF: Jinja2 templates, WeasyPrint, bundled fonts.

Templates, CSS and fonts live in ``reports/`` (``reports/receipts/*.html.j2``,
``reports/fonts/``); the caller passes that directory in. The Jinja2 environment and the
offline WeasyPrint set-up are :mod:`paywindow.documents`' (rendering never touches the
network: ``file:`` URLs inside ``reports/`` and ``data:`` URLs only). The output is
deterministic for a given document (the PDF's dates come from the document and its identifier
from its number and version), so a re-run renders the same bytes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime

from paywindow.documents import ForbiddenFetch, Offline, environment
from paywindow.errors import PaywindowError
from paywindow.money import Money, parse_locale
from paywindow.receipts.model import ReceiptDocument

__all__ = ["ForbiddenFetch", "RenderError", "Renderer"]

STYLESHEET = "receipts/receipt.css"
TEMPLATES = {"receipt": "receipts/receipt.html.j2", "credit_note": "receipts/credit_note.html.j2"}


class RenderError(PaywindowError):
    """A template or layout error; kept with its traceback on the receipt job."""


class Renderer:
    """Renders documents with the templates under ``reports_dir``; one per process."""

    def __init__(self, reports_dir: Path) -> None:
        self.reports_dir = reports_dir.resolve()
        self._env = environment(self.reports_dir, {"money": _money, "datetime": _datetime})
        self._offline = Offline(self.reports_dir)
        self._css: Any = None  # parsed once, on first use (loads the bundled fonts)

    def _stylesheet(self) -> Any:
        if self._css is None:
            self._css = self._offline.stylesheet(self.reports_dir / STYLESHEET)
        return self._css

    def warm(self) -> None:
        """Parse the stylesheet and load the fonts now, not during the first receipt."""
        self._stylesheet()

    def html(self, doc: ReceiptDocument) -> str:
        try:
            return self._env.get_template(TEMPLATES[doc.kind]).render(doc=doc)
        except Exception as exc:
            raise RenderError(f"template for {doc.kind} {doc.number}: {exc}") from exc

    def pdf(self, doc: ReceiptDocument) -> bytes:
        markup = self.html(doc)
        identifier = hashlib.sha256(f"{doc.number}:{doc.version}".encode()).hexdigest()[:32]
        try:
            # Whole (pre-subset) fonts: no per-render subsetting, and identical bytes each run.
            pdf = self._offline.pdf(
                markup,
                self.reports_dir / "receipts",
                stylesheets=[self._stylesheet()],
                pdf_identifier=identifier.encode(),
                full_fonts=True,
            )
        except ForbiddenFetch as exc:
            raise RenderError(str(exc)) from exc
        except Exception as exc:
            raise RenderError(f"layout of {doc.kind} {doc.number}: {exc}") from exc
        assert isinstance(pdf, bytes)
        return pdf


def _money(amount: Money, doc: ReceiptDocument) -> str:
    # CLDR's ja symbol is the fullwidth yen (U+FFE5), which the bundled font lacks.
    return amount.format(doc.locale).replace("\uffe5", "\u00a5")


def _datetime(value: datetime, locale: str) -> str:
    text = format_datetime(value, "medium", tzinfo=UTC, locale=parse_locale(locale))
    return f"{text} UTC"
