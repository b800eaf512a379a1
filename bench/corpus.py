"""Synthetic Arabic news corpora with planted near-duplicates of known truth.

    python -m bench.corpus ../shared/data/reuse-dev --articles 10000 --out /tmp/corpus-10k

Base articles are built from sentences of real documents (the PAN source documents by
default); beyond what the documents hold, a sentence is used again with every content word
replaced by another word of the corpus, so two base articles never share reporting by accident.
Then copies are planted, each recorded in the truth with its kind:

- `verbatim`: the whole article again under another id and source;
- `reworded`: every sentence with some words swapped and neighbours transposed;
- `reordered`: the paragraphs in another order;
- `partial`: two of its paragraphs inside another base article;
- `quote`: one of its quotes, with the speaker, in different quote marks inside another article.

Dates spread over `weeks`; a copy is published up to two days after its original. The same
arguments give the same corpus.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from corpus.article import Article
from corpus.text import content_terms, fold, token_terms

DEFAULT_DOCUMENTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reuse-dev"
"""The generator's real text: the shared reuse-dev corpus beside the repository."""


def add_night_options(parser: argparse.ArgumentParser) -> None:
    """`--articles`, `--documents` and `--seed`: the generated night a benchmark runs on."""
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--documents", type=Path, default=DEFAULT_DOCUMENTS, help="real text for the generator")
    parser.add_argument("--seed", type=int, default=0)


def write_night(folder: Path, documents: Path, articles: int, seed: int, id_prefix: str = "") -> Path:
    """A generated night of `articles` as a user would give it (`articles.jsonl` in `folder`, no truth file);
    `id_prefix` before every id keeps them apart from another generated night's."""
    corpus = generate(source_texts(documents), articles, seed)
    if id_prefix:
        corpus.articles = [replace(a, id=id_prefix + a.id) for a in corpus.articles]
    corpus.write(folder)
    (folder / "truth.json").unlink()
    return folder


KINDS = ("verbatim", "reworded", "reordered", "partial", "quote")
_SENTENCE_END = re.compile(r"(?<=[.!؟?])\s+")
_STATEMENT = re.compile(r"وقال ([^:«»]+): «([^«»]+)»")
SPEAKERS = ["أحمد الخطيب", "سارة المنصور", "خالد العمري", "ليلى حداد", "يوسف القاسم", "منى الشريف"]


@dataclass
class PlantedCorpus:
    """Articles and the truth: (copy id, original id, kind) for every planted copy."""

    articles: list[Article] = field(default_factory=list)
    truth: list[tuple[str, str, str]] = field(default_factory=list)

    def write(self, folder: Path) -> None:
        """Write `articles.jsonl` and `truth.json` into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "articles.jsonl", "w", encoding="utf-8") as out:
            for a in self.articles:
                record = {
                    "id": a.id,
                    "title": a.title,
                    "text": a.text,
                    "source": a.source,
                    "published_at": a.published_at.isoformat() if a.published_at else None,
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        (folder / "truth.json").write_text(json.dumps(self.truth, ensure_ascii=False), encoding="utf-8")


def source_texts(documents: Path) -> list[str]:
    """The texts of a PAN corpus's source documents, or of every `.txt` file under a folder."""
    folder = documents / "source-documents" if (documents / "source-documents").is_dir() else documents
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder of documents at {str(folder)!r}; expected a PAN corpus or a folder of .txt")
    return [p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.rglob("*.txt"))]


def sentences_of(texts: Sequence[str], min_words: int = 6) -> list[str]:
    """The sentences of `texts` with at least `min_words` words, in order.

    A sentence that shares a word 4-gram with an earlier one, or several pairs of
    neighbouring content words (a third of its pairs or more), is left out: the documents
    quote one another and follow templates, and that reuse is not planted truth.
    """
    found = []
    seen: set[tuple[str, ...]] = set()
    seen_pairs: set[tuple[str, str]] = set()
    for text in texts:
        for line in text.splitlines():
            if "\t" in line:
                continue  # table rows repeat their headers: not prose
            for sentence in _SENTENCE_END.split(line):
                digits = sum(c.isdigit() for c in sentence)
                tokens = sentence.split()
                if len(tokens) < min_words or digits > len(sentence) // 10:
                    continue
                grams = {tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)}
                terms = content_terms(fold(sentence))
                pairs = set(zip(terms, terms[1:], strict=False))
                shared = len(pairs & seen_pairs)
                if grams & seen or (shared >= 3 and shared * 3 >= len(pairs)):
                    continue
                seen |= grams
                seen_pairs |= pairs
                found.append(sentence.strip())
    return found


def generate(
    texts: Sequence[str],
    articles: int,
    seed: int = 0,
    copy_share: float = 0.1,
    weeks: int = 4,
    start: datetime = datetime(2026, 10, 1),
) -> PlantedCorpus:
    """`articles` articles from the sentences of `texts`, of which about `copy_share` are planted copies."""
    if articles < 2:
        raise ValueError(f"articles must be at least 2, got {articles}")
    pool = sentences_of(texts)
    if len(pool) < 30:
        raise ValueError(f"the texts hold {len(pool)} usable sentences; expected at least 30")
    rng = random.Random(seed)
    # neighbouring sentences of one document share its topic and phrasing: spread them out
    rng.shuffle(pool)
    # plain words only: a stray quote mark or bracket from a word list would open a quote
    vocabulary = sorted({w for s in pool for w in s.split() if len(w) > 3 and w.isalpha()})
    copies = int(articles * copy_share)
    corpus = PlantedCorpus()
    cursor = 0

    def sentence() -> str:
        nonlocal cursor
        text = pool[cursor % len(pool)]
        rounds = cursor // len(pool)
        cursor += 1
        if rounds == 0:
            return text
        # a sentence used again: new content words on its skeleton of short function words, so two
        # base articles never share reporting by accident
        return " ".join(w if _function_word(w) else rng.choice(vocabulary) for w in text.split())

    def base(index: int) -> Article:
        paragraphs = []
        for _ in range(rng.randint(4, 7)):
            body = " ".join(sentence() for _ in range(rng.randint(2, 3)))
            if rng.random() < 0.25:
                speaker = rng.choice(SPEAKERS)
                body += f" وقال {speaker}: «{sentence()}»."
            paragraphs.append(body)
        title = " ".join(paragraphs[0].split()[:9])
        published = start + timedelta(minutes=rng.randint(0, weeks * 7 * 24 * 60))
        return Article(f"a{index:07d}", title, "\n".join(paragraphs), published, f"outlet-{rng.randint(1, 40)}")

    originals = [base(i) for i in range(articles - copies)]
    corpus.articles += originals
    for number in range(copies):
        original = rng.choice(originals)
        kind = KINDS[number % len(KINDS)]
        copy_id = f"c{number:07d}"
        published = original.published_at + timedelta(minutes=rng.randint(10, 2 * 24 * 60))
        source = f"outlet-{rng.randint(41, 60)}"
        paragraphs = original.text.split("\n")
        if kind == "verbatim":
            text = original.text
        elif kind == "reworded":
            text = "\n".join(_reword(p, rng, vocabulary) for p in paragraphs)
        elif kind == "reordered":
            shuffled = paragraphs[:]
            while shuffled == paragraphs:
                rng.shuffle(shuffled)
            text = "\n".join(shuffled)
        elif kind == "partial":
            host = base(articles + number).text.split("\n")
            taken = rng.sample(paragraphs, 2)
            text = "\n".join(host[:2] + taken + host[2:])
        else:
            # a statement worth tracing: a handful of content words, not "it happens"
            statements = [
                m for p in paragraphs for m in _STATEMENT.finditer(p) if len(content_terms(fold(m.group(2)))) >= 5
            ]
            if not statements:
                kind, text = "verbatim", original.text
            else:
                statement = rng.choice(statements)
                host = base(articles + number).text.split("\n")
                host.insert(1, f"وأضاف {statement.group(1)} أن “{statement.group(2)}”.")
                text = "\n".join(host)
        title = " ".join(text.split("\n")[0].split()[:9])
        corpus.articles.append(Article(copy_id, title, text, published, source))
        corpus.truth.append((copy_id, original.id, kind))
    return corpus


def _function_word(word: str) -> bool:
    return not token_terms(word)


def _swap_words(text: str, rng: random.Random, vocabulary: Sequence[str], share: float) -> str:
    return " ".join(rng.choice(vocabulary) if rng.random() < share else w for w in text.split())


def _reword(paragraph: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """Some words swapped for others and some neighbours transposed: the same reporting, reworded."""
    words = _swap_words(paragraph, rng, vocabulary, 0.15).split()
    for i in range(0, len(words) - 1, 7):
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("documents", type=Path, help="a PAN corpus (its source documents are used) or a folder")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    corpus = generate(source_texts(args.documents), args.articles, args.seed)
    corpus.write(args.out)
    print(f"{len(corpus.articles)} articles, {len(corpus.truth)} planted copies -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
