"""Settings: the user's (`StorythreadsSettings`, from the command line or `STORYTHREADS_*` variables) and
every stage's (`NightSettings`); the defaults are what `storythreads run` uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clustering.duplicates import DuplicateSettings
from clustering.semantic import SemanticSettings
from clustering.threads import ThreadSettings
from corpus.prepare import PrepareSettings
from corpus.readers import DEFAULT_MAX_ARTICLE_BYTES
from corpus.web import FetchSettings
from embeddings.index import EXACT_LIMIT
from executor.dask import default_workers
from night import defaults

PARALLEL_FROM_CHARS = 5_000_000
"""Below this much article text to analyse (about 2,000 news articles) a night runs in its own process:
each worker starts with cold caches (every word's stem computed again), which only a large night pays
back. Measured in characters, not articles: 700 long documents are as much work as 2,000 short ones."""


@dataclass(frozen=True)
class ExecutorSettings:
    """Where a night's parallel steps (preparing, hashing, tokenising, verifying) run."""

    cluster: str | None = None
    """Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; None: a local cluster on this machine."""
    workers: int | None = None
    """Worker processes of the local cluster (None: `executor.dask.default_workers()`, one per core but the
    run's own; 0: every step in the run's own process)."""
    parallel_from_chars: int = PARALLEL_FROM_CHARS
    """A night with less article text to analyse than this runs every step in its own process."""

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be 0 (none: every step in the run's process) or more, got {self.workers}")
        if self.parallel_from_chars < 0:
            raise ValueError(f"parallel_from_chars must be 0 or more, got {self.parallel_from_chars}")

    @property
    def local_workers(self) -> int:
        """Worker processes of the local cluster, the default resolved."""
        return default_workers() if self.workers is None else self.workers

    @property
    def in_process_only(self) -> bool:
        """Whether no step ever leaves the run's process (no local worker, no cluster)."""
        return self.cluster is None and self.local_workers == 0


@dataclass(frozen=True)
class NightSettings:
    """Settings of a nightly run; the defaults are what `storythreads run` uses."""

    prepare: PrepareSettings = field(default_factory=PrepareSettings)
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    threads: ThreadSettings = field(default_factory=ThreadSettings)
    semantic: SemanticSettings = field(default_factory=SemanticSettings)
    """Which pairs a calibrated model reads paragraph by paragraph (runs with a model only)."""
    retention_days: float = defaults.RETENTION_DAYS
    """Articles published or arrived within this many days before the run are compared and clustered."""
    continue_similarity: float = 0.8
    """A new group with no members of an old thread continues it when their centroids are this similar."""
    exact_limit: int = EXACT_LIMIT
    """Index files hold up to this many vectors for exact search; beyond, an inverted-file index."""
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)

    def __post_init__(self) -> None:
        if self.retention_days <= 0:
            raise ValueError(f"retention_days must be positive, got {self.retention_days}")


class StorythreadsSettings(BaseSettings):
    """Run settings; each can be set as an environment variable, e.g. `STORYTHREADS_ENCODER=lexical`."""

    model_config = SettingsConfigDict(env_prefix=defaults.ENV_PREFIX, extra="ignore")

    encoder: str = Field(
        defaults.ENCODER, description="'auto', 'lexical', or a sentence-transformers model id or folder"
    )
    device: str | None = Field(None, description="torch device for a sentence-transformers model, e.g. 'cpu' or 'cuda'")
    batch_size: int = Field(defaults.BATCH_SIZE, ge=1, description="texts per sentence-transformers batch")
    home: Path = Field(
        Path(defaults.HOME).expanduser(),
        description="data folder: the SQLite store, the FAISS index files and the reports",
    )
    db: str | None = Field(
        None,
        description="SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db (default: SQLite in home)",
    )
    lock_wait: float = Field(
        defaults.LOCK_WAIT_S, ge=0, description="seconds to wait for another run holding the store before giving up"
    )
    retention_days: float = Field(
        defaults.RETENTION_DAYS, gt=0, description="articles this many days old or newer are compared"
    )
    max_article_bytes: int = Field(
        DEFAULT_MAX_ARTICLE_BYTES, ge=1, description="an article larger than this is skipped (containers stream)"
    )
    fetch_timeout: float = Field(
        FetchSettings.timeout_s, ge=0, description="seconds to wait for a feed or page server before retrying"
    )
    fetch_retries: int = Field(FetchSettings.retries, ge=0, description="further tries of a feed or page fetch")
    fetch_host_delay: float = Field(
        FetchSettings.per_host_delay_s, ge=0, description="least seconds from a host's answer to the next request to it"
    )
    cluster: str | None = Field(
        None, description="Dask scheduler to run the parallel steps on, e.g. tcp://HOST:8786 (default: this machine)"
    )
    workers: int | None = Field(
        None, ge=0, description="worker processes on this machine without a cluster (default: cores - 1; 0: none)"
    )
    parallel_from_chars: int = Field(
        PARALLEL_FROM_CHARS, ge=0, description="article text (characters) from which a night uses the workers"
    )

    def executor_settings(self, cluster: str | None = None, workers: int | None = None) -> ExecutorSettings:
        """The executor part of these settings; `cluster` and `workers`, when given, override them."""
        workers = self.workers if workers is None else workers
        return ExecutorSettings(cluster or self.cluster or None, workers, self.parallel_from_chars)

    def fetch_settings(self) -> FetchSettings:
        """How this run fetches feeds and pages."""
        return FetchSettings(
            timeout_s=self.fetch_timeout, retries=self.fetch_retries, per_host_delay_s=self.fetch_host_delay
        )

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
