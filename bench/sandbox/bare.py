"""A bare uvloop HTTP endpoint answering a fixed response: the load client's ceiling.

``python -m bench.sandbox.bare PORT``. It does no parsing beyond counting request heads, so
whatever rate the client reaches here is the client's own limit.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvloop

_BODY = b'{"id":"cs_x","object":"checkout.session"}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)


class _Bare(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        requests = self.buffer.count(b"\r\n\r\n")
        if requests and self.transport is not None:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(_RESPONSE * requests)


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Bare, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(_serve(int(sys.argv[1])))
