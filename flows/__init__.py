"""Prefect flows, one file per deployment (thin: compose tasks). See prefect.yaml."""
