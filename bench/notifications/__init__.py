"""Notification delivery: commit-to-2xx latency under a burst, and sustained deliveries/s
against the bare receiver's ceiling (``python -m bench.notifications.run``)."""
