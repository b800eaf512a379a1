"""Taking tonight's articles in and preparing them: new, changed and unchanged against the store, the retention
window, duplicate groups, and the paragraphs, passages, quotes and terms of those to analyse (kept in the store)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property

from clustering.findings import Intake, ParagraphRow
from clustering.groups import DuplicateGroup, form_groups, passage_key, represented_by
from corpus.article import Article, PreparedArticle
from corpus.boilerplate import RepeatedLines
from corpus.prepare import (
    kept_tokens,
    packed_preparation,
    prepare_articles_then,
    prepare_with_terms,
    unpacked_preparation,
)
from corpus.tokens import TermTable
from embeddings.encoders import Encoder
from executor import Executor
from night.settings import NightSettings
from store import Store, content_hash

log = logging.getLogger(__name__)


@dataclass
class Tonight:
    """One run's place in the store: what came in and the window it is compared against."""

    run_id: str
    now: datetime
    intake: Intake
    window: list[str]
    """The window's articles that are analysed: each duplicate group's representative, and every article
    in no group."""
    fresh: list[str]
    """Window articles to analyse tonight: new, changed, or never analysed with this encoder."""
    groups: list[DuplicateGroup] = field(default_factory=list)
    """The window's duplicate groups (`clustering.groups`)."""

    @cached_property
    def represented(self) -> dict[str, str]:
        """Group member -> the representative analysed for it (members left out of `window`)."""
        return represented_by(self.groups)

    @property
    def everything(self) -> list[str]:
        """Every article of the window, grouped or not, sorted."""
        return sorted([*self.window, *self.represented])


def take_in(
    store: Store, articles: Sequence[Article], run_id: str, now: datetime, encoder: Encoder, settings: NightSettings
) -> Tonight:
    """Store tonight's articles and work out the window and the fresh articles."""
    store.start_run(run_id, now, encoder.name)
    intake = store.ingest(articles, run_id, now)
    everything = store.window(now - timedelta(days=settings.retention_days))
    groups = find_groups(store, everything, encoder)
    represented = represented_by(groups)
    window = [a for a in everything if a not in represented]
    fresh = store.not_analysed(window, encoder.name)
    log.info(
        "%d new, %d changed, %d unchanged articles; %d in the window (%d copies in %d duplicate groups), %d to analyse",
        len(intake.new),
        len(intake.updated),
        len(intake.unchanged),
        len(everything),
        len(represented),
        len(groups),
        len(fresh),
    )
    return Tonight(run_id, now, intake, window, fresh, groups)


def find_groups(store: Store, articles: Sequence[str], encoder: Encoder) -> list[DuplicateGroup]:
    """The duplicate groups among `articles` (`clustering.groups`). Members analysed on their own before
    their group formed are no longer: their pairs go, the representative's stand for them."""
    found = store.group_members(articles, encoder.name)
    groups = form_groups(found)
    represented = represented_by(groups)
    analysed_alone = [m.article for m in found if m.analysed and m.article in represented]
    if analysed_alone:
        store.leave_to_representatives(analysed_alone)
    return groups


def group_prepared(
    store: Store, tonight: Tonight, prepared: Sequence[PreparedArticle], encoder: Encoder
) -> tuple[Tonight, list[PreparedArticle]]:
    """Tonight's place and prepared articles once the prepared articles' passage keys are stored (by
    `prepare_and_keep`): one whose passages are another window article's is a member of its group
    (near-identical), and is analysed no further."""
    groups = find_groups(store, tonight.everything, encoder)
    represented = represented_by(groups)
    if represented.keys() == tonight.represented.keys():
        return replace(tonight, groups=groups), list(prepared)
    log.info(
        "%d prepared articles carry another's passages: analysed through it",
        len(set(represented) - set(tonight.represented)),
    )
    regrouped = replace(
        tonight,
        window=[a for a in tonight.everything if a not in represented],
        fresh=[a for a in tonight.fresh if a not in represented],
        groups=groups,
    )
    return regrouped, [a for a in prepared if a.article.id not in represented]


def worth_workers(executor: Executor | None, chars: int, settings: NightSettings) -> Executor | None:
    """`executor` if `chars` of article text are enough to pay for its workers' cold start, else None."""
    return executor if chars >= settings.executor.parallel_from_chars else None


def prepare_stored(
    store: Store, ids: Sequence[str], settings: NightSettings, save: bool, executor: Executor | None = None
) -> list[PreparedArticle]:
    """Prepare stored articles; a source's repeated lines count over the whole store.

    With `save`, their paragraphs, label terms and preparation are written back to the store.
    Without, an article whose preparation was kept (with these settings) is rebuilt from it, as it
    was when its passages were embedded; the others are prepared. Many articles are prepared on the
    `executor`'s workers (see `worth_workers`).
    """
    if not save:
        return _kept_or_prepared(store, ids, settings, executor)
    return prepare_and_keep(store, ids, settings, executor)[0]


def prepare_and_keep(
    store: Store, ids: Sequence[str], settings: NightSettings, executor: Executor | None = None
) -> tuple[list[PreparedArticle], TermTable]:
    """`prepare_stored` with `save`, and the stems of the articles' terms (for encoding their passages by them)."""
    articles = store.articles(ids)
    executor = worth_workers(executor, sum(len(article.text) for article in articles), settings)
    repeated = _repeated_lines(store, articles, exclude=[a.id for a in articles])
    described, terms = prepare_with_terms(articles, _described, settings.prepare, repeated, executor)
    store.save_paragraphs(
        {p.article.id: rows for p, rows in described},
        {p.article.id: f"{p.label_terms.title} {p.label_terms.body}".strip() for p, _ in described if p.label_terms},
        {p.article.id: packed_preparation(p, settings.prepare) for p, _ in described},
        {p.article.id: kept_tokens(p) for p, _ in described},
        {p.article.id: passage_key(p) for p, _ in described},
    )
    return [p for p, _ in described], terms


def _kept_or_prepared(
    store: Store, ids: Sequence[str], settings: NightSettings, executor: Executor | None
) -> list[PreparedArticle]:
    """`prepare_stored` without saving: kept preparations rebuilt, the other articles prepared."""
    kept = store.preparations(ids)
    found: dict[str, PreparedArticle] = {}
    unkept: list[Article] = []
    for article in store.articles(ids):
        packed, tokens = kept.get(article.id, (None, None))
        rebuilt = unpacked_preparation(article, packed, settings.prepare, tokens) if packed is not None else None
        if rebuilt is None:
            unkept.append(article)
        else:
            found[article.id] = rebuilt
    if unkept:
        executor = worth_workers(executor, sum(len(article.text) for article in unkept), settings)
        repeated = _repeated_lines(store, unkept, exclude=[])
        # already counted in the store: prepared without adding their lines again
        again = prepare_articles_then(unkept, None, settings.prepare, repeated, executor, count_lines=False)
        found.update({p.article.id: p for p in again})
    return [found[article] for article in ids if article in found]


def _repeated_lines(store: Store, articles: Sequence[Article], exclude: Sequence[str]) -> RepeatedLines:
    """The stored line counts of the sources of `articles`, leaving out the lines of the `exclude` articles."""
    repeated = RepeatedLines()
    for source, counts in store.line_counts({a.source for a in articles}, exclude).items():
        repeated.add_counts(source, counts)
    return repeated


def _described(prepared: PreparedArticle, line_keys: list[str | None]) -> tuple[PreparedArticle, list[ParagraphRow]]:
    """A prepared article with its paragraph rows (worked out in the worker that prepared it)."""
    rows = [
        ParagraphRow(p.index, p.start, p.end, content_hash(p.text), key, p.boilerplate)
        for p, key in zip(prepared.paragraphs, line_keys, strict=True)
    ]
    return prepared, rows
