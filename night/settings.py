"""Settings: the user's (`StorythreadsSettings`, from the command line or `STORYTHREADS_*` variables) and
every stage's (`NightSettings`); the defaults are what `storythreads run` uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clustering.duplicates import DuplicateSettings
from clustering.threads import ThreadSettings
from corpus.prepare import PrepareSettings
from corpus.readers import DEFAULT_MAX_BYTES
from embeddings.index import EXACT_LIMIT


@dataclass(frozen=True)
class NightSettings:
    """Settings of a nightly run; the defaults are what `storythreads run` uses."""

    prepare: PrepareSettings = field(default_factory=PrepareSettings)
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    threads: ThreadSettings = field(default_factory=ThreadSettings)
    retention_days: float = 30.0
    """Articles published or arrived within this many days before the run are compared and clustered."""
    continue_similarity: float = 0.8
    """A new group with no members of an old thread continues it when their centroids are this similar."""
    exact_limit: int = EXACT_LIMIT
    """Index files hold up to this many vectors for exact search; beyond, an inverted-file index."""

    def __post_init__(self) -> None:
        if self.retention_days <= 0:
            raise ValueError(f"retention_days must be positive, got {self.retention_days}")


class StorythreadsSettings(BaseSettings):
    """Run settings; each can be set as an environment variable, e.g. `STORYTHREADS_ENCODER=lexical`."""

    model_config = SettingsConfigDict(env_prefix="STORYTHREADS_", extra="ignore")

    encoder: str = Field("auto", description="'auto', 'lexical', or a sentence-transformers model id or folder")
    device: str | None = Field(None, description="torch device for a sentence-transformers model, e.g. 'cpu' or 'cuda'")
    batch_size: int = Field(64, ge=1, description="texts per sentence-transformers batch")
    home: Path = Field(
        Path("~/.storythreads").expanduser(),
        description="data folder: the SQLite store, the FAISS index files and the reports",
    )
    db: str | None = Field(
        None,
        description="SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db (default: SQLite in home)",
    )
    lock_wait: float = Field(
        0.0, ge=0, description="seconds to wait for another run holding the store before giving up"
    )
    retention_days: float = Field(30.0, gt=0, description="articles this many days old or newer are compared")
    max_input_bytes: int = Field(DEFAULT_MAX_BYTES, ge=1, description="inputs larger than this are skipped")

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("encoder")
    @classmethod
    def _encoder_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("encoder is empty; expected 'auto', 'lexical', a model id or a model folder")
        return value.strip()
