"""The window's articles as a night's later stages need them, found once, on demand, and kept for the night.

A stage asks the window for the prepared articles, the model's lead vectors and the languages of the ids it
works on; it never calls back into an earlier stage's functions. Tonight's prepared articles are handed to it
by the prepare stage; a stored article comes from its kept preparation and terms (`night.intake.prepare_stored`),
its lead vector from the store (else the model reads it once, and it is stored), its language from its input
or the store (else it is detected once, and stored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from corpus.article import PreparedArticle
from embeddings.encoders import Encoder
from executor import Executor
from night.embedding import article_languages, lead_name, lead_vectors
from night.intake import prepare_stored
from night.settings import NightSettings
from store import Store, compact


class Window:
    """Prepared articles, lead vectors and languages of the window's articles, by id."""

    def __init__(
        self, store: Store, settings: NightSettings, model: Encoder | None = None, executor: Executor | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.model = model
        self.executor = executor
        self._prepared: dict[str, PreparedArticle] = {}
        self._leads: dict[str, np.ndarray] = {}
        self._languages: dict[str, str | None] = {}

    def keep(self, prepared: Iterable[PreparedArticle]) -> None:
        """Hold these prepared articles (tonight's, as the prepare stage found them)."""
        self._prepared.update((article.article.id, article) for article in prepared)

    def prepared(self, ids: Sequence[str]) -> list[PreparedArticle]:
        """The prepared articles of `ids`, in order (ids not in the store are left out)."""
        missing = [article for article in ids if article not in self._prepared]
        if missing:
            self.keep(prepare_stored(self.store, missing, self.settings, save=False, executor=self.executor))
        return [self._prepared[article] for article in ids if article in self._prepared]

    def release(self, keep: Iterable[str] = ()) -> None:
        """Let go of every prepared article but `keep`'s (the window's texts are large)."""
        kept = set(keep)
        self._prepared = {article: found for article, found in self._prepared.items() if article in kept}

    def leads(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The model's lead vector of each of `ids`: as stored, else read now (and stored with the article's
        language)."""
        if self.model is None:
            raise ValueError("the window has no model: lead vectors need one")
        wanted = [article for article in ids if article not in self._leads]
        if wanted:
            self._leads.update(self.store.article_vectors(lead_name(self.model), wanted))
        unread = [article for article in wanted if article not in self._leads]
        if unread:
            prepared = self.prepared(unread)
            matrix, _ = lead_vectors(self.store, prepared, self.model)
            read = dict(zip((a.article.id for a in prepared), compact(matrix), strict=True))
            self.store.save_article_vectors(lead_name(self.model), read)
            self._languages.update(zip(read, article_languages(self.store, prepared), strict=True))
            self._leads.update(read)
        return {article: self._leads[article] for article in ids if article in self._leads}

    def languages(self, ids: Sequence[str]) -> dict[str, str | None]:
        """Each article's language: its input's or the one stored for it (None when neither is known)."""
        wanted = [article for article in ids if article not in self._languages]
        if wanted:
            facts = self.store.article_facts(wanted, label_terms=False)
            self._languages.update(
                {article: (facts.get(article, {}).get("language") or "").lower() or None for article in wanted}
            )
        return {article: self._languages[article] for article in ids}

    def detected_languages(self, prepared: Sequence[PreparedArticle]) -> list[str | None]:
        """The languages of `prepared`: the input's, else stored, else detected now and stored."""
        found = article_languages(self.store, prepared)
        self._languages.update(zip((a.article.id for a in prepared), found, strict=True))
        return found
