"""The bare endpoint: the recorder's stack with a webhook route that does nothing.

Same framework (FastAPI on Starlette), same server (uvicorn, one worker, same log settings as
``paywindow serve``), same path; the route reads the body and answers 200. Its throughput is the
ceiling the recorder is measured against. Run as ``python -m bench.recorder.bare --port P``.
"""

from __future__ import annotations

import argparse

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        create_bare_app(), host=args.host, port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
