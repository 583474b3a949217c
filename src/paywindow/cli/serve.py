"""``paywindow serve``: the webhook recorder, the order API and the event processor."""

from __future__ import annotations

import typer

from paywindow.cli._shell import err, fail, resources, settings
from paywindow.settings import Settings

__all__ = ["serve_app", "warnings_for"]

serve_app = typer.Typer()


def warnings_for(configured: Settings) -> list[str]:
    """What ``serve`` warns about before it starts: the credentials that are not set."""
    found = []
    if not configured.stripe_webhook_secrets:
        found.append("PAYWINDOW_STRIPE_WEBHOOK_SECRETS is empty: every webhook gets 503")
    if not configured.api_token:
        found.append("PAYWINDOW_API_TOKEN is empty: the order API answers 401")
    if not configured.support_token:
        found.append(
            "PAYWINDOW_SUPPORT_TOKEN is empty: support routes (POST /v1/orders/{id}/retry) "
            "answer 401"
        )
    return found


@serve_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    processor: bool = typer.Option(True, help="Also apply recorded events in the background."),
    relay: bool = typer.Option(
        True, help="Also deliver notifications to the marketplace's endpoints."
    ),
) -> None:
    """Run the webhook recorder (POST /webhooks/stripe, GET /healthz), the order API, the
    event processor and the notification relay."""
    import uvicorn

    from paywindow.clock import SystemClock
    from paywindow.errors import PaywindowError
    from paywindow.observability import configure_from
    from paywindow.web.app import RecorderConfig, create_app
    from paywindow.web.orders import OrdersService

    configured = settings()
    for warning in warnings_for(configured):
        err.print(f"[yellow]warning:[/] {warning}")
    with resources(configured, migrated=True) as res:
        try:
            orders = OrdersService.from_resources(res, SystemClock())
        except PaywindowError as exc:
            raise fail(exc, 2) from exc
        configure_from(configured)
        config = RecorderConfig(
            orders=orders,
            engine=res.engine,
            clock=SystemClock(),
            secrets=configured.webhook_secret_values(),
            tolerance=configured.webhook_tolerance,
            max_body=configured.webhook_max_body,
            run_processor=processor,
            poll_interval=configured.processor_poll_interval,
            max_attempts=configured.processor_max_attempts,
            relay=res.relay if relay else None,
            relay_poll_interval=configured.notify_poll_interval,
        )
        # log_config=None: uvicorn's own records go through paywindow's JSON, redacting handler.
        # Proxy headers only from the proxies named: uvicorn would trust loopback by default.
        uvicorn.run(
            create_app(config),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            log_config=None,
            proxy_headers=configured.forwarded_allow_ips is not None,
            forwarded_allow_ips=configured.forwarded_allow_ips,
            timeout_graceful_shutdown=5,  # live-status streams do not hold a shutdown up
        )
