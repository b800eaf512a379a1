"""Story threads: articles about the same developing story, grouped with HDBSCAN."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from clustering.story import StoryVectoriser, TermStatistics, term_hashes
from corpus.article import PreparedArticle
from corpus.text import Memo, token_terms
from embeddings.index import PassageIndex


@dataclass(frozen=True)
class ModelStorySettings:
    """How threads use a multilingual model's lead vectors, when a run has a model (see `ThreadSettings.with_model`).

    Chosen on two corpora together (similarity-dev's pairs in 9 languages and stories-dev's
    English events), checked on halves of each: docs/measurements.md, "Story vectors with the model".
    """

    weight: float = 0.85
    """The model's share of a story vector (its squared length); the rest is word TF-IDF."""
    attach_similarity: float = 0.35
    merge_similarity: float = 0.4
    min_member_similarity: float = 0.33
    cross_language_allowance: float = 0.06
    """Added to the similarity of two articles in different languages when a member's nearest fellow is
    checked against `min_member_similarity`: centred per language, the model still rates the same story
    lower across languages. Chosen on one half of similarity-dev's pairs, checked on the other."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"ModelStorySettings.weight must be in [0, 1], got {self.weight}")


@dataclass(frozen=True)
class ThreadSettings:
    """HDBSCAN parameters and labelling of the thread stage."""

    min_cluster_size: int = 2
    min_samples: int = 1
    story_dim: int = 1024
    """Columns of the story vectors (hashed TF-IDF of content words, see `clustering.story`)."""
    title_weight: float = 0.5
    """Weight of the title's own TF-IDF vector in an article's story vector."""
    attach_similarity: float = 0.25
    """An article HDBSCAN leaves as noise joins the thread whose centroid is at least this similar (cosine)."""
    merge_similarity: float = 0.3
    """Two threads whose centroids are at least this similar (cosine) are one story that HDBSCAN split."""
    label_terms: int = 4
    neighbours: int = 30
    """Nearest neighbours per article in the graph HDBSCAN clusters (see `neighbour_graph`)."""
    scope_neighbours: int = 10
    """A night re-clusters its new articles with this many nearest neighbours of each (and their threads)."""
    time_distance: float = 0.2
    """Added to the distance (0 to 2) between two articles published `time_scale_days` or more apart,
    in proportion below: a story develops over days and weeks, so two similar articles years
    apart are less likely the same story than two from the same week."""
    time_scale_days: float = 30.0
    min_member_similarity: float = 0.0
    """A clustered article whose most similar fellow member is less similar than this (cosine) leaves
    the cluster: HDBSCAN measures density relative to the surroundings, so in a sparse corpus it
    pairs articles that are merely each other's nearest. 0 (off) for word vectors, whose scale the
    other thresholds were set on; the model's setting is in `model`."""
    cross_language_allowance: float = 0.0
    """See `ModelStorySettings.cross_language_allowance` (word vectors of two languages share no words)."""
    model: ModelStorySettings = field(default_factory=ModelStorySettings)

    def __post_init__(self) -> None:
        if self.min_cluster_size < 2:
            raise ValueError(f"ThreadSettings.min_cluster_size must be at least 2, got {self.min_cluster_size}")
        if self.neighbours < 1 or self.scope_neighbours < 1:
            raise ValueError(
                f"ThreadSettings.neighbours and scope_neighbours must be at least 1, "
                f"got {self.neighbours} and {self.scope_neighbours}"
            )
        if self.min_samples < 1:
            raise ValueError(f"ThreadSettings.min_samples must be at least 1, got {self.min_samples}")
        self.vectoriser()  # checks story_dim and title_weight
        if self.time_distance < 0 or self.time_scale_days <= 0:
            raise ValueError(
                f"ThreadSettings.time_distance must be >= 0 and time_scale_days > 0, "
                f"got {self.time_distance} and {self.time_scale_days}"
            )

    def vectoriser(self) -> StoryVectoriser:
        """The story vectoriser these settings describe."""
        return StoryVectoriser(self.story_dim, self.title_weight)

    def with_model(self) -> ThreadSettings:
        """These settings for story vectors that hold a model's lead vectors (their cosines run higher)."""
        return replace(
            self,
            attach_similarity=self.model.attach_similarity,
            merge_similarity=self.model.merge_similarity,
            min_member_similarity=self.model.min_member_similarity,
            cross_language_allowance=self.model.cross_language_allowance,
        )


def story_vectors(
    prepared: Sequence[PreparedArticle],
    settings: ThreadSettings,
    hashes: Sequence[np.ndarray] | None = None,
    statistics: TermStatistics | None = None,
) -> np.ndarray:
    """The articles' story vectors (see `clustering.story`), one unit row each.

    `hashes` are the `term_hashes` of the articles' `label_terms` when already at hand; IDF
    comes from `statistics`, or from these articles when None.
    """
    texts = hashes if hashes is not None else [label_term_ids(article) for article in prepared]
    if len(texts) != len(prepared):
        raise ValueError(f"got label terms of {len(texts)} articles for {len(prepared)} articles")
    if statistics is None:
        statistics = TermStatistics()
        statistics.add(texts)
    titles = [title_term_ids(article) for article in prepared]
    return settings.vectoriser().vectors(texts, titles, statistics)


def label_term_ids(article: PreparedArticle, kept: str | None = None) -> np.ndarray:
    """The `term_hashes` of the article's label terms, its title's first: from its preparation, else from the label
    terms `kept` with it (space-separated), else found now."""
    if article.label_terms is not None:
        return article.label_terms.hashes
    return term_hashes(kept.split() if kept is not None else label_terms(article))


def title_term_ids(article: PreparedArticle) -> np.ndarray:
    """The `term_hashes` of the label terms of the article's title."""
    if article.label_terms is not None:
        return article.label_terms.title_hashes
    return term_hashes(title_terms(article))


def title_terms(article: PreparedArticle) -> list[str]:
    """Content terms of the title alone."""
    return list(itertools.chain.from_iterable(map(_label_terms_of_token, article.article.title.split())))


def group_articles(
    ids: Sequence[str],
    vectors: np.ndarray,
    strong: Sequence[tuple[str, str, float]] = (),
    settings: ThreadSettings | None = None,
    published: Sequence[datetime | None] | None = None,
    languages: Sequence[str | None] | None = None,
) -> list[list[str]]:
    """Groups of articles about the same story; articles in no group are left out.

    HDBSCAN runs on the article vectors (distances grow with the time between the articles'
    `published` dates, see `ThreadSettings.time_distance`); an article left as noise joins the group of an
    article it is a near-duplicate of (`strong` pairs), since the same reporting is the same
    story, and then the group whose centroid it is closest to, if that cosine is at least
    `attach_similarity` (HDBSCAN leaves small stories' late articles as noise). Last, articles
    linked by `strong` pairs always end in one group (see `_keep_copies_together`).
    """
    settings = settings or ThreadSettings()
    if len(ids) != len(vectors):
        raise ValueError(f"got {len(vectors)} article vectors for {len(ids)} articles")
    if published is not None and len(published) != len(ids):
        raise ValueError(f"got {len(published)} publication dates for {len(ids)} articles")
    labels = _cluster(vectors, settings, published)
    if languages is not None and len(languages) != len(ids):
        raise ValueError(f"got {len(languages)} languages for {len(ids)} articles")
    labels = _without_loose_members(
        vectors, labels, settings.min_member_similarity, languages, settings.cross_language_allowance
    )
    labels = _attach_duplicates(list(ids), labels, strong)
    labels = _merge_close(vectors, labels, settings, published)
    labels = _attach_to_nearest(vectors, labels, settings.attach_similarity)
    labels = _keep_copies_together(list(ids), labels, strong, published)
    members: dict[int, list[str]] = defaultdict(list)
    for article_id, label in zip(ids, labels, strict=True):
        if label >= 0:
            members[int(label)].append(article_id)
    return [members[label] for label in sorted(members)]


def thread_id(founding_article: str) -> str:
    """A thread's id, derived from the article that started it."""
    return "t-" + hashlib.sha1(founding_article.encode("utf-8")).hexdigest()[:10]


def _cluster(vectors: np.ndarray, settings: ThreadSettings, published: Sequence[datetime | None] | None) -> np.ndarray:
    if len(vectors) < settings.min_cluster_size:
        return np.full(len(vectors), -1)
    import hdbscan  # imported here: slow to import, and only this stage needs it

    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=settings.min_cluster_size,
        min_samples=settings.min_samples,
        metric="precomputed",
        allow_single_cluster=False,
    )
    graph = neighbour_graph(vectors, settings.neighbours)
    if published is not None and settings.time_distance > 0:
        graph = _with_time_distance(graph, published, settings.time_distance, settings.time_scale_days)
    return np.asarray(clusterer.fit_predict(graph))


def _without_loose_members(
    vectors: np.ndarray,
    labels: np.ndarray,
    floor: float,
    languages: Sequence[str | None] | None = None,
    allowance: float = 0.0,
) -> np.ndarray:
    """Members whose most similar fellow member is below `floor` become noise; so does a member left alone.

    Two members in different known `languages` count `allowance` more similar.
    """
    if floor <= 0:
        return labels
    labels = labels.copy()
    codes = None
    if languages is not None and allowance:
        known = {language: code for code, language in enumerate(sorted({x for x in languages if x}))}
        codes = np.array([known.get(language, -1) if language else -1 for language in languages])
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == label)
        for start in range(0, len(members), 4096):  # a large cluster a block of rows at a time
            rows = members[start : start + 4096]
            similarity = vectors[rows] @ vectors[members].T
            if codes is not None:
                row_codes, member_codes = codes[rows][:, None], codes[members][None, :]
                apart = (row_codes != member_codes) & (row_codes >= 0) & (member_codes >= 0)
                similarity = similarity + allowance * apart
            similarity[np.arange(len(rows)), np.arange(start, start + len(rows))] = -np.inf
            labels[rows[similarity.max(axis=1) < floor]] = -1
        if np.count_nonzero(labels == label) < 2:
            labels[labels == label] = -1
    return labels


def _with_time_distance(
    graph: sparse.csr_matrix, published: Sequence[datetime | None], distance: float, scale_days: float
) -> sparse.csr_matrix:
    """`graph` with `distance` x min(days apart / `scale_days`, 1) added to each edge between dated articles."""
    days = np.array([moment.timestamp() / 86400 if moment else np.nan for moment in published])
    edges = graph.tocoo()
    apart = np.nan_to_num(np.abs(days[edges.row] - days[edges.col]), nan=0.0)
    bridge = edges.data >= FAR  # the joins between unconnected parts stay at the top of the hierarchy
    data = np.where(bridge, edges.data, edges.data + distance * np.minimum(apart / scale_days, 1.0))
    return sparse.csr_matrix((data, (edges.row, edges.col)), shape=graph.shape)


FAR = 2.0
"""The largest distance between unit vectors: joins parts of the graph that share no neighbours."""


def neighbour_graph(vectors: np.ndarray, neighbours: int) -> sparse.csr_matrix:
    """Euclidean distances from each unit vector to its `neighbours` nearest, as a symmetric sparse matrix.

    HDBSCAN on this graph builds its hierarchy from the edges that matter for clusters of
    near neighbours, at a cost linear in the number of articles (the dense version is
    quadratic). Parts of the graph with no edge between them are joined at `FAR`, the
    top of the hierarchy, where the full matrix would join them too.
    """
    count = len(vectors)
    k = min(count - 1, neighbours)
    index = PassageIndex.from_vectors(vectors)
    similarity, rows = index.nearest(vectors, k + 1)
    sources = np.repeat(np.arange(count), k + 1)
    targets = rows.ravel()
    distances = np.sqrt(np.clip(2.0 - 2.0 * similarity.ravel(), 0.0, None))
    keep = (targets >= 0) & (targets != sources)
    # zero means "no edge" in a sparse matrix: identical articles get the smallest positive distance
    distances = np.maximum(distances[keep], 1e-9)
    graph = sparse.coo_matrix((distances, (sources[keep], targets[keep])), shape=(count, count)).tocsr()
    graph = graph.maximum(graph.T).tocsr()
    parts, labels = csgraph.connected_components(graph, directed=False)
    if parts > 1:
        first = np.unique(labels, return_index=True)[1]
        anchor = np.full(parts - 1, first[0])
        bridges = sparse.coo_matrix((np.full(parts - 1, FAR), (anchor, first[1:])), shape=(count, count)).tocsr()
        graph = graph.maximum(bridges).maximum(bridges.T).tocsr()
    return graph


def _attach_duplicates(ids: list[str], labels: np.ndarray, strong: Sequence[tuple[str, str, float]]) -> np.ndarray:
    labels = labels.copy()
    row = {article_id: i for i, article_id in enumerate(ids)}
    next_label = int(labels.max(initial=-1)) + 1
    for article_a, article_b, _ in sorted(strong, key=lambda p: (-p[2], p[0], p[1])):
        if article_a not in row or article_b not in row:
            continue
        a, b = row[article_a], row[article_b]
        if labels[a] < 0 and labels[b] < 0:
            labels[a] = labels[b] = next_label
            next_label += 1
        elif labels[a] < 0:
            labels[a] = labels[b]
        elif labels[b] < 0:
            labels[b] = labels[a]
    return labels


def _keep_copies_together(
    ids: list[str],
    labels: np.ndarray,
    strong: Sequence[tuple[str, str, float]],
    published: Sequence[datetime | None] | None = None,
) -> np.ndarray:
    """Each set of articles linked by `strong` pairs moves, whole, to the group most of its members are in.

    A near-duplicate or exact copy is the same reporting, so it is the same story: a reader must
    never find a copy in one thread and its original in another. Only the linked articles move;
    the groups they leave and join are not merged, so two stories are never chained through them.
    A tie goes to the group of the earliest published member (the original's), else the lowest
    label; a set whose members are all unassigned becomes a group of its own. An article that alone
    links two groups (a round-up carrying two stories) stays with one of them (`_without_bridges`).
    """
    row = {article_id: i for i, article_id in enumerate(ids)}
    links = np.array([(row[a], row[b]) for a, b, _ in strong if a in row and b in row], dtype=np.int64)
    if not len(links):
        return labels
    size = len(ids)
    links = _without_bridges(links, labels, size)
    graph = sparse.coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), shape=(size, size))
    _, component = csgraph.connected_components(graph, directed=False)
    linked = np.unique(links)
    linked = linked[np.argsort(component[linked], kind="stable")]
    labels = labels.copy()
    next_label = int(labels.max(initial=-1)) + 1
    for members in np.split(linked, np.flatnonzero(np.diff(component[linked])) + 1):
        placed = [m for m in members.tolist() if labels[m] >= 0]
        if not placed:
            labels[members] = next_label
            next_label += 1
            continue
        votes = Counter(int(labels[m]) for m in placed)
        most = max(votes.values())
        tied = sorted(label for label, count in votes.items() if count == most)
        dated = [(published[m], int(labels[m])) for m in placed if published is not None and published[m]]
        earliest = [label for _, label in sorted(dated) if label in tied]
        labels[members] = earliest[0] if earliest else tied[0]
    return labels


def _without_bridges(links: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
    """`links` (rows of article pairs) without those that make one article the only bridge between groups.

    Rules, for each article whose linked partners are in two or more groups:
    1. Its partners are split by the links that remain without it; if they all stay connected, it
       bridges nothing (the groups are linked elsewhere too) and keeps every link.
    2. Otherwise it keeps its links to the side holding most of its partners (a tie: the side with
       the lowest group label among its partners) and loses the others: a copy joins one story, and
       A near B, B near C, A far from C stays two stories.
    """
    partners: dict[int, list[int]] = defaultdict(list)
    for a, b in links.tolist():
        partners[a].append(b)
        partners[b].append(a)
    mixed = [
        article
        for article, others in partners.items()
        if len({int(labels[other]) for other in others if labels[other] >= 0}) > 1
    ]
    dropped: set[tuple[int, int]] = set()
    for article in mixed:
        kept = [(a, b) for a, b in links.tolist() if article not in (a, b) and (min(a, b), max(a, b)) not in dropped]
        rest = np.array(kept, dtype=np.int64).reshape(-1, 2)
        graph = sparse.coo_matrix((np.ones(len(rest)), (rest[:, 0], rest[:, 1])), shape=(size, size))
        _, component = csgraph.connected_components(graph, directed=False)
        sides: dict[int, list[int]] = defaultdict(list)
        for other in partners[article]:
            sides[int(component[other])].append(other)
        if len(sides) < 2:
            continue

        def rank(side: list[int]) -> tuple[int, int]:
            placed = [int(labels[other]) for other in side if labels[other] >= 0]
            return (-len(side), min(placed, default=size))

        chosen = min(sides.values(), key=rank)
        dropped |= {(min(article, o), max(article, o)) for o in partners[article] if o not in chosen}
    if not dropped:
        return links
    kept = [(a, b) for a, b in links.tolist() if (min(a, b), max(a, b)) not in dropped]
    return np.array(kept, dtype=np.int64).reshape(-1, 2)


def _centroids(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cluster labels in use and their unit centroids (one sparse product: a loop is quadratic at 100k)."""
    clusters = np.unique(labels[labels >= 0])
    clustered = np.flatnonzero(labels >= 0)
    membership = sparse.csr_matrix(
        (np.ones(len(clustered), dtype=np.float32), (np.searchsorted(clusters, labels[clustered]), clustered)),
        shape=(len(clusters), len(labels)),
    )
    centroids = np.asarray(membership @ vectors, dtype=np.float32)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return clusters, centroids


def _merge_close(
    vectors: np.ndarray, labels: np.ndarray, settings: ThreadSettings, published: Sequence[datetime | None] | None
) -> np.ndarray:
    """Clusters whose centroids are at least `merge_similarity` similar become one (transitively).

    As in clustering, time apart counts against similarity: the cosine is lowered by
    `time_distance` x min(days between the clusters' median dates / `time_scale_days`, 1).
    """
    clusters, centroids = _centroids(vectors, labels)
    if len(clusters) < 2:
        return labels
    days = np.full(len(clusters), np.nan)  # each cluster's (lower) median date, in days
    if published is not None:
        stamps = np.array([moment.timestamp() / 86400 if moment else np.nan for moment in published])
        dated = (labels >= 0) & ~np.isnan(stamps)
        rows, stamps = np.searchsorted(clusters, labels[dated]), stamps[dated]
        order = np.lexsort((stamps, rows))
        rows, stamps = rows[order], stamps[order]
        starts = np.searchsorted(rows, np.arange(len(clusters)))
        ends = np.searchsorted(rows, np.arange(len(clusters)), side="right")
        some = ends > starts
        days[some] = stamps[(starts[some] + ends[some] - 1) // 2]
    index = PassageIndex.from_vectors(centroids)
    lefts, rights = [], []
    for row, neighbours, similarity in index.within(centroids, settings.merge_similarity):
        apart = np.nan_to_num(np.abs(days[neighbours] - days[row]), nan=0.0)
        close = similarity - settings.time_distance * np.minimum(apart / settings.time_scale_days, 1.0)
        keep = neighbours[close >= settings.merge_similarity]
        lefts.extend([row] * len(keep))
        rights.extend(keep.tolist())
    graph = sparse.coo_matrix((np.ones(len(lefts)), (lefts, rights)), shape=(len(clusters), len(clusters)))
    _, merged = csgraph.connected_components(graph, directed=False)
    labels = labels.copy()
    clustered = labels >= 0
    labels[clustered] = merged[np.searchsorted(clusters, labels[clustered])]
    return labels


def _attach_to_nearest(vectors: np.ndarray, labels: np.ndarray, threshold: float, batch: int = 4096) -> np.ndarray:
    """Noise articles join the thread with the most similar centroid, when similar enough."""
    clusters = np.unique(labels[labels >= 0])
    noise = np.flatnonzero(labels < 0)
    if not len(clusters) or not len(noise):
        return labels
    clusters, centroids = _centroids(vectors, labels)
    labels = labels.copy()
    for start in range(0, len(noise), batch):  # noise x clusters at once would take gigabytes
        rows = noise[start : start + batch]
        similarity = vectors[rows] @ centroids.T
        best = similarity.argmax(axis=1)
        close = similarity[np.arange(len(rows)), best] >= threshold
        labels[rows[close]] = clusters[best[close]]
    return labels


def attach_to_threads(
    vectors: np.ndarray,
    labels: np.ndarray,
    fresh: Sequence[int],
    neighbours: np.ndarray,
    settings: ThreadSettings,
    strong: Sequence[tuple[int, int]] = (),
    published: Sequence[datetime | None] | None = None,
) -> dict[int, int]:
    """Tonight's articles (rows `fresh`) that join a stored thread as it is, without re-clustering: row -> label.

    `labels` give each row's stored thread (-1: none, a thread of one article, or tonight's);
    `neighbours[i]` the rows of fresh article i's nearest articles, most similar first (-1 where
    fewer); `strong` the (row, row) near-duplicate links of the fresh articles. A fresh article
    joins thread L when:
    1. its nearest earlier article (not tonight's) is a member of L, and every article of tonight
       nearer than that one would join L too (two rewrites of one wire story are each other's
       nearest; a new story's first articles are too, and join nothing);
    2. its cosine with L's centroid reaches `attach_similarity` and with that nearest member
       `min_member_similarity`, each lowered for the time between the two articles as clustering
       lowers it (`time_distance`);
    3. L is the only thread among its neighbours whose centroid is that close: an article between
       two threads may join them into one story, which only re-clustering decides;
    4. every article it is a near-duplicate of is in L or joins it (a copy never leaves its original),
       applied until nothing changes.
    The rest of tonight's articles, and every article of a stored thread they come near, are
    re-clustered as before.
    """
    if not len(fresh) or not np.any(labels >= 0):
        return {}
    if len(neighbours) != len(fresh):
        raise ValueError(f"got neighbours of {len(neighbours)} articles for {len(fresh)} fresh ones")
    clusters, centroids = _centroids(vectors, labels)
    centroid_row = {int(label): row for row, label in enumerate(clusters)}
    tonight = set(fresh)
    days = (
        np.array([moment.timestamp() / 86400 if moment else np.nan for moment in published])
        if published is not None
        else np.full(len(labels), np.nan)
    )

    def penalty(a: int, b: int) -> float:
        apart = abs(days[a] - days[b])
        return 0.0 if np.isnan(apart) else settings.time_distance * min(apart / settings.time_scale_days, 1.0)

    candidate: dict[int, int] = {}  # rules 2 and 3
    ahead: dict[int, list[int]] = {}  # tonight's articles nearer than the nearest earlier one
    for row, found in zip(fresh, neighbours, strict=True):
        others = [int(n) for n in found if n >= 0 and n != row]
        earlier = next((i for i, n in enumerate(others) if n not in tonight), None)
        if earlier is None or labels[others[earlier]] < 0:
            continue
        member = others[earlier]
        near = {int(labels[n]) for n in others if labels[n] >= 0 and n not in tonight}
        close = [
            label
            for label in sorted(near)
            if float(vectors[row] @ centroids[centroid_row[label]]) - penalty(row, member) >= settings.attach_similarity
        ]
        similar = float(vectors[row] @ vectors[member]) - penalty(row, member) >= settings.min_member_similarity
        if close == [int(labels[member])] and similar:
            candidate[row] = close[0]
            ahead[row] = others[:earlier]
    partners: dict[int, list[int]] = defaultdict(list)
    for a, b in strong:
        partners[a].append(b)
        partners[b].append(a)
    joined = {row: label for row, label in candidate.items() if all(candidate.get(n) == label for n in ahead[row])}
    while True:
        apart = {
            row
            for row, label in joined.items()
            if any((joined.get(p) if p in tonight else int(labels[p])) != label for p in partners[row])
        }
        if not apart:
            return joined
        joined = {row: label for row, label in joined.items() if row not in apart}


def label_terms(article: PreparedArticle) -> list[str]:
    """Content terms of the title and the reporting paragraphs (not the overlapping windows)."""
    return list(itertools.chain.from_iterable(map(_label_terms_of_token, _label_text(article).split())))


def _label_text(article: PreparedArticle) -> str:
    reporting = [p.text for p in article.paragraphs if p.boilerplate is None]
    return article.article.title + "\n" + "\n".join(reporting)


def _long_terms_of_token(token: str) -> tuple[str, ...]:
    return tuple(term for term in token_terms(token) if len(term) > 2)


_LABEL_TERMS_OF_TOKEN: Memo[tuple[str, ...]] = Memo(_long_terms_of_token)
_label_terms_of_token = _LABEL_TERMS_OF_TOKEN.__getitem__
