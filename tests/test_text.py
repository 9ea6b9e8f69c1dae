import pytest

from alignclf.text import Gazetteer, normalise, split_sentences
from conftest import ROOT

ARTICLE = (
    "Trade Ministers Meet In Astana\n"
    'The U.S. envoy arrived on Dec. 5 in Tashkent. "We will expand rail links," said Mr. Karimov.\n'
    "Key points:\n"
    "- Energy: a new gas pipeline\n"
    "* Grain exports to rise\n"
    "| Sector | Goal |\n"
    "|---|---|\n"
    "| Cyber | Joint defence |\n"
    "The minister said the corridor would\n"
    "cut transit times by half.\n"
)


def texts(article):
    return [s.text for s in split_sentences(article)]


def test_headings_bullets_rows_and_wrapped_lines():
    assert texts(ARTICLE) == [
        "Trade Ministers Meet In Astana",
        "The U.S. envoy arrived on Dec. 5 in Tashkent.",
        '"We will expand rail links," said Mr. Karimov.',
        "Key points:",
        "Energy: a new gas pipeline",
        "Grain exports to rise",
        "| Sector | Goal |",
        "| Cyber | Joint defence |",
        "The minister said the corridor would\ncut transit times by half.",
    ]


def test_offsets_point_into_the_original_text():
    article = "  Café talks — Uzbekistan\n\nKazakhstan raised gas exports to China by 10%. Police seized heroin."
    for sentence in split_sentences(article):
        assert article[sentence.start : sentence.end] == sentence.text


def test_seed_document_splits_into_its_lines_and_sentences():
    seed = (ROOT / "data" / "seed" / "000_995e68c812e6e5ae.txt").read_text()
    sentences = split_sentences(seed)
    assert len(sentences) == 53
    assert sentences[4].text == "Exploring New Avenues for Trade Expansion in China-Central Asia Relations"
    assert all(seed[s.start : s.end] == s.text for s in sentences)


@pytest.mark.parametrize("empty", ["", "   \n\t", "!!! ... ---", "|---|---|"])
def test_text_without_words_has_no_sentences(empty):
    assert split_sentences(empty) == []


def test_normalise_strips_markup_the_model_should_not_see():
    assert normalise("- | Energy |  Increased supply |") == "Energy Increased supply"
    assert normalise("ﬁnance\u00a0deal") == "finance deal"


@pytest.fixture(scope="module")
def gazetteer():
    return Gazetteer.from_yaml(ROOT / "configs" / "countries.yaml")


@pytest.mark.parametrize(
    "text, countries",
    [
        ("Talks in Bishkek and Tashkent", ["Kyrgyzstan", "Uzbekistan"]),
        ("A Kyrgyz delegation met Turkmen officials", ["Kyrgyzstan", "Turkmenistan"]),
        ("Sino-Kazakh trade and China's exports", ["China", "Kazakhstan"]),
        ("Dinner in Chinatown with Kazakhstanis", ["Kazakhstan"]),
        ("The posh restaurant served osh pilaf", []),
        ("Xi'an hosted the summit; Dushanbe sent a minister", ["China", "Tajikistan"]),
        ("UZBEKISTAN AND TAJIKISTAN SIGN DEAL", ["Tajikistan", "Uzbekistan"]),
        ("The People’s Republic of China and the Kyrgyz Republic", ["China", "Kyrgyzstan"]),
        ("the prc in lower case is a typo, not a country", []),
        ("the PRC and Osh", ["China", "Kyrgyzstan"]),
        ("The republic of people", []),
    ],
)
def test_countries_match_whole_words(gazetteer, text, countries):
    assert sorted(gazetteer.find(text)) == countries


def test_a_country_without_names_is_refused(tmp_path):
    path = tmp_path / "countries.yaml"
    path.write_text("China: []\n")
    with pytest.raises(ValueError, match="non-empty list"):
        Gazetteer.from_yaml(path)


RUSSIAN = (
    "АСТАНА, 14 марта — Казинформ. В г. Алматы прошла встреча министров, т.е. первый раунд переговоров. "
    "Стороны обсудили поставки газа, зерна и т.д. Об этом сообщил проф. Ибраимов. "
    "Соглашение подписано в 2026 г. Следующая встреча пройдет в Ташкенте."
)
CHINESE = (
    "新华社阿斯塔纳3月14日电 哈萨克斯坦和中国签署天然气协议。“我们对结果很满意。”部长说。双方还讨论了铁路合作！下一步会怎样？"
)


def test_russian_news_keeps_abbreviations_inside_sentences():
    sentences = split_sentences(RUSSIAN)
    assert [s.text for s in sentences] == [
        "АСТАНА, 14 марта — Казинформ.",
        "В г. Алматы прошла встреча министров, т.е. первый раунд переговоров.",
        "Стороны обсудили поставки газа, зерна и т.д.",
        "Об этом сообщил проф. Ибраимов.",
        "Соглашение подписано в 2026 г.",
        "Следующая встреча пройдет в Ташкенте.",
    ]
    assert all(RUSSIAN[s.start : s.end] == s.text for s in sentences)


def test_chinese_news_splits_on_full_width_marks_without_spaces():
    sentences = split_sentences(CHINESE)
    assert [s.text for s in sentences] == [
        "新华社阿斯塔纳3月14日电 哈萨克斯坦和中国签署天然气协议。",
        "“我们对结果很满意。”部长说。",
        "双方还讨论了铁路合作！",
        "下一步会怎样？",
    ]
    assert all(CHINESE[s.start : s.end] == s.text for s in sentences)


def test_the_gazetteer_reads_russian_kazakh_and_chinese_names():
    gazetteer = Gazetteer.from_yaml(ROOT / "configs" / "countries.yaml")
    assert gazetteer.find("Переговоры в Казахстане и Кыргызстане, в г. Бишкеке") == ["Kazakhstan", "Kyrgyzstan"]
    assert gazetteer.find("Қазақстан Республикасы") == ["Kazakhstan"]
    assert gazetteer.find(CHINESE) == ["China", "Kazakhstan"]
    assert gazetteer.find("乌兹别克斯坦总统访问塔吉克斯坦") == ["Tajikistan", "Uzbekistan"]
    assert gazetteer.find("в городе Китаб прошла ярмарка") == [], "Kitab (Uzbekistan) is not China"
