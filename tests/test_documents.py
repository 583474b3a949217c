"""The one document set-up: documents never fetch from the network, and receipts and finance
reports get their Jinja2 environment and WeasyPrint set-up from :mod:`paywindow.documents`."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest

from paywindow import documents
from paywindow.documents import ForbiddenFetch, Offline, environment
from paywindow.receipts.render import Renderer, RenderError
from paywindow.reconcile import report

REPORTS = Path(__file__).resolve().parents[1] / "reports"


@pytest.fixture
def http_hits() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets; yields its URL and the log."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red; }")

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "tag", ['<img src="{url}/pixel.png">', '<link rel="stylesheet" href="{url}/x.css">']
)
def test_a_network_fetch_stops_the_render_and_never_connects(
    http_hits: tuple[str, list[str]], tag: str
) -> None:
    url, hits = http_hits
    markup = f"<html><body>{tag.format(url=url)}<p>hello</p></body></html>"
    with pytest.raises(ForbiddenFetch, match="rendering is offline"):
        Offline(REPORTS).pdf(markup, REPORTS / "receipts")
    assert hits == []


def test_files_outside_the_folder_are_refused_and_inside_are_served(tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red; }", encoding="utf-8")
    offline = Offline(REPORTS)
    with pytest.raises(ForbiddenFetch, match="outside"):
        offline.pdf(f'<link rel="stylesheet" href="{secret.as_uri()}">', REPORTS / "receipts")
    pdf = offline.pdf(
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<link rel="stylesheet" href="receipt.css"><p>hello</p>',
        REPORTS / "receipts",
    )
    assert pdf is not None and pdf.startswith(b"%PDF-")


def test_a_receipt_template_asking_for_the_network_fails_the_render(
    tmp_path: Path, http_hits: tuple[str, list[str]]
) -> None:
    url, hits = http_hits
    reports = tmp_path / "reports"
    (reports / "receipts").mkdir(parents=True)
    (reports / "receipts" / "receipt.css").write_text(
        f'@import url("{url}/remote.css");', encoding="utf-8"
    )
    renderer = Renderer(reports)
    with pytest.raises(ForbiddenFetch):
        renderer.warm()
    (reports / "receipts" / "receipt.html.j2").write_text("<p>{{ doc }}</p>", encoding="utf-8")
    with pytest.raises(RenderError, match="rendering is offline"):
        renderer.pdf(_Doc())  # type: ignore[arg-type]
    assert hits == []


class _Doc:
    kind, number, version = "receipt", "R-1", 1


def test_receipts_and_reports_share_the_one_environment_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[jinja2.Environment] = []

    class Recording(jinja2.Environment):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            made.append(self)

    monkeypatch.setattr(documents, "Environment", Recording)
    renderer = Renderer(REPORTS)
    env = report._environment(REPORTS / "reconcile")
    receipts_env = renderer._env
    assert made == [receipts_env, env]
    for each in made:
        assert each.undefined is jinja2.StrictUndefined
        autoescape = each.autoescape
        assert callable(autoescape) and autoescape("x.html.j2") and autoescape("x.html")
    assert isinstance(renderer._offline, Offline)
    markup = env.from_string("{{ value }}").render(value="<b>&</b>")
    assert markup == "&lt;b&gt;&amp;&lt;/b&gt;"


def test_reconcile_report_pdf_goes_through_the_offline_set_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    used: list[Path] = []

    class RecordingOffline(Offline):
        def __init__(self, root: Path) -> None:
            super().__init__(root)
            used.append(self.root)

    monkeypatch.setattr(report, "Offline", RecordingOffline)
    target = tmp_path / "r.pdf"
    report.write_pdf("<p>hello</p>", target, REPORTS / "reconcile")
    assert used == [(REPORTS / "reconcile").resolve()]
    assert target.read_bytes().startswith(b"%PDF-")


def test_undefined_names_are_errors() -> None:
    env = environment(REPORTS / "receipts")
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_importing_the_finance_report_does_not_load_weasyprint() -> None:
    code = (
        "import sys, paywindow.reconcile.report, paywindow.documents; "
        "assert 'weasyprint' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
