"""Rendering a :class:`ReceiptDocument` to PDF: Jinja2 templates, WeasyPrint, bundled fonts.

Templates, CSS and fonts live in ``reports/`` (``reports/receipts/*.html.j2``,
``reports/fonts/``); the caller passes that directory in. Rendering never touches the network:
the URL fetcher serves ``file:`` URLs inside ``reports/`` and ``data:`` URLs, and stops the
render for anything else. The output is deterministic for a given document (the PDF's dates
come from the document and its identifier from its number and version), so a re-run renders
the same bytes.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

with warnings.catch_warnings():
    # WeasyPrint warns at import when libharfbuzz-subset is missing; receipts embed
    # pre-subset fonts whole (full_fonts=True), so it never subsets anything.
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

from paywindow.errors import PaywindowError
from paywindow.money import format_money, parse_locale
from paywindow.receipts.model import ReceiptDocument

__all__ = ["ForbiddenFetch", "RenderError", "Renderer"]

STYLESHEET = "receipts/receipt.css"
TEMPLATES = {"receipt": "receipts/receipt.html.j2", "credit_note": "receipts/credit_note.html.j2"}


class RenderError(PaywindowError):
    """A template or layout error; kept with its traceback on the receipt job."""


class ForbiddenFetch(FatalURLFetchingError):  # type: ignore[misc]
    """A template asked for a resource outside ``reports/``: the render stops."""


class _LocalFetcher(URLFetcher):  # type: ignore[misc]
    """Serve ``file:`` URLs under ``root`` and ``data:`` URLs; refuse everything else."""

    def __init__(self, root: Path) -> None:
        super().__init__(allowed_protocols=("file", "data"))
        self._root = root.resolve()

    def fetch(self, url: str, headers: Any = None) -> Any:
        from urllib.parse import unquote, urlparse

        if url.startswith("data:"):
            return super().fetch(url, headers)
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise ForbiddenFetch(f"refusing to fetch {url!r}: rendering is offline")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self._root):
            raise ForbiddenFetch(f"refusing {url!r}: outside {self._root}")
        return super().fetch(path.as_uri(), headers)


class Renderer:
    """Renders documents with the templates under ``reports_dir``; one per process."""

    def __init__(self, reports_dir: Path) -> None:
        self.reports_dir = reports_dir.resolve()
        self._env = Environment(
            loader=FileSystemLoader(self.reports_dir),
            autoescape=select_autoescape(("html", "j2")),
            undefined=StrictUndefined,
        )
        self._env.filters["money"] = _money
        self._env.filters["datetime"] = _datetime
        self._fetcher = _LocalFetcher(self.reports_dir)
        self._fonts = FontConfiguration()
        self._css: Any = None  # parsed once, on first use (loads the bundled fonts)

    def _stylesheet(self) -> Any:
        if self._css is None:
            self._css = CSS(
                filename=str(self.reports_dir / STYLESHEET),
                url_fetcher=self._fetcher,
                font_config=self._fonts,
            )
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
        base = (self.reports_dir / "receipts").as_uri() + "/"
        identifier = hashlib.sha256(f"{doc.number}:{doc.version}".encode()).hexdigest()[:32]
        try:
            # Whole (pre-subset) fonts: no per-render subsetting, and identical bytes each run.
            pdf = HTML(string=markup, base_url=base, url_fetcher=self._fetcher).write_pdf(
                stylesheets=[self._stylesheet()],
                font_config=self._fonts,
                pdf_identifier=identifier.encode(),
                full_fonts=True,
            )
        except ForbiddenFetch as exc:
            raise RenderError(str(exc)) from exc
        except Exception as exc:
            raise RenderError(f"layout of {doc.kind} {doc.number}: {exc}") from exc
        assert isinstance(pdf, bytes)
        return pdf


def _money(amount: int, doc: ReceiptDocument) -> str:
    # CLDR's ja symbol is the fullwidth yen (U+FFE5), which the bundled font lacks.
    return format_money(amount, doc.currency, doc.locale).replace("\uffe5", "\u00a5")


def _datetime(value: datetime, locale: str) -> str:
    text = format_datetime(value, "medium", tzinfo=UTC, locale=parse_locale(locale))
    return f"{text} UTC"
