"""Order states and the declarative transition table.

The table lists every legal edge with the reason it exists. The processor never invents edges:
when the facts Stripe has reported imply a state that is several edges away (events arrive in
any order), :func:`path` finds the shortest route through the table and every hop gets its own
audit row. Terminal states have no outgoing edges, so they never regress.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

__all__ = ["TERMINAL", "TRANSITIONS", "OrderState", "path"]


class OrderState(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PROCESSING = "processing"
    PAYMENT_FAILED = "payment_failed"
    PAID = "paid"
    EXPIRED = "expired"
    LATE_PAYMENT_REFUNDED = "late_payment_refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    PAYMENT_MISMATCH = "payment_mismatch"


S = OrderState

#: (from, to): why the edge exists.
TRANSITIONS: dict[tuple[OrderState, OrderState], str] = {
    (S.AWAITING_PAYMENT, S.PAID): "card payment succeeded",
    (S.AWAITING_PAYMENT, S.PROCESSING): "checkout completed with a delayed payment method",
    (S.AWAITING_PAYMENT, S.PAYMENT_FAILED): "payment attempt declined",
    (S.AWAITING_PAYMENT, S.EXPIRED): "payment window closed",
    (S.PROCESSING, S.PAID): "delayed payment settled",
    (S.PROCESSING, S.PAYMENT_FAILED): "delayed payment failed",
    (S.PAYMENT_FAILED, S.AWAITING_PAYMENT): "retry issued",
    (S.PAYMENT_FAILED, S.PROCESSING): "buyer switched to a delayed payment method",
    (S.PAYMENT_FAILED, S.PAID): "buyer paid after a decline",
    (S.PAYMENT_FAILED, S.EXPIRED): "payment window closed",
    (S.EXPIRED, S.PAID): "evidence of a payment completed before the deadline",
    (S.EXPIRED, S.LATE_PAYMENT_REFUNDED): "payment completed after the deadline was refunded",
    (S.LATE_PAYMENT_REFUNDED, S.REFUNDED): "evidence the refunded payment was in time",
    (S.PAID, S.PARTIALLY_REFUNDED): "partial refund",
    (S.PAID, S.REFUNDED): "full refund",
    (S.PAID, S.DISPUTED): "dispute opened",
    (S.PARTIALLY_REFUNDED, S.REFUNDED): "refunded the rest",
    (S.PARTIALLY_REFUNDED, S.DISPUTED): "dispute opened",
    (S.REFUNDED, S.DISPUTED): "dispute opened on a refunded charge",
    (S.DISPUTED, S.DISPUTE_WON): "dispute closed in our favour",
    (S.DISPUTED, S.DISPUTE_LOST): "dispute closed against us",
    # A payment that is not the order's (another session, amount or currency) holds it for
    # review by finance; it is never counted as paid.
    (S.AWAITING_PAYMENT, S.PAYMENT_MISMATCH): "payment does not match the order",
    (S.PROCESSING, S.PAYMENT_MISMATCH): "payment does not match the order",
    (S.PAYMENT_FAILED, S.PAYMENT_MISMATCH): "payment does not match the order",
    (S.EXPIRED, S.PAYMENT_MISMATCH): "payment does not match the order",
    (S.PAID, S.PAYMENT_MISMATCH): "another payment does not match the order",
    (S.PARTIALLY_REFUNDED, S.PAYMENT_MISMATCH): "another payment does not match the order",
    (S.REFUNDED, S.PAYMENT_MISMATCH): "another payment does not match the order",
    (S.DISPUTED, S.PAYMENT_MISMATCH): "another payment does not match the order",
    (S.LATE_PAYMENT_REFUNDED, S.PAYMENT_MISMATCH): "another payment does not match the order",
}

_NEXT: dict[OrderState, list[OrderState]] = {state: [] for state in OrderState}
for _source, _target in TRANSITIONS:
    _NEXT[_source].append(_target)

TERMINAL: frozenset[OrderState] = frozenset(s for s, targets in _NEXT.items() if not targets)


def path(source: OrderState, target: OrderState) -> list[OrderState] | None:
    """The shortest list of states after ``source`` that ends in ``target``, or None.

    ``path(s, s)`` is ``[]``. Breadth-first over the table, so the result is deterministic.
    """
    if source == target:
        return []
    previous: dict[OrderState, OrderState] = {}
    queue = deque([source])
    while queue:
        state = queue.popleft()
        for nxt in _NEXT[state]:
            if nxt in previous or nxt == source:
                continue
            previous[nxt] = state
            if nxt == target:
                hops = [target]
                while previous[hops[-1]] != source:
                    hops.append(previous[hops[-1]])
                return hops[::-1]
            queue.append(nxt)
    return None
