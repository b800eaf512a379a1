"""Site furniture, quotes and speakers, on the seeds and on hand-made text."""

from __future__ import annotations

from corpus.article import Article
from corpus.boilerplate import RepeatedLines, furniture_reason
from corpus.prepare import prepare_article, prepare_articles
from corpus.quotes import find_quotes
from corpus.text import fold


def _by_id(prepared, prefix: str):
    return next(p for p in prepared if p.article.id.startswith(prefix))


def test_seed_furniture_is_marked_and_never_becomes_a_passage(seed_prepared) -> None:
    for prefix in ("001", "002"):
        article = _by_id(seed_prepared, prefix)
        furniture = {p.text for p in article.paragraphs if p.boilerplate}
        assert "مقالات ذات صلة" in furniture
        assert all("مقالات ذات صلة" not in passage.text for passage in article.passages)
    assert {"اترك تعليقاً", "زر الذهاب إلى الأعلى"} <= {
        p.text for p in _by_id(seed_prepared, "001").paragraphs if p.boilerplate
    }
    assert {"Total", "0", "مشاركة"} <= {p.text for p in _by_id(seed_prepared, "002").paragraphs if p.boilerplate}
    assert {"إعلان", "المصدر : وكالات"} <= {p.text for p in _by_id(seed_prepared, "000").paragraphs if p.boilerplate}


def test_exactly_the_seed_furniture_is_marked(seed_prepared) -> None:
    furniture = {p.text for a in seed_prepared for p in a.paragraphs if p.boilerplate}
    assert furniture == {
        "المصدر : وكالات",
        "إعلان",  # 000
        "مقالات ذات صلة",
        "اترك تعليقاً",
        "لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *",
        "زر الذهاب إلى الأعلى",
        "إغلاق",  # 001
        "Total",
        "0",
        "مشاركة",  # 002
        "أرسل تعليقك",
        "تعليقك كزائر",  # 003
    }


def test_furniture_rules_are_general() -> None:
    assert furniture_reason("Related articles") is not None
    assert furniture_reason("1.2K shares") is None  # counters with words are not guessed at
    assert furniture_reason("12 | 45") is not None
    assert furniture_reason("Your email address will not be published. Required fields are marked *") is not None
    assert furniture_reason("Share this article on Facebook and Twitter") is None
    assert furniture_reason("قالت الوزارة إن الاجتماع سيعقد غدا") is None


def test_a_line_a_source_repeats_across_its_articles_is_furniture() -> None:
    footer = "تابعوا آخر الأخبار على موقعنا وحساباتنا في مواقع التواصل"
    articles = [
        Article(
            id=f"a{i}",
            title=f"خبر {i}",
            text=f"خبر {i}\nنص الخبر رقم {i} عن حدث مختلف تماما في مدينة أخرى.\n{footer}",
            source="example.com",
        )
        for i in range(3)
    ]
    other_source = Article(id="b", title="خبر", text=f"خبر\n{footer}", source="other.org")
    prepared = prepare_articles([*articles, other_source])
    for article in prepared[:3]:
        assert [p.boilerplate for p in article.paragraphs if p.text == footer] == [
            "repeated by its source across articles"
        ]
    assert [p.boilerplate for p in prepared[3].paragraphs if p.text == footer] == [None]


def test_reversed_quote_marks_are_paired_and_the_speaker_named(seed_prepared) -> None:
    wooster = [q for q in _by_id(seed_prepared, "000").quotes if "لا أعتقد ذلك" in q.text]
    assert len(wooster) == 1
    assert wooster[0].text.startswith("لا أعتقد ذلك في الأمد القريب")
    assert wooster[0].text.endswith("لا نعتقد أنهم سيتراجعون")
    assert wooster[0].speaker == "ووستر"


def test_speakers_of_the_seed_statements(seed_prepared) -> None:
    speakers = {q.text[:12]: q.speaker for a in seed_prepared[:1] + seed_prepared[4:] for q in a.quotes}
    assert speakers["نعرف بالتأكيد"[:12]] == "جيمس جيفري"  # «وقال مبعوث …، جيمس جيفري، الخميس “…”»
    assert speakers["نعرف ذلك. بال"[:12]] == "جيم جيفري"  # «كما أضاف أيضاً:» takes the previous paragraph's speaker
    assert speakers["هناك أمراً آخ"[:12]] == "ووستر"  # «يعتقد ووستر أن "…"»


def test_quote_text_offsets_point_into_the_original_article(seed_prepared) -> None:
    for article in seed_prepared:
        for quote in article.quotes:
            assert article.article.text[quote.start : quote.end] == quote.text


def test_short_quoted_names_are_not_statements() -> None:
    assert find_quotes("نقلت صحيفة “واشنطن بوست” عن مسؤول أمريكي") == []


def test_english_attribution_after_the_quote_and_apostrophes() -> None:
    quotes = find_quotes("“We don’t expect any change this year at all,” Maria Lopez said on Monday.")
    assert len(quotes) == 1
    assert quotes[0].speaker == "Maria Lopez"


def test_angle_quotes_and_single_quotes() -> None:
    text = "وقال الوزير «لن نقبل بأي حل لا يحترم إرادة الشعب» ثم غادر. وكتب ‘هذا قرار نهائي لا رجعة فيه أبدا’"
    found = [text[q.start : q.end] for q in find_quotes(text)]
    assert found == ["لن نقبل بأي حل لا يحترم إرادة الشعب", "هذا قرار نهائي لا رجعة فيه أبدا"]


def test_passages_keep_original_text_and_folded_form() -> None:
    article = Article(
        id="x", title="t", text="عنوان\nقالَ الوزيرُ إنّ الحكومةَ ستُعلن خطةً جديدةً لدعم المزارعين في المناطق الريفية"
    )
    prepared = prepare_article(article, repeated=RepeatedLines())
    assert len(prepared.passages) == 1
    passage = prepared.passages[0]
    assert article.text[passage.start : passage.end] == passage.text
    assert passage.folded == fold(passage.text)
    assert "َ" not in passage.folded


def test_speaker_names_leave_out_titles_and_roles() -> None:
    from corpus.quotes import speaker_names

    assert speaker_names("وزير المالية") == set() == speaker_names("الوزير")
    assert speaker_names("المتحدث باسم الخارجية") == set() == speaker_names("the spokesman")
    assert speaker_names("رئيس الوزراء أحمد سالم") == {"احمد", "سالم"}
    assert speaker_names("Finance Minister John Smith") == {"john", "smith"}


def test_a_kept_preparation_gives_back_the_same_article_and_only_for_the_same_settings(seed_prepared) -> None:
    from dataclasses import replace

    import numpy as np

    from corpus.prepare import PrepareSettings, kept_tokens, packed_preparation, unpacked_preparation

    settings = PrepareSettings()
    for prepared in seed_prepared:
        packed, terms = packed_preparation(prepared, settings), kept_tokens(prepared)
        rebuilt = unpacked_preparation(prepared.article, packed, settings, terms)
        assert rebuilt is not None
        assert rebuilt.paragraphs == prepared.paragraphs
        assert rebuilt.passages == prepared.passages and rebuilt.quotes == prepared.quotes
        for found, original in ((rebuilt.tokens, prepared.tokens), (rebuilt.title_tokens, prepared.title_tokens)):
            assert all(np.array_equal(a, b) for a, b in zip(vars(found).values(), vars(original).values(), strict=True))
    article = seed_prepared[0]
    packed, terms = packed_preparation(article, settings), kept_tokens(article)
    # kept with other settings, for another text, without its terms (an older store's) or not a preparation at all:
    # the article is prepared again
    assert unpacked_preparation(article.article, packed, replace(settings, min_passage_terms=3), terms) is None
    shortened = replace(article.article, text=article.article.text[:10])
    assert unpacked_preparation(shortened, packed, settings, terms) is None
    assert unpacked_preparation(article.article, packed, settings, None) is None
    assert unpacked_preparation(article.article, "not json", settings, terms) is None


def test_prepared_articles_hold_little_beyond_their_text(seeds_dir) -> None:
    """A night holds every prepared article of its window: paragraphs point into the article's text instead of
    copying it, and an article's terms are arrays of its own size, not views that keep a whole batch's
    oversized working arrays alive."""
    import gc
    import tracemalloc

    from corpus.readers import read_articles

    seeds = read_articles([seeds_dir]).articles
    articles = [
        Article(id=f"{a.id}-{n}", title=a.title, text=f"{a.text}\n\nنسخة {n}", source=a.source)
        for n in range(40)
        for a in seeds
    ]
    characters = sum(len(a.text) for a in articles)
    prepare_articles(articles[:5])  # caches and compiled code warmed
    gc.collect()
    tracemalloc.start()
    try:
        prepared = prepare_articles(articles)
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(p.paragraphs[0].text == p.article.text[: p.paragraphs[0].end] for p in prepared)
    # about 8 bytes a character (terms, offsets, label terms); 17 while paragraphs copied their text
    assert held < 10 * characters, f"{held / characters:.1f} bytes held a character of text"
