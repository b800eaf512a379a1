"""Duplicate pairs and story threads: the seed expectations, and hand-made cases."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime

from clustering.duplicates import DuplicateSettings, PairKind
from clustering.verify import ordered_region
from corpus.article import Article
from night.settings import NightSettings
from tests.batch import analyse, threads_of
from tests.conftest import WIRE_PAIR


def test_seeds_have_exactly_one_pair_the_two_versions_of_the_briefing(seed_analysis) -> None:
    assert [pair.articles for pair in seed_analysis.pairs] == [WIRE_PAIR]
    pair = seed_analysis.pairs[0]
    assert pair.kind is PairKind.NEAR_DUPLICATE
    assert pair.score >= 0.5
    assert 0.0 < pair.containment_b <= pair.containment_a < 1.0


def test_seed_pair_shares_the_jeffrey_and_wooster_statements(seed_analysis) -> None:
    quotes = seed_analysis.pairs[0].shared_quotes
    assert len(quotes) >= 3
    jeffrey = [q for q in quotes if "ربما من دولة ثالثة" in q.quote_a.text and "ربما من دولة ثالثة" in q.quote_b.text]
    assert len(jeffrey) == 1
    wooster = [q for q in quotes if q.speaker == "ووستر"]
    assert len(wooster) == 2
    assert all(q.quote_a.speaker == q.quote_b.speaker == "ووستر" for q in wooster)
    wooster_texts = " ".join(q.quote_a.text + q.quote_b.text for q in wooster)
    assert "لا أعتقد ذلك في الأمد القريب" in wooster_texts
    assert "علاقات دبلوماسية مع نظام الأسد" in wooster_texts


def test_furniture_shared_by_001_and_002_is_not_a_pair(seed_analysis) -> None:
    pairs = {frozenset(pair.articles) for pair in seed_analysis.pairs}
    assert frozenset({"001_e514437fa5ae4332", "002_e79f806f87b89604"}) not in pairs


def test_seed_threads(seed_analysis) -> None:
    thread_of = threads_of(seed_analysis)
    assert thread_of[WIRE_PAIR[0]] == thread_of[WIRE_PAIR[1]]
    assert thread_of.get("003_d8e06b09afdf7b02") != thread_of[WIRE_PAIR[0]]
    thread = next(t for t in seed_analysis.report["threads"] if WIRE_PAIR[0] in t["articles"])
    assert "حفتر" in thread["label"]


PARAGRAPHS = [
    "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في مدينة البصرة بسعة ثلاثمائة سرير لخدمة سكان المحافظة.",
    "وقال الوزير خلال حفل الافتتاح إن المستشفى سيضم أقساما متخصصة لأمراض القلب والأطفال والطوارئ.",
    "وأضاف أن الحكومة تخطط لبناء خمسة مستشفيات أخرى في المحافظات الجنوبية خلال العامين المقبلين.",
    "ويعاني القطاع الصحي في العراق من نقص حاد في الأطباء والمعدات الطبية منذ سنوات طويلة.",
]
OTHER = [
    "فاز المنتخب الوطني لكرة القدم على نظيره الأردني بهدفين مقابل هدف في المباراة الودية أمس.",
    "وسجل المهاجم هدف الفوز في الدقيقة الأخيرة من المباراة التي أقيمت على ملعب الشعب الدولي.",
    "ويستعد المنتخب لخوض تصفيات كأس آسيا الشهر المقبل بمعنويات عالية بعد سلسلة من الانتصارات.",
    "وأكد المدرب أن الفريق بحاجة إلى مزيد من التحضير قبل المواجهات الرسمية المقبلة في البطولة.",
]


def _article(article_id: str, paragraphs: list[str], day: int) -> Article:
    return Article(
        id=article_id, title=paragraphs[0][:30], text="\n".join(paragraphs), published_at=datetime(2024, 3, day)
    )


def _pairs(articles):
    return {pair.articles: pair for pair in analyse(articles).pairs}


def test_kinds_near_and_partial_with_containment_and_first_and_the_same_reporting_as_one_group() -> None:
    night = analyse(
        [
            _article("a", PARAGRAPHS, 1),
            # the same reporting a day later, signed off by its outlet: every passage matches both ways
            _article("b", [*PARAGRAPHS, "تابعونا على تويتر"], 2),
            _article("c", PARAGRAPHS[:3] + OTHER[:1], 3),  # three of four paragraphs
            _article("d", OTHER[1:] + PARAGRAPHS[3:], 4),  # one paragraph reused
        ]
    )
    assert night.report is not None
    (group,) = night.report["groups"]
    assert group["articles"] == ["a", "b"] and group["kind"] == "near_identical" and group["first"] == "a"
    pairs = {pair.articles: pair for pair in night.pairs}
    assert ("a", "b") not in pairs  # implied by the group
    assert pairs[("a", "c")].kind is PairKind.NEAR_DUPLICATE
    assert pairs[("a", "d")].kind is PairKind.PARTIAL_REUSE
    # paragraph 4 of a is about a quarter of its text; about a quarter of d's text
    assert 0.15 < pairs[("a", "d")].containment_a < 0.35
    assert 0.15 < pairs[("a", "d")].containment_b < 0.35
    assert pairs[("a", "d")].matches[0].passage_a.text == PARAGRAPHS[3]
    assert ("c", "d") not in pairs


def test_unrelated_articles_make_no_pair() -> None:
    assert _pairs([_article("a", PARAGRAPHS, 1), _article("b", OTHER, 1)]) == {}


def test_very_short_shared_lines_never_make_a_pair() -> None:
    shared = "عاجل: انفجار في العاصمة"
    assert _pairs([_article("a", [shared, *PARAGRAPHS], 1), _article("b", [shared, *OTHER], 1)]) == {}


def test_a_shared_quote_alone_makes_a_partial_pair() -> None:
    statement = "لن نسمح لأي جهة بتهديد أمن البلاد واستقرارها مهما كانت الظروف والضغوط الخارجية"
    a = PARAGRAPHS[:2] + [f"وقال رئيس الوزراء أحمد سالم “{statement}” في كلمة أمام البرلمان اليوم."]
    b = OTHER[:2] + [f"وفي سياق آخر تماما، أعاد أحمد سالم التأكيد على موقفه الثابت من القضية، قائلا: «{statement}»."]
    pairs = _pairs([_article("a", a, 1), _article("b", b, 1)])
    assert list(pairs) == [("a", "b")]
    pair = pairs[("a", "b")]
    assert pair.kind is PairKind.PARTIAL_REUSE
    assert [q.quote_a.text for q in pair.shared_quotes] == [statement]


def test_same_words_from_different_speakers_are_not_a_shared_quote() -> None:
    statement = "الوضع الاقتصادي يتحسن بشكل ملحوظ منذ بداية العام الحالي بفضل الإصلاحات"
    a = [*PARAGRAPHS[:1], f"وقال الوزير خالد “{statement}”."]
    b = [*OTHER[:1], f"وقالت المعارضة سلمى “{statement}”."]
    pairs = _pairs([_article("a", a, 1), _article("b", b, 1)])
    assert all(not pair.shared_quotes for pair in pairs.values())


def test_a_statement_is_shared_however_each_outlet_names_the_speaker() -> None:
    statement = (
        "سنرفع الحد الأدنى للأجور بنسبة عشرة في المئة اعتبارا من يناير المقبل لجميع العاملين في القطاعين العام والخاص"
    )
    for speaker_a, speaker_b in (
        ("وقال وزير المالية", "وقال الوزير في مؤتمر صحفي:"),  # a title, and the same title shortened
        ("وقال المتحدث باسم الوزارة", "وقال خالد منصور"),  # a role, and a name
    ):
        a = [*PARAGRAPHS[:2], f"{speaker_a} “{statement}”."]
        b = [*OTHER[:2], f"{speaker_b} «{statement}»."]
        pairs = _pairs([_article("a", a, 1), _article("b", b, 1)])
        assert [q.quote_a.text for q in pairs[("a", "b")].shared_quotes] == [statement], (speaker_a, speaker_b)


def test_a_noise_article_joins_the_thread_it_is_close_to_and_a_far_one_does_not() -> None:
    import numpy as np

    from clustering.threads import _attach_to_nearest

    vectors = np.array([[1, 0, 0], [0.96, 0.28, 0], [0, 1, 0], [0, 0.96, 0.28], [0.8, 0.6, 0], [0, 0, 1]], np.float32)
    labels = np.array([0, 0, 1, 1, -1, -1])  # two threads; two articles left as noise
    attached = _attach_to_nearest(vectors, labels, threshold=0.5)
    assert attached.tolist() == [0, 0, 1, 1, 0, -1]  # [0.8, 0.6, 0] is nearer thread 0; [0, 0, 1] near none
    assert _attach_to_nearest(vectors, labels, threshold=0.95).tolist() == labels.tolist()
    # many noise articles are attached a batch at a time; the batch size changes nothing
    assert _attach_to_nearest(vectors, labels, threshold=0.5, batch=1).tolist() == attached.tolist()
    # labels need not be consecutive
    gapped = np.where(labels == 1, 7, labels)
    assert _attach_to_nearest(vectors, gapped, threshold=0.5).tolist() == [0, 0, 7, 7, 0, -1]


def _words(count: int, seed: int) -> list[str]:
    """Distinct made-up content words (no stopwords, no shared stems)."""
    rng = random.Random(seed)
    letters = "bcdfghklmnprstvz"
    found: list[str] = []
    while len(found) < count:
        word = "".join(rng.choice(letters) + rng.choice("aeiou") for _ in range(4))
        if word not in found:
            found.append(word)
    return found


def test_ordered_region_is_the_heaviest_dense_run_of_the_heaviest_common_subsequence() -> None:
    weights = [0.0, 1.0, 5.0, 1.0, 1.0] + [1.0] * 20
    # with no density asked, the whole heaviest common subsequence: 1 2 4 outweighs 1 3 4
    assert ordered_region([1, 2, 3, 4], [1, 3, 2, 4], weights, 0.0) == (7.0, 0, 3, 0, 3)
    assert ordered_region([1, 2], [3, 4], weights, 0.0)[0] == 0.0
    assert ordered_region([], [1], weights, 0.0) == (0.0, -1, -1, -1, -1)
    # a reworded stretch (every other word kept) amid unrelated words: the run covers just that stretch
    kept = [1, 3, 4, 5, 6, 7]
    side_a = [10, 11, 12, 13] + [w for k in kept for w in (k, 20)] + [14, 15, 16]
    side_b = [17, 18] + [w for k in kept for w in (k, 21)] + [19, 22, 23, 24]
    found = ordered_region(side_a, side_b, weights, 0.5)
    assert found == (6.0, 4, 14, 2, 12)
    assert ordered_region(side_a, side_b, weights, 0.6)[0] < 6.0  # half the span is not 60 %
    assert ordered_region(side_a, side_b, weights, 0.5, min_span=12.0)[0] == 0.0  # spans 11 words


def test_a_reworded_paragraph_matches_and_the_same_words_out_of_order_do_not() -> None:
    original = _words(18, 1)
    replacements = iter(_words(40, 2)[-6:])
    # every third word replaced, as a rewriting outlet does with synonyms: 12 of 18 words kept, in order
    reworded = [next(replacements) if i % 3 == 2 else word for i, word in enumerate(original)]
    shuffled = reworded[:]
    random.Random(3).shuffle(shuffled)
    a, b, c = (
        _article(name, [" ".join(_words(30, seed)) + ".", " ".join(words) + "."], seed)
        for name, words, seed in (("a", original, 4), ("b", reworded, 5), ("c", shuffled, 6))
    )
    pairs = _pairs([a, b])
    assert list(pairs) == [("a", "b")]
    match = pairs[("a", "b")].matches[0]
    assert match.in_order >= DuplicateSettings().min_ordered_strength
    assert match.passage_b.text == " ".join(reworded) + "."
    # the same twelve shared words, in another order: words in common, not reworded text
    assert _pairs([a, c]) == {}


def test_a_reworded_sentence_inside_longer_paragraphs_matches_and_a_shared_long_name_does_not() -> None:
    original = _words(21, 11)
    replacements = iter(_words(60, 12)[-7:])
    reworded = [next(replacements) if i % 3 == 2 else word for i, word in enumerate(original)]  # 14 of 21 kept
    name = _words(11, 13)  # a name with its titles, quoted word for word by both
    a = _article("a", [" ".join(_words(12, 14) + original + _words(12, 15)) + "."], 1)
    b = _article("b", [" ".join(_words(12, 16) + reworded + _words(12, 17)) + "."], 2)
    c = _article("c", [" ".join(_words(15, 18) + name + _words(15, 19)) + "."], 3)
    d = _article("d", [" ".join(_words(15, 20) + name + _words(15, 21)) + "."], 4)
    pairs = _pairs([a, b, c, d])
    assert list(pairs) == [("a", "b")]
    match = pairs[("a", "b")].matches[0]
    assert match.in_order >= DuplicateSettings().min_ordered_strength
    # the evidence is the reworded sentence, not the whole windows around it
    shown = a.text[match.start_a : match.end_a].split()
    assert shown[0] == original[0] and shown[-1] in original[-3:]


def test_words_shuffled_over_a_long_passage_still_make_a_pair() -> None:
    passage = _words(400, 7)
    shuffled = passage[:]
    random.Random(8).shuffle(shuffled)
    articles = [
        _article("a", [" ".join(passage)], 1),
        _article("b", [" ".join(shuffled)], 2),
        _article("c", [" ".join(_words(400, 9))], 3),
    ]
    assert list(_pairs(articles)) == [("a", "b")]
    # no window-sized region is dense enough: the pair comes from all the candidate windows together
    window_scale_only = replace(NightSettings().duplicates, scattered_windows=10**9)
    settings = replace(NightSettings(), duplicates=window_scale_only)
    assert analyse(articles, settings).pairs == []


POST = (
    "أعلنت وزارة الداخلية السعودية اليوم القبض على خلية إرهابية مكونة من سبعة أشخاص كانت تخطط لاستهداف "
    "منشآت نفطية في المنطقة الشرقية"
)
OTHER_POSTS = [
    "ارتفعت أسعار الذهب في الأسواق العالمية مع تراجع الدولار الأمريكي أمام العملات الرئيسية وترقب قرار الفائدة",
    "افتتح معرض الكتاب الدولي أبوابه أمام الزوار بمشاركة أكثر من ألف دار نشر عربية وأجنبية هذا العام",
    "توقعت هيئة الأرصاد هطول أمطار رعدية غزيرة على مرتفعات الجنوب الغربي مع رياح نشطة تثير الغبار",
]


def _post(post_id: str, text: str) -> Article:
    return Article(id=post_id, title="", text=text, published_at=datetime(2024, 3, 1))


def _distinct_share(text: str, other: str) -> float:
    from corpus.text import content_terms, fold

    words, others = set(content_terms(fold(text))), set(content_terms(fold(other)))
    return len(words & others) / len(words)


def test_a_post_that_repeats_a_third_of_another_is_partial_reuse_at_its_share_of_words() -> None:
    # the first words of one post, then a story of its own: one passage each, the run too short for 14 words
    half = "أعلنت وزارة الداخلية السعودية اليوم القبض على خلية " + OTHER_POSTS[0]
    pairs = _pairs([_post("a", POST), _post("b", half), *(_post(f"x{i}", t) for i, t in enumerate(OTHER_POSTS[1:]))])
    assert list(pairs) == [("a", "b")]
    pair = pairs[("a", "b")]
    assert pair.kind is PairKind.PARTIAL_REUSE
    # what the post shares is a third of its words, not the one passage it is
    assert abs(pair.containment_b - _distinct_share(half, POST)) < 1e-9 and 0.25 < pair.containment_b < 0.45
    assert abs(pair.containment_a - _distinct_share(POST, half)) < 1e-9


def test_a_post_copied_with_a_flash_prefix_and_a_word_changed_is_a_near_duplicate() -> None:
    copy = "عاجل: " + POST.replace("سبعة", "ثمانية") + " (رويترز)"
    pairs = _pairs([_post("a", POST), _post("b", copy), *(_post(f"x{i}", t) for i, t in enumerate(OTHER_POSTS))])
    assert list(pairs) == [("a", "b")]
    assert pairs[("a", "b")].kind is PairKind.NEAR_DUPLICATE and pairs[("a", "b")].score > 0.9


def test_posts_that_share_a_name_and_a_place_are_not_a_pair() -> None:
    other = "وصل وزير الداخلية السعودية إلى المنطقة الشرقية لتفقد الأوضاع الأمنية ولقاء المسؤولين وأعيان القبائل هناك"
    pairs = _pairs([_post("a", POST), _post("b", other), *(_post(f"x{i}", t) for i, t in enumerate(OTHER_POSTS))])
    assert pairs == {}


def test_the_compiled_verification_finds_exactly_what_the_rules_in_python_find() -> None:
    import numpy as np

    from bench.corpus import generate
    from clustering.duplicates import _match_terms, find_candidates, verify_chunk
    from clustering.verify import PassageTerms
    from corpus.prepare import prepare_articles
    from embeddings.encoders import LexicalEncoder
    from tests.conftest import generator_texts

    prepared = prepare_articles(generate(generator_texts(), 150, seed=4, copy_share=0.3).articles)
    passages = [p.text for a in prepared for p in a.passages]
    candidates = find_candidates(prepared, LexicalEncoder().encode(passages), 0.25)
    terms = PassageTerms(prepared, DuplicateSettings().neighbour_windows)
    settings = DuplicateSettings()
    lefts, rights = candidates.left.astype(np.int64), candidates.right.astype(np.int64)
    python = [
        _match_terms(terms, int(a), int(b), float(s), settings)
        for a, b, s in zip(lefts, rights, candidates.similarity, strict=True)
    ]

    def rounded(match: tuple) -> tuple:
        return tuple(round(value, 6) if isinstance(value, float) else value for value in match)

    compiled = verify_chunk((settings, lefts, rights, candidates.similarity), terms.for_workers())
    assert len(candidates) > 2_000 and len(compiled) > 300
    assert {rounded(m) for m in compiled} == {rounded(m) for m in python if m is not None}
