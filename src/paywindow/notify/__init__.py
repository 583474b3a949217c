"""The outbox delivered: webhook endpoints, the relay, Standard Webhooks signing, the feed.

Siblings and shells import these names from here (see ``paywindow._faces``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paywindow._faces import face

if TYPE_CHECKING:
    from paywindow.notify.deliveries import DeliveryStatus, backlog, replay
    from paywindow.notify.endpoints import (
        Endpoint,
        add_endpoint,
        disable_endpoint,
        enable_endpoint,
        endpoint_view,
        get_endpoint,
        list_endpoints,
        rotate_secret,
    )
    from paywindow.notify.feed import message_id, read_feed, sequence
    from paywindow.notify.relay import Relay, RelayConfig
    from paywindow.notify.signing import headers, new_secret, sign
    from paywindow.notify.worker import RelayThread

__all__ = [
    "DeliveryStatus",
    "Endpoint",
    "Relay",
    "RelayConfig",
    "RelayThread",
    "add_endpoint",
    "backlog",
    "disable_endpoint",
    "enable_endpoint",
    "endpoint_view",
    "get_endpoint",
    "headers",
    "list_endpoints",
    "message_id",
    "new_secret",
    "read_feed",
    "replay",
    "rotate_secret",
    "sequence",
    "sign",
]

__getattr__ = face(
    __name__,
    {
        "DeliveryStatus": "deliveries",
        "Endpoint": "endpoints",
        "Relay": "relay",
        "RelayConfig": "relay",
        "RelayThread": "worker",
        "add_endpoint": "endpoints",
        "backlog": "deliveries",
        "disable_endpoint": "endpoints",
        "enable_endpoint": "endpoints",
        "endpoint_view": "endpoints",
        "get_endpoint": "endpoints",
        "headers": "signing",
        "list_endpoints": "endpoints",
        "message_id": "feed",
        "new_secret": "signing",
        "read_feed": "feed",
        "replay": "deliveries",
        "rotate_secret": "endpoints",
        "sequence": "feed",
        "sign": "signing",
    },
)
