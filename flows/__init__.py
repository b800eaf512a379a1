"""Prefect orchestration and the command line; the only package that imports Prefect."""

import os

# Offline by default: no analytics, no tracking. Set before Prefect is imported anywhere.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The stages' own log lines (stage seconds, the encoder's fallback, warnings about inputs) go to the
# Prefect run log as well as the terminal; outside a flow run they stay local.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "corpus,embeddings,clustering,store,reports,night")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
