"""``GET /v1/orders/{order_id}/receipt``: the order's receipt (and credit notes) as links.

The serve app mounts :data:`router` (adding its bearer-token auth) and sets
``app.state.receipts`` to a :class:`~paywindow.receipts.service.ReceiptService`, plus
``app.state.clock``. Answers:

* 200 ``{order_id, status: "ready", receipt: {...}, credit_notes: [...]}``, each document with
  a signed ``url`` and its ``expires_at`` (CloudFront, or S3 presigned without a CDN);
* 202 ``{order_id, status: "pending"}`` with ``Retry-After`` while the receipt is rendered;
* 404 ``order_not_found``; 409 ``order_not_paid`` (there is never a receipt for an unpaid order);
* 503 ``receipts_unavailable`` when the object store cannot sign.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from paywindow.clock import SystemClock
from paywindow.errors import NotFound, ObjectStoreUnavailable
from paywindow.receipts.service import Link, ReceiptService
from paywindow.web.errors import error_response

__all__ = ["router"]

router = APIRouter()


def _doc(link: Link) -> dict[str, Any]:
    return {
        "kind": link.kind,
        "number": link.number,
        "version": link.version,
        "amount": link.amount,
        "currency": link.currency,
        "sha256": link.sha256,
        "url": link.url,
        "expires_at": link.expires_at.isoformat(),
    }


@router.get("/v1/orders/{order_id}/receipt")
def get_receipt(order_id: str, request: Request) -> JSONResponse:
    service: ReceiptService = request.app.state.receipts
    clock = getattr(request.app.state, "clock", None) or SystemClock()
    try:
        status, links = service.links(order_id, clock.now())
    except NotFound:
        return error_response(404, "order_not_found", f"No order {order_id}.")
    except ObjectStoreUnavailable as exc:
        return error_response(503, "receipts_unavailable", str(exc), None, **{"Retry-After": "5"})
    if status == "not_paid":
        return error_response(409, "order_not_paid", f"Order {order_id} is not paid: no receipt.")
    if status == "pending":
        return JSONResponse(
            {"order_id": order_id, "status": "pending"},
            status_code=202,
            headers={"Retry-After": "1"},
        )
    return JSONResponse(
        {
            "order_id": order_id,
            "status": "ready",
            "receipt": _doc(links[0]),
            "credit_notes": [_doc(link) for link in links[1:]],
        }
    )
