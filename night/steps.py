"""The steps of a night against the store: each loads what it needs, calls the algorithms, saves.

Tonight's articles are taken into the store; those that are new, changed, or were never
compared with tonight's encoder ("fresh") are prepared and embedded (each distinct text
once per encoder, ever); the persistent FAISS indexes find the stored articles in the
retention window that share passages or quotes with them; duplicates are verified between
the fresh articles and those; then the whole window is re-clustered and the groups are
mapped onto the stored threads so ids stay stable. With an empty store this is exactly
a one-off batch (a benchmark, `compare`): the same steps against a temporary store.
"""

from __future__ import annotations

import logging
import os
import random
import re
import signal
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np

from clustering.continuity import Continuity, carry_threads, follow_representatives
from clustering.duplicates import DuplicatePair, find_duplicates, pair_evidence
from clustering.groups import DuplicateGroup, form_groups, passage_key, represented_by
from clustering.semantic import CALIBRATED, candidate_articles, reporting_passages, semantic_pair
from clustering.story import LanguageMeans, TermStatistics, lead_text, with_model
from clustering.threads import (
    TermRarity,
    ThreadSettings,
    attach_to_threads,
    group_articles,
    label_term_ids,
    thread_label,
    title_term_ids,
)
from corpus.article import Article, Passage, PreparedArticle
from corpus.boilerplate import RepeatedLines
from corpus.language import language_of
from corpus.prepare import (
    kept_tokens,
    packed_preparation,
    prepare_articles_then,
    prepare_with_terms,
    unpacked_preparation,
)
from corpus.tokens import TermTable
from embeddings.encoders import Encoder, encode_texts, short_candidate_threshold
from embeddings.index import EXACT_LIMIT, CandidatePairs, Hits, PassageIndex, StoredIndex
from executor import Executor
from night.settings import NightSettings
from store import Intake, ParagraphRow, Store, StoredPair, ThreadEvent, ThreadUpdate, compact, content_hash

log = logging.getLogger(__name__)

KINDS = ("passage", "quote", "title")
FAULT_ENV = "STORYTHREADS_FAULT_AFTER"
"""Fault injection for the crash tests: the process kills itself (SIGKILL) at the checkpoint named here."""


def checkpoint(name: str) -> None:
    """A point where a crash test may kill the run: after each stage, and between a stage's store writes."""
    if os.environ.get(FAULT_ENV) == name:
        log.warning("fault injection: killing this run at %r", name)
        os.kill(os.getpid(), signal.SIGKILL)


STRONG_KINDS = ("exact", "near_duplicate", "reworded", "translated")
EMBED_BATCH = 60_000
"""Texts encoded and cached per step of the embed stage: bounds the memory of one step (about 100 MB
of text and vectors) and gives the workers many batches of the lexical encoder's 4,096 texts."""


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


@dataclass
class Vectors:
    """Vectors of some prepared articles, per kind, rows in the order of their texts (float16, as stored)."""

    passages: np.ndarray
    quotes: np.ndarray
    titles: np.ndarray
    passage_ids: np.ndarray
    """The store's vector id of each passage row (one id per distinct text)."""
    quote_ids: np.ndarray
    added_ids: dict[str, np.ndarray] = field(default_factory=dict)
    """Per kind, the vector ids this call added to the store (texts never seen before: no stored article has them)."""
    embedded: int = 0
    """Texts encoded by this call (cache misses)."""
    reused: int = 0
    """Texts whose vectors came from the cache."""


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
    """Tonight's place and prepared articles once the prepared articles' passage keys are known: one whose
    passages are another window article's is a member of its group (near-identical), and is analysed no
    further."""
    store.save_passage_keys({a.article.id: passage_key(a) for a in prepared})
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


def _texts(article: PreparedArticle, kind: str) -> list[str]:
    if kind == "passage":
        return [p.text for p in article.passages]
    if kind == "quote":
        return [q.text for q in article.quotes]
    return [article.article.title]


def embed_stored(
    store: Store,
    prepared: Sequence[PreparedArticle],
    encoder: Encoder,
    record: bool = True,
    executor: Executor | None = None,
    terms: TermTable | None = None,
) -> Vectors:
    """Vectors for every passage, quote and title, encoding only texts the cache lacks.

    Texts are produced as they are hashed or encoded, never all held at once; each distinct
    text has one row (copies and repeated furniture are encoded and held once). With
    `record`, which vectors each article has is written to the store (articles found through
    those records need no second write). An encoder that reads terms (the lexical one) encodes the
    passages and titles of articles prepared tonight from their terms, given the stems of `terms`;
    other texts it hashes on the `executor`'s workers, if it travels.
    """
    arrays: dict[str, np.ndarray] = {}
    row_ids: dict[str, np.ndarray] = {}
    added_ids: dict[str, list[int]] = {kind: [] for kind in KINDS}
    embedded = reused = 0
    for kind in KINDS:
        counts = [len(a.passages) if kind == "passage" else len(a.quotes) if kind == "quote" else 1 for a in prepared]
        hashes = [content_hash(t) for a in prepared for t in _texts(a, kind)]
        position: dict[str, int] = {}
        for digest in hashes:
            position.setdefault(digest, len(position))
        # float16 holds the vectors exactly: they are rounded to it before they are stored
        matrix = np.zeros((len(position), encoder.dim), dtype=np.float16)
        ids = np.zeros(len(position), dtype=np.int64)
        for digest, (vector_id, vector) in store.cached_vectors(encoder.name, kind, position).items():
            matrix[position[digest]] = vector
            ids[position[digest]] = vector_id
        missing = {digest for digest, row in position.items() if not ids[row]}
        batch: dict[str, tuple[str, np.ndarray | None]] = {}

        def encode_batch(
            batch: dict[str, tuple[str, np.ndarray | None]],
            kind: str = kind,
            position: dict[str, int] = position,
            matrix: np.ndarray = matrix,
            ids: np.ndarray = ids,
        ) -> None:
            # tonight's vectors exactly as the cache will give them back on later nights
            encoded = compact(_encoded(encoder, list(batch.values()), terms, executor))
            added = store.add_vectors(encoder.name, kind, dict(zip(batch, encoded, strict=True)))
            rows = [position[h] for h in batch]
            matrix[rows] = encoded
            ids[rows] = [added[h] for h in batch]
            added_ids[kind].extend(added.values())

        texts = ((t, found) for a in prepared for t, found in zip(_texts(a, kind), _terms(a, kind), strict=True))
        pending = set(missing)
        for digest, text in zip(hashes, texts, strict=True):
            if digest in pending:
                pending.discard(digest)
                batch[digest] = text
                if len(batch) == EMBED_BATCH:
                    encode_batch(batch)
                    batch = {}
        if batch:
            encode_batch(batch)
        if missing:
            checkpoint(f"embed: {kind} vectors cached")
        embedded += len(missing)
        reused += len(hashes) - len(missing)
        row_of_text = np.fromiter((position[h] for h in hashes), dtype=np.int64, count=len(hashes))
        arrays[kind] = matrix[row_of_text]
        row_ids[kind] = ids[row_of_text]
        del matrix
        vector_ids: dict[str, list[int]] = {}
        row = 0
        for article, count in zip(prepared, counts, strict=True):
            vector_ids[article.article.id] = row_ids[kind][row : row + count].tolist()
            row += count
        if record:
            store.set_embedded(encoder.name, kind, vector_ids)
    return Vectors(
        arrays["passage"],
        arrays["quote"],
        arrays["title"],
        row_ids["passage"],
        row_ids["quote"],
        {kind: np.asarray(found, dtype=np.int64) for kind, found in added_ids.items()},
        embedded,
        reused,
    )


def _terms(article: PreparedArticle, kind: str) -> list[np.ndarray | None]:
    """The term ids of the article's texts of `kind` (see `_texts`), where its preparation found them."""
    if kind == "passage" and article.tokens is not None:
        return [article.tokens.within(p.start, p.end).ids for p in article.passages]
    if kind == "title" and article.title_tokens is not None:
        return [article.title_tokens.ids]
    return [None] * len(_texts(article, kind))


def _encoded(
    encoder: Encoder, texts: list[tuple[str, np.ndarray | None]], terms: TermTable | None, executor: Executor | None
) -> np.ndarray:
    """Vectors of `texts` (each a text and, where known, its term ids): by their terms when the encoder reads
    terms and `terms` has their stems, else by their wording."""
    by_terms = getattr(encoder, "encode_terms", None)
    if by_terms is not None and terms is not None and all(found is not None for _, found in texts):
        try:
            return by_terms([found for _, found in texts], terms)
        except KeyError:  # a term tonight's preparation did not find (a stored article's): by the wording
            pass
    return encode_texts(encoder, [text for text, _ in texts], executor)


def lead_vectors(store: Store, prepared: Sequence[PreparedArticle], model: Encoder) -> tuple[np.ndarray, int]:
    """(the model's vector of each article's lead, leads encoded now); each distinct lead is encoded once, ever."""
    leads = [lead_text(a.article.title, [p.text for p in a.paragraphs if p.boilerplate is None]) for a in prepared]
    hashes = [content_hash(lead) for lead in leads]
    vectors, encoded = _encoded_once(store, model, "lead", dict(zip(hashes, leads, strict=True)))
    matrix = np.stack([vectors[digest] for digest in hashes]) if hashes else np.zeros((0, model.dim))
    return matrix.astype(np.float32), encoded


def _encoded_once(
    store: Store, model: Encoder, kind: str, texts: dict[str, str], also_kinds: Sequence[str] = ()
) -> tuple[dict[str, np.ndarray], int]:
    """The model's vector of each text (keyed by its content hash): kept in the store under `kind` (or one
    of `also_kinds`), else encoded now and kept under `kind`; and how many were encoded now."""
    vectors: dict[str, np.ndarray] = {}
    missing = list(texts)
    for name in (kind, *also_kinds):
        kept = store.cached_vectors(model.name, name, missing)
        vectors.update({digest: vector for digest, (_, vector) in kept.items()})
        missing = [digest for digest in missing if digest not in vectors]
    if missing:
        encoded = compact(model.encode([texts[digest] for digest in missing]))
        store.add_vectors(model.name, kind, dict(zip(missing, encoded, strict=True)))
        vectors.update(zip(missing, encoded, strict=True))
    return vectors, len(missing)


def story_name(settings: ThreadSettings, model: Encoder | None) -> str:
    """The name of the story vectors a run computes: word TF-IDF, with the model's lead vectors if it has one."""
    name = settings.vectoriser().name
    return name if model is None else f"{name}+{model.name}-w{settings.model.weight:g}"


def index_path(store: Store, encoder: Encoder, kind: str) -> str:
    """The FAISS file of `kind` vectors of `encoder`, in the store's index folder."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder.name)[:60]
    return str(store.index_dir / f"{slug}-{content_hash(encoder.name)[:8]}.{kind}.faiss")


def update_indexes(
    store: Store, encoder: Encoder, settings: NightSettings | None = None, tonight: Vectors | None = None
) -> dict[str, StoredIndex]:
    """Bring the passage and quote index files level with the store's vectors and save them. The vectors
    `tonight` added are taken from memory, not read back from the store."""
    indexes = {}
    for kind in ("passage", "quote"):
        index = StoredIndex.sync(
            index_path(store, encoder, kind),
            encoder.dim,
            store.vector_count(encoder.name, kind),
            lambda skip, kind=kind: _vectors_after(store, encoder, kind, skip, tonight),
            (settings or NightSettings()).exact_limit,
        )
        index.save()
        indexes[kind] = index
    checkpoint("index: files saved")
    return indexes


INDEX_BATCH = 50_000


def _vectors_after(
    store: Store, encoder: Encoder, kind: str, skip: int, tonight: Vectors | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of the store's vectors of `kind` after the first `skip`, in id order: from `tonight`'s
    vectors when it added every one of them, else read from the store."""
    held = _added_vectors(tonight, kind) if tonight is not None else None
    if held is not None:
        ids = store.vector_ids_after(encoder.name, kind, skip)
        rows = np.searchsorted(held[0], ids)
        if len(ids) and rows.max(initial=0) < len(held[0]) and np.array_equal(held[0][rows], ids):
            for start in range(0, len(ids), INDEX_BATCH):
                yield ids[start : start + INDEX_BATCH], held[1][rows[start : start + INDEX_BATCH]]
            return
    yield from store.vectors_after(encoder.name, kind, skip)


def _added_vectors(tonight: Vectors, kind: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The vectors of `kind` that `tonight` added to the store, as (sorted ids, rows); None if it added none."""
    if kind == "passage":
        ids, matrix = tonight.passage_ids, tonight.passages
    elif kind == "quote":
        ids, matrix = tonight.quote_ids, tonight.quotes
    else:
        return None
    added = tonight.added_ids.get(kind)
    if added is None or not len(added):
        return None
    distinct_ids, first = np.unique(ids, return_index=True)
    keep = np.isin(distinct_ids, added)
    return distinct_ids[keep], matrix[first[keep]]


@dataclass
class WindowSearch:
    """What tonight's passages and quotes found in the index: the stored articles involved, and the raw hits."""

    involved: list[str]
    passage_hits: Hits
    quote_hits: Hits


def search_window(
    store: Store,
    tonight: Tonight,
    prepared: Sequence[PreparedArticle],
    vectors: Vectors,
    encoder: Encoder,
    indexes: dict[str, StoredIndex],
) -> WindowSearch:
    """Search the indexes (which hold tonight's vectors too) for everything near tonight's passages and quotes.

    The hits give both the stored window articles that share text with tonight's and the
    candidate pairs among tonight's articles, from one search. The one passage of a short article (a post,
    a flash) searches with the encoder's lower `short_candidate_threshold`.
    """
    older = set(tonight.window) - set(tonight.fresh)
    involved: set[str] = set()
    hits: dict[str, Hits] = {}
    passage_thresholds = np.repeat(
        [short_candidate_threshold(encoder) if len(a.passages) == 1 else encoder.candidate_threshold for a in prepared],
        [len(a.passages) for a in prepared],
    ).astype(np.float32)
    for kind, queries, threshold in (
        ("passage", vectors.passages, passage_thresholds),
        ("quote", vectors.quotes, encoder.candidate_threshold),
    ):
        hits[kind] = indexes[kind].hits(queries, threshold)
        if older and len(hits[kind]):
            # texts first seen tonight need no lookup: only the others can belong to stored articles (a
            # paragraph copied word for word from a stored article has that article's vector id)
            foreign = np.setdiff1d(hits[kind].ids, vectors.added_ids.get(kind, np.zeros(0, dtype=np.int64)))
            owners = store.owners(encoder.name, kind, foreign.tolist())
            involved |= {a for found in owners.values() for a in found if a in older}
    return WindowSearch(sorted(involved), hits["passage"], hits["quote"])


def stored_text_ids(
    store: Store, prepared: Sequence[PreparedArticle], encoder: Encoder
) -> dict[str, np.ndarray] | None:
    """The stored vector ids of the passages and quotes of `prepared`, in order, without reading the vectors
    (all candidate pairs need); None if a text has no stored vector."""
    found = {}
    for kind in ("passage", "quote"):
        hashes = [content_hash(t) for a in prepared for t in _texts(a, kind)]
        ids = store.vector_ids(encoder.name, kind, hashes)
        if len(ids) < len(set(hashes)):
            return None
        found[kind] = np.fromiter((ids[h] for h in hashes), dtype=np.int64, count=len(hashes))
    return found


@dataclass
class Candidates:
    """Tonight's fresh articles with the stored ones they may share text with, and the pairs to verify."""

    articles: list[PreparedArticle]
    passages: CandidatePairs
    quotes: CandidatePairs


def gather_candidates(
    store: Store,
    prepared: Sequence[PreparedArticle],
    vectors: Vectors,
    search: WindowSearch,
    encoder: Encoder,
    settings: NightSettings,
    executor: Executor | None = None,
) -> Candidates:
    """Candidate passage and quote pairs between the fresh articles and each other or the involved stored ones."""
    others = prepare_stored(store, search.involved, settings, False, executor) if search.involved else []
    other_ids = stored_text_ids(store, others, encoder)
    if other_ids is None:  # a text with no stored vector (an article prepared otherwise than when it was embedded)
        # the involved articles were found through their recorded vectors: nothing to record again
        found = embed_stored(store, others, encoder, record=False)
        other_ids = {"passage": found.passage_ids, "quote": found.quote_ids}
    everything = [*prepared, *others]
    candidates = {}
    for kind, hits, fresh_ids in (
        ("passage", search.passage_hits, vectors.passage_ids),
        ("quote", search.quote_hits, vectors.quote_ids),
    ):
        ids = np.concatenate([fresh_ids, other_ids[kind]])
        counts = [len(a.passages) if kind == "passage" else len(a.quotes) for a in everything]
        owners = np.repeat(np.arange(len(everything), dtype=np.int64), counts)
        candidates[kind] = hits.candidate_pairs(ids, owners)
    return Candidates(everything, candidates["passage"], candidates["quote"])


def verify_fresh(
    store: Store,
    tonight: Tonight,
    candidates: Candidates,
    encoder: Encoder,
    settings: NightSettings,
    executor: Executor | None = None,
    model: Encoder | None = None,
) -> list[DuplicatePair]:
    """Verify duplicates between the fresh articles and each other or the involved stored ones; store them.

    With a calibrated `model`, pairs the lexical check left apart may be found `reworded` or
    `translated` too (`semantic_pairs`).
    """
    everything = candidates.articles
    pairs = find_duplicates(
        everything,
        None,
        candidates.passages,
        quote_candidates=candidates.quotes,
        settings=settings.duplicates,
        executor=executor,
    )
    fresh = set(tonight.fresh)
    pairs = [p for p in pairs if p.article_a in fresh or p.article_b in fresh]
    texts = {a.article.id: a.article.text for a in everything}
    if model is not None:
        fresh_prepared = [a for a in everything if a.article.id in fresh]
        found = semantic_pairs(store, tonight, fresh_prepared, pairs, model, settings)
        pairs += found
        texts.update(_texts_of(store, found, texts))
    store.replace_pairs(
        tonight.fresh,
        [
            StoredPair(
                p.article_a,
                p.article_b,
                p.kind.value,
                round(p.score, 4),
                p.first,
                pair_evidence(p, texts),
                encoder.name,
                tonight.run_id,
            )
            for p in pairs
        ],
    )
    checkpoint("verify: pairs stored")
    store.mark_analysed(tonight.fresh, encoder.name)
    return pairs


def _texts_of(store: Store, pairs: Sequence[DuplicatePair], known: dict[str, str]) -> dict[str, str]:
    wanted = {a for p in pairs for a in p.articles if a not in known}
    return {a.id: a.text for a in store.articles(sorted(wanted))} if wanted else {}


def lead_name(model: Encoder) -> str:
    """The name each article's lead vector is stored under, for finding tomorrow's candidates among them."""
    return f"{model.name}:lead"


def semantic_pairs(
    store: Store,
    tonight: Tonight,
    fresh: Sequence[PreparedArticle],
    lexical: Sequence[DuplicatePair],
    model: Encoder,
    settings: NightSettings,
) -> list[DuplicatePair]:
    """`reworded` and `translated` pairs of the fresh articles with the window (see `clustering.semantic`).

    The leads' vectors and languages are kept per article, so later nights find candidates among
    them without reading the articles again; window articles analysed before without the model get
    theirs now. Paragraph vectors are cached like every other text's.
    """
    thresholds = CALIBRATED.get(model.name)
    if thresholds is None:
        log.info("the model %s has no calibrated thresholds: it verifies no pairs", model.name)
        return []
    by_id = {a.article.id: a for a in fresh}
    fresh_ids = list(by_id)
    leads = _article_leads(store, fresh, model)
    others = [a for a in tonight.window if a not in by_id]
    leads.update(store.article_vectors(lead_name(model), others))
    unread = [a for a in others if a not in leads]
    if unread:
        log.info("%d window articles have no lead vector yet: the model reads them", len(unread))
        again = prepare_stored(store, unread, settings, save=False)
        by_id.update({a.article.id: a for a in again})
        leads.update(_article_leads(store, again, model))
    ids = [*fresh_ids, *(a for a in others if a in leads)]
    languages = {a: f.get("language") for a, f in store.article_facts(ids, label_terms=False).items()}
    row = {a: i for i, a in enumerate(ids)}
    excluded = {
        (min(row[p.article_a], row[p.article_b]), max(row[p.article_a], row[p.article_b]))
        for p in lexical
        if p.article_a in row and p.article_b in row
    }
    rows = candidate_articles(
        range(len(fresh_ids)),
        np.stack([leads[a] for a in ids]).astype(np.float32),
        [languages.get(a) for a in ids],
        excluded,
        settings.semantic,
    )
    if not rows:
        return []
    wanted = sorted({ids[k] for i, j, _ in rows for k in (i, j)} - set(by_id))
    by_id.update({a.article.id: a for a in prepare_stored(store, wanted, settings, save=False)})
    involved = sorted({ids[k] for i, j, _ in rows for k in (i, j)})
    passages = {a: reporting_passages(by_id[a], settings.semantic.max_passages) for a in involved}
    chosen = within_budget(
        store, model, [(ids[i], ids[j]) for i, j, _ in rows], passages, settings.semantic.budget(len(fresh))
    )
    vectors = _passage_vectors(store, {a: passages[a] for pair in chosen for a in pair}, model)
    found = []
    for a, b in chosen:
        pair = semantic_pair(
            by_id[a],
            by_id[b],
            (passages[a], passages[b]),
            (vectors[a], vectors[b]),
            (languages.get(a), languages.get(b)),
            thresholds,
            settings.semantic,
        )
        if pair is not None:
            found.append(pair)
    log.info(
        "the model compared %d of %d candidate pairs (its passage budget): %d carry the same reporting",
        len(chosen),
        len(rows),
        len(found),
    )
    return found


def within_budget(
    store: Store, model: Encoder, pairs: Sequence[tuple[str, str]], passages: dict[str, list[Passage]], budget: float
) -> list[tuple[str, str]]:
    """The pairs, in order, whose passages the model can read within `budget` passages it has not read before."""
    digests = {a: {content_hash(p.text) for p in found} for a, found in passages.items()}
    every = set().union(*digests.values())
    read = {digest for kind in ("passage", "lead") for digest in store.cached_vectors(model.name, kind, every)}
    chosen = []
    for a, b in pairs:
        new = (digests[a] | digests[b]) - read
        if len(new) <= budget:
            budget -= len(new)
            read |= new
            chosen.append((a, b))
    return chosen


def _article_leads(store: Store, prepared: Sequence[PreparedArticle], model: Encoder) -> dict[str, np.ndarray]:
    """Lead vectors of `prepared`, stored per article with the detected language of those whose input gave none."""
    matrix, _ = lead_vectors(store, prepared, model)
    leads = dict(zip((a.article.id for a in prepared), compact(matrix), strict=True))
    store.save_article_vectors(lead_name(model), leads)
    article_languages(store, prepared)
    return leads


def article_languages(store: Store, prepared: Sequence[PreparedArticle]) -> list[str | None]:
    """Each article's language: the input's, else one detected before and stored, else detected now and stored."""
    stored = store.article_facts([a.article.id for a in prepared if not a.article.language], label_terms=False)
    languages = [
        (a.article.language or stored.get(a.article.id, {}).get("language") or "").lower() or None for a in prepared
    ]
    detected = {a.article.id: language_of(a) for a, x in zip(prepared, languages, strict=True) if x is None}
    store.save_languages({a: language for a, language in detected.items() if language})
    return [x if x is not None else detected[a.article.id] for a, x in zip(prepared, languages, strict=True)]


def _passage_vectors(store: Store, passages: dict[str, list[Passage]], model: Encoder) -> dict[str, np.ndarray]:
    """The model's vector of each passage, by article; each distinct passage is encoded once, ever."""
    hashes = {a: [content_hash(p.text) for p in found] for a, found in passages.items()}
    texts = {digest: p.text for a, found in passages.items() for digest, p in zip(hashes[a], found, strict=True)}
    # a short article's only passage is often its whole lead: the same text, already read
    vectors, _ = _encoded_once(store, model, "passage", texts, also_kinds=("lead",))
    return {
        a: np.stack([vectors[d] for d in digests]).astype(np.float32) if digests else np.zeros((0, model.dim))
        for a, digests in hashes.items()
    }


def thread_window(
    store: Store,
    tonight: Tonight,
    prepared: Sequence[PreparedArticle],
    settings: NightSettings,
    model: Encoder | None = None,
) -> ThreadUpdate:
    """Re-cluster the window, keep previous thread ids (see `clustering.continuity`) and store the result.

    With a `model`, story vectors hold its lead vectors too, and the thread settings are its own
    (`ThreadSettings.with_model`).
    """
    thread_settings = settings.threads if model is None else settings.threads.with_model()
    name = story_name(thread_settings, model)
    stored = _save_story_vectors(store, prepared, thread_settings, model)
    stored.update(store.article_vectors(name, [a for a in tonight.window if a not in stored]))
    missing = [a for a in tonight.window if a not in stored]
    if missing:
        # analysed by a run that died before this stage, by a version with other story vectors, or without this model
        log.info("%d window articles have no story vector yet: computing them", len(missing))
        again = prepare_stored(store, missing, settings, save=False)
        stored.update(_save_story_vectors(store, again, thread_settings, model))
    window = [a for a in tonight.window if a in stored]
    previous = store.memberships()
    # articles a killed run analysed but never threaded count as tonight's too
    unthreaded = {a for a in window if a not in previous}
    fresh = set(tonight.fresh) | unthreaded
    fresh_rows = [i for i, a in enumerate(window) if a in fresh]
    attached: dict[str, str] = {}
    if not fresh_rows or len(fresh_rows) == len(window):
        scope = list(window) if fresh_rows else []
    else:
        window_matrix = np.stack([stored[a] for a in window])
        nearest = window_neighbours(window_matrix, fresh_rows, thread_settings.scope_neighbours)
        attached = _attached(store, window, window_matrix, fresh_rows, nearest, previous, thread_settings)
        del window_matrix
        left = [i for i, row in enumerate(fresh_rows) if window[row] not in attached]
        scope = reclustering_scope(window, [fresh_rows[i] for i in left], nearest[left], previous)
        # an article attached to a thread that is re-clustered tonight after all is clustered with it
        reclustered = {previous[a] for a in scope if a in previous}
        if any(thread in reclustered for thread in attached.values()):
            again = {a for a, thread in attached.items() if thread in reclustered}
            attached = {a: thread for a, thread in attached.items() if a not in again}
            again |= set(scope)
            scope = [a for a in window if a in again]
        log.info("%d of tonight's articles joined a stored thread as it is", len(attached))
    # HDBSCAN finds a story as denser than what surrounds it: a sample of the rest of the window is
    # clustered along as background, and only the scope's articles take tonight's groups
    background = _background(window, scope) if scope else []
    clustered = sorted(scope + background)
    log.info(
        "re-clustering %d of the window's %d articles around tonight's (with %d more as background)",
        len(scope),
        len(window),
        len(background),
    )
    matrix = (
        np.stack([stored[a] for a in clustered]).astype(np.float32)
        if clustered
        else np.zeros((0, thread_settings.story_dim + (model.dim if model else 0)), dtype=np.float32)
    )
    strong = store.links_among(clustered, STRONG_KINDS)
    in_scope = set(scope)
    facts = store.article_facts(clustered)
    published = [facts.get(a, {}).get("published_at") for a in clustered]
    groups = [
        kept
        for group in group_articles(
            clustered, matrix, strong, thread_settings, published, [_language(facts.get(a, {})) for a in clustered]
        )
        if (kept := [a for a in group if a in in_scope])
    ]

    row_of = {a: i for i, a in enumerate(clustered)}
    rows_of_thread: dict[str, list[int]] = {}
    for article, thread in previous.items():
        if article in row_of:
            rows_of_thread.setdefault(thread, []).append(row_of[article])

    def founding_order(article: str) -> tuple[datetime, str]:
        found = facts.get(article, {})
        return (found.get("published_at") or found.get("arrived_at") or datetime.max, article)

    # centroids of the previous threads with articles among the clustered ones, computed once:
    # a night with many new groups asks about the same threads again and again
    centred = sorted(rows_of_thread)
    centroids = (
        np.stack([_unit(matrix[rows_of_thread[t]].mean(axis=0)) for t in centred])
        if centred
        else np.zeros((0, matrix.shape[1]), dtype=np.float32)
    )

    near: dict[tuple[str, ...], list[tuple[float, str]]] = {}

    def continue_thread(group: Sequence[str], candidates: set[str]) -> str | None:
        """The most similar unclaimed previous thread, if similar enough (ties: the last id)."""
        if not near:
            # asked first: every group against the threads unclaimed now (later candidates are fewer), in
            # one matrix product a block at a time, keeping what passes; group by group it took seconds
            near.update(_similar_threads(groups, matrix, row_of, centroids, centred, candidates, settings))
        best, best_similarity = None, settings.continue_similarity
        for similarity, thread in near.get(tuple(group), []):
            if thread in candidates and (similarity, thread) >= (best_similarity, best or ""):
                best, best_similarity = thread, similarity
        return best

    continuity = carry_threads(groups, scope, previous, store.thread_ids_ever(), founding_order, continue_thread)
    for article, thread in sorted(attached.items()):
        continuity.memberships[article] = thread
        continuity.grew.setdefault(thread, []).append(article)
    continuity = follow_representatives(continuity, previous, tonight.represented)
    touched = set(continuity.memberships.values()) | set(continuity.merged.values())
    members_outside = [a for a, t in previous.items() if t in touched and a not in in_scope]
    members_outside += [a for a in continuity.memberships if a not in facts and a not in previous]
    facts.update(store.article_facts(members_outside))
    grown = set(attached.values())
    # a label weighs its thread's terms against the articles re-clustered tonight and the threads grown
    labelled = [*scope, *(a for a in members_outside if current_thread(a, continuity, previous) in grown)]
    update = _thread_update(
        tonight.run_id, continuity, previous, facts, labelled, thread_settings.label_terms, store.thread_labels()
    )
    store.save_threads(tonight.run_id, update)
    return update


SIMILARITY_BLOCK = 1024
"""Groups whose similarity to the previous threads is computed in one matrix product."""


def _similar_threads(
    groups: Sequence[Sequence[str]],
    matrix: np.ndarray,
    row_of: dict[str, int],
    centroids: np.ndarray,
    threads: Sequence[str],
    candidates: set[str],
    settings: NightSettings,
) -> dict[tuple[str, ...], list[tuple[float, str]]]:
    """For each group (as a tuple), the candidate threads (rows of `centroids`, ids in `threads`) whose
    centroid's cosine with the group's reaches `settings.continue_similarity`, as (similarity, thread)."""
    columns = [i for i, thread in enumerate(threads) if thread in candidates]
    found: dict[tuple[str, ...], list[tuple[float, str]]] = {tuple(group): [] for group in groups}
    if not columns:
        return found
    chosen = centroids[columns]
    for start in range(0, len(groups), SIMILARITY_BLOCK):
        block = groups[start : start + SIMILARITY_BLOCK]
        means = np.stack([_unit(matrix[[row_of[a] for a in group]].mean(axis=0)) for group in block])
        similarity = means @ chosen.T
        for group, row in zip(block, similarity, strict=True):
            close = np.flatnonzero(row >= settings.continue_similarity)
            found[tuple(group)] = [(float(row[i]), threads[columns[i]]) for i in close]
    return found


def _language(facts: dict) -> str | None:
    language = facts.get("language")
    return language.lower() if language else None


def _background(window: Sequence[str], scope: Sequence[str]) -> list[str]:
    """A fixed sample of the window outside `scope`, as large as the scope (at least 100)."""
    in_scope = set(scope)
    rest = [a for a in window if a not in in_scope]
    size = min(len(rest), max(100, len(scope)))
    return sorted(random.Random(len(window)).sample(rest, size))


EXACT_SCOPE_PRODUCTS = 2_000_000_000
"""Up to this many (fresh article, window article) products, a night's neighbours are found exactly."""


def window_neighbours(matrix: np.ndarray, fresh_rows: Sequence[int], neighbours: int) -> np.ndarray:
    """Rows of the `neighbours` + 1 window articles (rows of `matrix`) nearest each fresh row, itself among
    them, most similar first (-1 where the window is smaller)."""
    # a small night searches exactly: cheaper than training an inverted file over the whole window
    exact = len(fresh_rows) * len(matrix) <= EXACT_SCOPE_PRODUCTS
    index = PassageIndex.from_vectors(matrix, exact_limit=len(matrix) if exact else EXACT_LIMIT)
    _, rows = index.nearest(matrix[list(fresh_rows)], min(neighbours, len(matrix) - 1) + 1)
    return rows


def _attached(
    store: Store,
    window: Sequence[str],
    matrix: np.ndarray,
    fresh_rows: Sequence[int],
    nearest: np.ndarray,
    previous: dict[str, str],
    settings: ThreadSettings,
) -> dict[str, str]:
    """Tonight's articles that join a stored thread as it is (`clustering.threads.attach_to_threads`): id -> thread.

    Only threads of two or more articles take new ones so; an article analysed before (an edited
    one) is re-clustered, since the thread it leaves changes too.
    """
    sizes = Counter(previous.values())
    threads = sorted(thread for thread, size in sizes.items() if size > 1)
    number = {thread: i for i, thread in enumerate(threads)}
    fresh = {window[row] for row in fresh_rows}
    labels = np.array([-1 if a in fresh else number.get(previous.get(a, ""), -1) for a in window])
    row_of = {a: i for i, a in enumerate(window)}
    involved = sorted({window[r] for r in nearest.ravel() if r >= 0} | fresh)
    facts = store.article_facts(involved, label_terms=False)
    published = [facts.get(a, {}).get("published_at") for a in window]
    links = store.links_of(sorted(fresh), STRONG_KINDS)
    strong = [(row_of[a], row_of[b]) for a, b, _ in links if a in row_of and b in row_of]
    new = [i for i, row in enumerate(fresh_rows) if window[row] not in previous]
    joined = attach_to_threads(matrix, labels, [fresh_rows[i] for i in new], nearest[new], settings, strong, published)
    return {window[row]: threads[label] for row, label in joined.items()}


def current_thread(article: str, continuity: Continuity, previous: dict[str, str]) -> str | None:
    """The article's thread after tonight's `continuity`."""
    return continuity.memberships.get(article, previous.get(article))


def reclustering_scope(
    window: Sequence[str], fresh_rows: Sequence[int], nearest: np.ndarray, previous: dict[str, str]
) -> list[str]:
    """The window articles to re-cluster tonight: the fresh ones (`fresh_rows`), their nearest
    neighbours (`nearest`, see `window_neighbours`), and every member of the threads those belong
    to. Threads elsewhere in the window are left as they are, so a night's clustering costs what
    is new, not the size of the window."""
    chosen = {window[r] for r in np.asarray(nearest).ravel() if r >= 0} | {window[r] for r in fresh_rows}
    threads = {previous[a] for a in chosen if a in previous}
    in_window = set(window)
    chosen |= {a for a, t in previous.items() if t in threads and a in in_window}
    return [a for a in window if a in chosen]


def _thread_update(
    run_id: str,
    continuity: Continuity,
    previous: dict[str, str],
    facts: dict[str, dict],
    window: Sequence[str],
    label_count: int,
    previous_labels: dict[str, str] | None = None,
) -> ThreadUpdate:
    members: dict[str, list[str]] = {}
    current = {**previous, **continuity.memberships}
    for article, thread in current.items():
        members.setdefault(thread, []).append(article)
    touched = set(continuity.memberships.values()) | set(continuity.created)

    def terms_of(article: str) -> list[str]:
        return (facts.get(article, {}).get("label_terms") or "").split()

    # terms are split article by article and thread by thread: all of them at once, for a
    # window of 100,000 articles, would be tens of millions of small strings
    rarity = TermRarity()
    for article in set(window):
        rarity.add(terms_of(article), _language(facts.get(article, {})))
    labels = {
        thread: thread_label(
            [facts.get(a, {}).get("title") or "" for a in members.get(thread, [])],
            [terms_of(a) for a in members.get(thread, [])],
            rarity,
            label_count,
            (previous_labels or {}).get(thread),
            [_language(facts.get(a, {})) for a in members.get(thread, [])],
        )
        for thread in touched
    }
    events: list[ThreadEvent] = []
    for thread, parent in sorted(continuity.created.items()):
        if parent is not None:
            events.append(ThreadEvent(run_id, "split", parent, [thread]))
        elif len(members.get(thread, [])) > 1:
            events.append(ThreadEvent(run_id, "new", thread, sorted(members[thread])))
    survivors: dict[str, list[str]] = {}
    before = Counter(previous.values())
    for retired, survivor in continuity.merged.items():
        # a single-article thread absorbed by a story is that story growing, not a merge of stories
        if before[retired] > 1:
            survivors.setdefault(survivor, []).append(retired)
    for survivor, retired in sorted(survivors.items()):
        events.append(ThreadEvent(run_id, "merge", survivor, sorted(retired)))
    for thread, added in sorted(continuity.grew.items()):
        events.append(ThreadEvent(run_id, "grew", thread, sorted(added)))
    return ThreadUpdate(continuity.memberships, labels, continuity.created, continuity.merged, events)


def _save_story_vectors(
    store: Store, prepared: Sequence[PreparedArticle], settings: ThreadSettings, model: Encoder | None = None
) -> dict[str, np.ndarray]:
    """Compute, store and return the story vectors of `prepared` (with the `model`'s lead vectors, if given).

    IDF comes from the store's term statistics, into which the articles are counted first (each
    article once: one with a stored vector was counted on an earlier night; an edited article,
    whose vector the edit dropped, counts again). Vectors stored on earlier nights keep the IDF
    of their night; with thousands of articles counted, a night moves it little. The model's
    per-language means (`LanguageMeans`) are kept and counted the same way.
    """
    vectoriser = settings.vectoriser()
    name = story_name(settings, model)
    ids = [a.article.id for a in prepared]
    texts: list[np.ndarray] = []
    for start in range(0, len(prepared), STORY_BATCH):  # a few thousand articles' terms as strings at a time
        batch = prepared[start : start + STORY_BATCH]
        unknown = [a.article.id for a in batch if a.label_terms is None]
        facts = store.article_facts(unknown) if unknown else {}
        texts += [label_term_ids(a, facts.get(a.article.id, {}).get("label_terms")) for a in batch]
    saved = store.term_statistics(name)
    statistics = TermStatistics.from_bytes(*saved) if saved else TermStatistics()
    counted = store.article_vector_ids(name, ids)
    new = [hashes for article, hashes in zip(ids, texts, strict=True) if article not in counted]
    if new:
        statistics.add(new)
        store.save_term_statistics(name, statistics.documents, statistics.to_bytes())
    titles = [title_term_ids(a) for a in prepared]
    matrix = vectoriser.vectors(texts, titles, statistics)
    if model is not None:
        leads, _ = lead_vectors(store, prepared, model)
        languages = article_languages(store, prepared)
        means_name = f"{name}:languages"
        saved_means = store.term_statistics(means_name)
        means = LanguageMeans.from_bytes(saved_means[1]) if saved_means else LanguageMeans(model.dim)
        uncounted = [i for i, article in enumerate(ids) if article not in counted]
        if uncounted:
            means.add(leads[uncounted], [languages[i] for i in uncounted])
            store.save_term_statistics(means_name, sum(means.counts.values()), means.to_bytes())
        matrix = with_model(matrix, means.centred(leads, languages), settings.model.weight)
    vectors = dict(zip(ids, matrix.astype(np.float16), strict=True))
    store.save_article_vectors(name, vectors)
    return vectors


STORY_BATCH = 5_000


def _described(prepared: PreparedArticle, line_keys: list[str | None]) -> tuple[PreparedArticle, list[ParagraphRow]]:
    """A prepared article with its paragraph rows (worked out in the worker that prepared it)."""
    rows = [
        ParagraphRow(p.index, p.start, p.end, content_hash(p.text), key, p.boilerplate)
        for p, key in zip(prepared.paragraphs, line_keys, strict=True)
    ]
    return prepared, rows


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
