"""Prefect tasks: retries, timeouts and logging around one call into paywindow."""
