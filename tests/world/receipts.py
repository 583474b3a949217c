"""Receipts in a world: the service on a moto bucket, the warm renderer, a PDF's text."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from sqlalchemy import Engine

from paywindow.receipts.content import Platform
from paywindow.receipts.render import Renderer
from paywindow.receipts.service import ReceiptConfig, ReceiptService
from paywindow.receipts.signing import S3UrlSigner
from paywindow.sandbox.s3 import S3Handle

REPORTS = Path(__file__).resolve().parents[2] / "reports"
FOOTER = "paywindow Marketplace Ltd., 1 Example Street, London. Company no. 00000000."


def receipt_service(engine: Engine, s3: S3Handle, **config: object) -> ReceiptService:
    """The receipt service on ``s3``'s bucket (Object Lock, SSE-KMS), ``config`` overriding."""
    store = s3.store()
    return ReceiptService(
        engine,
        store,
        S3UrlSigner(store),
        Platform("paywindow marketplace", FOOTER),
        config=ReceiptConfig(**config),  # type: ignore[arg-type]
    )


@cache
def renderer() -> Renderer:
    """One warm in-process renderer per test process (WeasyPrint's start-up is paid once)."""
    return Renderer(REPORTS)


def pdf_text(service: ReceiptService, row: dict[str, Any], version_id: str | None = None) -> str:
    """The text of the stored PDF of receipts row ``row`` (its current or ``version_id``)."""
    body = service.store.get(row["object_key"], version_id or row["version_id"])
    assert body.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")
