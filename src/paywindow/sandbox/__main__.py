"""``python -m paywindow.sandbox``: the sandbox server with every option as a flag."""

from __future__ import annotations

import argparse
import pathlib
from decimal import Decimal

from paywindow.sandbox.server import run

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Parse flags and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m paywindow.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--state", type=pathlib.Path, default=None)
    parser.add_argument("--api-key", default=None, help="accept only this key")
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default=None)
    parser.add_argument("--fee-percent", type=Decimal, default=Decimal("2.9"))
    parser.add_argument("--fee-fixed", type=int, default=30)
    parser.add_argument("--available-days", type=int, default=2)
    parser.add_argument("--no-payouts", action="store_true")
    args = parser.parse_args(argv)
    run(
        args.host,
        args.port,
        args.state,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        api_key=args.api_key,
        fee_percent=args.fee_percent,
        fee_fixed=args.fee_fixed,
        available_days=args.available_days,
        payouts=not args.no_payouts,
    )


if __name__ == "__main__":
    main()
