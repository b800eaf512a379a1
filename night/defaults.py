"""The run settings' defaults and environment variables, light enough for the command line's `--help`.

`night.settings.StorythreadsSettings` takes its defaults from here; `--help` shows them without
importing the settings (pydantic and the clustering library).
"""

from __future__ import annotations

ENV_PREFIX = "STORYTHREADS_"
HOME = "~/.storythreads"
ENCODER = "auto"
BATCH_SIZE = 64
LOCK_WAIT_S = 0.0
RETENTION_DAYS = 30.0
MAX_ARTICLE_BYTES = 20 * 1024 * 1024
"""`corpus.readers.DEFAULT_MAX_ARTICLE_BYTES`, repeated to keep `--help` light (a test checks they agree)."""


def shown(setting: str, default: object = None) -> str:
    """How `--help` shows a setting's default: the value (if any) and the environment variable that changes it."""
    variable = ENV_PREFIX + setting.upper()
    return f"{default}; env {variable}" if default is not None else f"env {variable}"
