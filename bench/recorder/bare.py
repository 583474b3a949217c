"""The bare endpoints: the recorder's stacks with a webhook route that does nothing.

Two baselines: FastAPI (the framework the rest of ``serve`` uses) and plain ASGI on uvicorn
(what the recorder's webhook path itself runs on since it bypasses FastAPI's middleware).

Same framework (FastAPI on Starlette), same server (uvicorn, one worker, same log settings as
``paywindow serve``), same path; the route reads the body and answers 200. Its throughput is the
ceiling the recorder is measured against. Run as ``python -m bench.recorder.bare --port P``.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def create_bare_app() -> FastAPI:
    app = FastAPI(title="bare", openapi_url=None, docs_url=None)

    async def webhook(request: Request) -> Response:
        await request.body()
        return JSONResponse({"received": True})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app.router.add_route("/webhooks/stripe", webhook, methods=["POST"])
    app.router.add_route("/healthz", healthz, methods=["GET"])
    return app


async def bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A do-nothing plain ASGI app: the stack the recorder's webhook path itself runs on."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = scope["type"] == "http"
    while more:
        more = (await receive()).get("more_body", False)
    body = b'{"received":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"17")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--asgi", action="store_true", help="plain ASGI instead of FastAPI")
    args = parser.parse_args()
    app: Any = bare_asgi if args.asgi else create_bare_app()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
