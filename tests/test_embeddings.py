"""Encoders, encoder choice and the FAISS candidate search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.text import TOKEN_TERMS
from embeddings.choose import choose_encoder
from embeddings.encoders import Encoder, LexicalEncoder, SentenceTransformerEncoder
from embeddings.index import PassageIndex, candidate_pairs

A = "قال وزير الخارجية إن المفاوضات ستستأنف الأسبوع المقبل في العاصمة القطرية الدوحة"
A_VARIANT = "قالَ وزيرُ الخارجيّة إنّ المفاوضات ستُستأنف الأسبوع المقبل في العاصمة القطريّة الدوحة"
B = "ارتفعت أسعار النفط في الأسواق العالمية بعد قرار أوبك خفض الإنتاج"


def test_lexical_vectors_are_unit_length_and_deterministic() -> None:
    first = LexicalEncoder().encode([A, B])
    again = LexicalEncoder().encode([A, B])
    assert np.array_equal(first, again)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_lexical_vector_does_not_depend_on_the_rest_of_the_corpus() -> None:
    encoder = LexicalEncoder(batch_size=2)
    alone = encoder.encode([A])[0]
    among_others = encoder.encode([B, B, A, B])[2]
    assert np.allclose(alone, among_others, atol=1e-6)


def test_lexical_similarity_sees_through_arabic_variants() -> None:
    a, variant, other = LexicalEncoder().encode([A, A_VARIANT, B])
    assert float(a @ variant) > 0.99
    assert float(a @ other) < 0.3


def _v2_definition(texts: list[str], dim: int = 256, sizes: tuple[int, ...] = (3, 4)) -> np.ndarray:
    """`lexical-v2` vectors as first stored (vectorised numpy): the compiled loop must give these, bit for bit."""
    strings = [" " + " ".join(t for token in text.split() for t in TOKEN_TERMS[token]) + " " for text in texts]
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    codes = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    rows = np.repeat(np.arange(len(strings), dtype=np.int64), lengths)
    spaces = np.concatenate(([0], np.cumsum(codes == 32)))
    keys_rows, keys_hash = [], []
    for n in sizes:
        count = len(codes) - n + 1
        h = np.full(count, np.uint64(n), dtype=np.uint64)
        for k in range(n):
            h = (h * np.uint64(1_000_003)) ^ codes[k : k + count]
        valid = rows[:count] == rows[n - 1 : n - 1 + count]
        if n > 2:
            valid &= spaces[n - 1 : n - 1 + count] - spaces[1 : 1 + count] == 0
        h = h[valid]
        h = h ^ (h >> np.uint64(30))
        h = h * np.uint64(0xBF58476D1CE4E5B9)
        h = h ^ (h >> np.uint64(27))
        h = h * np.uint64(0x94D049BB133111EB)
        keys_rows.append(rows[:count][valid])
        keys_hash.append(h ^ (h >> np.uint64(31)))
    low = np.uint64((1 << 41) - 1)
    keys = (np.concatenate(keys_rows).astype(np.uint64) << np.uint64(41)) | (np.concatenate(keys_hash) & low)
    keys, counts = np.unique(keys, return_counts=True)
    row = (keys >> np.uint64(41)).astype(np.int64)
    hashed = keys & low
    weight = (1.0 + np.log(counts)).astype(np.float32)
    sign = np.where((hashed >> np.uint64(40)) & np.uint64(1), 1.0, -1.0).astype(np.float32)
    bucket = (hashed % np.uint64(dim)).astype(np.int64)
    flat = np.bincount(row * dim + bucket, weights=weight * sign, minlength=len(strings) * dim)
    result = flat.reshape(len(strings), dim).astype(np.float32)
    norms = np.linalg.norm(result, axis=1, keepdims=True)
    np.divide(result, norms, out=result, where=norms > 0)
    return result


def test_lexical_vectors_are_those_stored_by_earlier_versions_bit_for_bit() -> None:
    # stored vectors are reused by name (`lexical-v2-…`): the same name must mean the same numbers
    texts = [A, A_VARIANT, B, "", "a", "ab", "في", "x y z", " \n ", "Reuters — the minister said «no»", A * 30]
    assert np.array_equal(LexicalEncoder(batch_size=4).encode(texts), _v2_definition(texts))


def test_lexical_encoder_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="got 1000"):
        LexicalEncoder(dim=1000)


def test_encoder_names_identify_their_vectors() -> None:
    assert LexicalEncoder(dim=512).name != LexicalEncoder(dim=1024).name
    assert isinstance(LexicalEncoder(), Encoder)


def test_choose_lexical() -> None:
    choice = choose_encoder("lexical")
    assert isinstance(choice.encoder, LexicalEncoder)
    assert choice.fallback_reason is None


def test_auto_falls_back_to_lexical_and_says_why(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    choice = choose_encoder("auto", auto_model="example-org/not-a-cached-model")
    assert isinstance(choice.encoder, LexicalEncoder)
    assert "example-org/not-a-cached-model" in (choice.fallback_reason or "")
    assert "HF_HUB_OFFLINE" in (choice.fallback_reason or "")


def test_auto_uses_a_model_folder_when_it_loads(tiny_model_path: Path) -> None:
    choice = choose_encoder("auto", auto_model=str(tiny_model_path))
    assert isinstance(choice.model, SentenceTransformerEncoder)  # reads the leads; passages stay lexical
    assert isinstance(choice.encoder, LexicalEncoder) and choice.fallback_reason is None


def test_explicit_model_that_cannot_load_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="could not load sentence-transformers model"):
        choose_encoder(str(tmp_path / "no-model-here"))


def test_tiny_sentence_transformer_loads_by_path_and_encodes(tiny_model_path: Path) -> None:
    encoder = choose_encoder(str(tiny_model_path), device="cpu", batch_size=2).model
    assert isinstance(encoder, SentenceTransformerEncoder)
    vectors = encoder.encode([A, B, A])
    assert vectors.shape == (3, encoder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)
    assert encoder.name == f"st-{tiny_model_path.name}-t128"  # leads are cut to 128 tokens: part of the name


def test_candidate_pairs_match_brute_force_and_skip_same_article() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    vectors[30:40] = vectors[:10] + 0.05 * rng.normal(size=(10, 16))  # near copies
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.arange(60) // 3
    found = candidate_pairs(vectors, owners, threshold=0.8)
    similarity = vectors @ vectors.T
    expected = {
        (i, j) for i in range(60) for j in range(i + 1, 60) if similarity[i, j] >= 0.8 and owners[i] != owners[j]
    }
    assert set(zip(found.left.tolist(), found.right.tolist(), strict=True)) == expected
    assert len(expected) >= 10


def test_index_rejects_vectors_of_the_wrong_shape() -> None:
    index = PassageIndex(8)
    with pytest.raises(ValueError, match=r"expected vectors of shape \(n, 8\), got \(2, 4\)"):
        index.add(np.zeros((2, 4), dtype=np.float32))


def test_auto_says_in_plain_words_why_the_hub_cannot_be_reached(monkeypatch) -> None:
    from embeddings import choose

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # a real lookup that fails everywhere: the .invalid top-level domain never resolves (RFC 2606)
    monkeypatch.setattr(choose, "_HUB_HOST", "hub.storythreads.invalid")
    reason = choose_encoder("auto", auto_model="example-org/not-a-cached-model").fallback_reason or ""
    assert "hub.storythreads.invalid does not resolve: no network or no DNS" in reason
    assert "Errno" not in reason
