"""Threads are stories, not topics: two events of the same kind stay apart, and an article that carries two
stories does not chain them into one thread (a whole night through the stages, lexical encoder)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from corpus.article import Article
from tests.batch import analyse, threads_of

FIRES = [
    {
        "city": "الإسكندرية",
        "place": "مصنع النصر للغزل والنسيج",
        "area": "منطقة برج العرب",
        "official": "اللواء محمود الشريف محافظ الإسكندرية",
        "injured": "12",
        "dead": "اثنين",
        "cause": "ماس كهربائي في قسم الصباغة",
        "day": datetime(2026, 11, 3, 8),
        "closing": "وطالبت نقابة عمال الغزل بتعويض أسر الضحايا في برج العرب.",
    },
    {
        "city": "الموصل",
        "place": "معمل الرافدين للمواد الكيميائية",
        "area": "حي الصناعة شرق الموصل",
        "official": "العميد ياسر الجبوري مدير الدفاع المدني في نينوى",
        "injured": "7",
        "dead": "ثلاثة",
        "cause": "انفجار خزان للوقود داخل المخزن",
        "day": datetime(2026, 11, 20, 8),
        "closing": "وقررت حكومة نينوى المحلية إغلاق المعمل حتى انتهاء التحقيق.",
    },
]
OPENINGS = [
    "اندلع حريق كبير صباح اليوم في {place} في {area} بمدينة {city}، وهرعت سيارات الإطفاء إلى المكان.",
    "شب حريق هائل في {place} الواقع في {area} في {city}، ما أدى إلى سقوط ضحايا.",
    "أعلنت السلطات في {city} عن حريق ضخم التهم أجزاء من {place} في {area}.",
    "تمكنت فرق الدفاع المدني في {city} من السيطرة على حريق اندلع في {place}.",
    "لقي {dead} عمال حتفهم وأصيب {injured} آخرون في حريق {place} في {city}.",
]
REPORTING = [
    "وقال {official} إن الحريق أسفر عن مقتل {dead} عمال وإصابة {injured} آخرين بحالات اختناق وحروق.",
    "وأوضح {official} أن التحقيقات الأولية تشير إلى أن السبب {cause}.",
    "وأضاف {official} أن فرق الإطفاء عملت لساعات لمنع امتداد النيران إلى المباني المجاورة في {area}.",
    "ونقل المصابون الـ{injured} إلى مستشفيات {city} لتلقي العلاج، وحالة بعضهم حرجة.",
    "وفتحت النيابة في {city} تحقيقا في ملابسات حريق {place} لتحديد المسؤولية.",
    "وشوهدت أعمدة الدخان الكثيف تتصاعد فوق {area} من مسافات بعيدة.",
]
TITLES = ["حريق في {place} بـ{city}", "مقتل {dead} عمال في حريق بـ{city}", "النيران تلتهم {place}"]


def _fire_articles(event: int) -> list[Article]:
    """Five outlets' reports of one factory fire: the same kind of news as the other fire, other facts."""
    facts = FIRES[event]
    articles = []
    for outlet in range(5):
        rng = random.Random(event * 10 + outlet)
        title = TITLES[outlet % len(TITLES)].format(**facts)
        paragraphs = [OPENINGS[outlet].format(**facts)]
        paragraphs += [line.format(**facts) for line in rng.sample(REPORTING, 4)] + [facts["closing"]]
        articles.append(
            Article(
                id=f"fire{event}-{outlet}",
                title=title,
                text="\n".join([title, *paragraphs]),
                published_at=facts["day"] + timedelta(hours=outlet),
                source=f"outlet{outlet}.example",
            )
        )
    return articles


def test_two_fires_of_the_same_kind_are_two_threads() -> None:
    night = analyse(_fire_articles(0) + _fire_articles(1))
    threads = threads_of(night)
    for event in (0, 1):
        assert {threads.get(f"fire{event}-{n}") for n in range(5)} == {threads[f"fire{event}-0"]}, threads
    assert threads["fire0-0"] != threads["fire1-0"]


MATCH = [
    "فاز نادي الزمالك على ضيفه الإسماعيلي بثلاثة أهداف مقابل هدف في الدوري الممتاز مساء الجمعة.",
    "وسجل المهاجم سيف الجزيري هدفين في الشوط الأول قبل أن يضيف ناصر منسي الهدف الثالث.",
    "وقال المدرب البرتغالي جوزيه جوميز إن فريقه قدم مباراة قوية رغم الغيابات.",
    "وارتفع رصيد الزمالك إلى ثلاثين نقطة في المركز الثاني خلف الأهلي المتصدر.",
    "ويستعد الفريق لمواجهة بيراميدز في الجولة المقبلة على ستاد القاهرة الدولي.",
    "واحتشد أكثر من عشرين ألف مشجع في المدرجات لمتابعة اللقاء.",
]


def test_an_article_carrying_two_stories_does_not_chain_them_into_one_thread() -> None:
    fire = [paragraph for article in _fire_articles(0)[:1] for paragraph in article.text.splitlines()[1:]]
    day = datetime(2026, 11, 3, 8)
    articles = []
    for n in range(3):
        rng = random.Random(n)
        articles.append(Article(f"A{n}", f"حريق مصنع الإسكندرية {n}", "\n".join(rng.sample(fire, 4)), day))
        articles.append(Article(f"C{n}", f"الزمالك يفوز على الإسماعيلي {n}", "\n".join(rng.sample(MATCH, 4)), day))
    # B shares half its paragraphs with the A articles and half with the C articles: A–B and B–C, A far from C
    articles.append(Article("B", "حصاد اليوم في الإسكندرية والملاعب", "\n".join(fire[:3] + MATCH[:3]), day))
    night = analyse(articles)
    threads = threads_of(night)
    pairs = {frozenset((p.article_a, p.article_b)) for p in night.pairs}
    assert {frozenset(("A0", "B")), frozenset(("B", "C0"))} <= pairs  # B shares reporting with both sides
    a_threads = {threads.get(f"A{n}") for n in range(3)}
    c_threads = {threads.get(f"C{n}") for n in range(3)}
    assert len(a_threads) == 1 and len(c_threads) == 1 and None not in a_threads | c_threads, threads
    assert a_threads.isdisjoint(c_threads)
