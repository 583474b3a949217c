"""One Jinja2 environment and one offline WeasyPrint set-up for every document paywindow prints.

Receipts, credit notes and finance reports are all templates under ``reports/`` rendered to
HTML by :func:`environment` (autoescaped HTML, undefined names are errors) and, for PDFs, laid
out by an :class:`Offline` set-up: a URL fetcher that serves ``data:`` URLs and ``file:`` URLs
inside one folder and stops the render for anything else (rendering never touches the
network), one font configuration (the bundled fonts of ``reports/fonts/`` are loaded through
``@font-face`` in the stylesheets), and a ``base_url`` inside that folder.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlparse

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, select_autoescape

from paywindow.errors import PaywindowError

__all__ = ["ForbiddenFetch", "Offline", "environment"]

AUTOESCAPE = ("html", "j2")


def environment(
    templates: Path,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    *,
    strict: bool = True,
) -> Environment:
    """The Jinja2 environment of templates under ``templates``: autoescaped, with ``filters``.

    ``strict`` (the default) makes an undefined name an error rather than empty text.
    """
    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(AUTOESCAPE),
        undefined=StrictUndefined if strict else Undefined,
    )
    env.filters.update(filters or {})
    return env


class ForbiddenFetch(PaywindowError):
    """A document asked for a resource off the machine or outside its folder: the render stopped."""


@functools.cache
def _weasyprint() -> SimpleNamespace:
    """WeasyPrint and the fetcher classes, imported on first use (the import takes seconds)."""
    with warnings.catch_warnings():
        # WeasyPrint warns at import when libharfbuzz-subset is missing; fonts are then
        # embedded whole (receipts ask for that anyway: their bundled fonts are pre-subset).
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        from weasyprint import CSS, HTML
        from weasyprint.text.fonts import FontConfiguration
        from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class Refused(FatalURLFetchingError):  # type: ignore[misc]
        """Fatal to WeasyPrint (it stops the render); :class:`Offline` raises ForbiddenFetch."""

    class LocalFetcher(URLFetcher):  # type: ignore[misc]
        """Serve ``file:`` URLs under ``root`` and ``data:`` URLs; refuse everything else."""

        def __init__(self, root: Path) -> None:
            super().__init__(allowed_protocols=("file", "data"))
            self.root = root.resolve()

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            parsed = urlparse(url)
            if parsed.scheme != "file":
                raise Refused(f"refusing to fetch {url!r}: rendering is offline")
            path = Path(unquote(parsed.path)).resolve()
            if not path.is_relative_to(self.root):
                raise Refused(f"refusing {url!r}: outside {self.root}")
            return super().fetch(path.as_uri(), headers)

    return SimpleNamespace(
        CSS=CSS,
        HTML=HTML,
        FontConfiguration=FontConfiguration,
        LocalFetcher=LocalFetcher,
        Refused=Refused,
    )


class Offline:
    """WeasyPrint confined to ``root``: its fetcher, one font configuration, and base URLs.

    Keep one per process (fonts and parsed stylesheets are reused across documents). A fetch
    the fetcher refuses stops the render with :class:`ForbiddenFetch`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._weasyprint = _weasyprint()
        self.fetcher = self._weasyprint.LocalFetcher(self.root)
        self.fonts = self._weasyprint.FontConfiguration()

    @staticmethod
    def base_url(folder: Path) -> str:
        """``folder`` as the base URL relative references resolve against."""
        return folder.resolve().as_uri() + "/"

    def stylesheet(self, path: Path) -> Any:
        """Parse the CSS file at ``path``; its ``@font-face`` fonts join :attr:`fonts`."""
        css = self._weasyprint.CSS
        try:
            return css(filename=str(path), url_fetcher=self.fetcher, font_config=self.fonts)
        except self._weasyprint.Refused as exc:
            raise ForbiddenFetch(str(exc)) from exc

    def pdf(
        self,
        markup: str,
        folder: Path,
        *,
        stylesheets: Sequence[Any] = (),
        target: Path | None = None,
        **options: Any,
    ) -> bytes | None:
        """Lay ``markup`` out as PDF, relative URLs resolved in ``folder`` (under ``root``).

        Returns the bytes, or writes them to ``target`` and returns None. ``options`` go to
        WeasyPrint's ``write_pdf`` (``full_fonts``, ``pdf_identifier``, ...).
        """
        html = self._weasyprint.HTML
        try:
            document = html(string=markup, base_url=self.base_url(folder), url_fetcher=self.fetcher)
            result = document.write_pdf(
                target, stylesheets=list(stylesheets), font_config=self.fonts, **options
            )
        except self._weasyprint.Refused as exc:
            raise ForbiddenFetch(str(exc)) from exc
        return result if isinstance(result, bytes) else None
