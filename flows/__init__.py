"""Prefect orchestration and the command line; the only package that imports Prefect."""

import os

# Offline by default: no analytics, no tracking. Set before Prefect is imported anywhere.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
