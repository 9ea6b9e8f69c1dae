"""Language identification: the languages analysts read, and texts without letters."""

import pytest

from alignclf.language import detect


@pytest.mark.parametrize(
    "text, language",
    [
        ("Kazakhstan raised gas exports to China by 10 percent, the ministry said.", "en"),
        ("Казахстан увеличил экспорт газа в Китай на 10 процентов, сообщило министерство.", "ru"),
        ("哈萨克斯坦对华天然气出口增长10%，该部表示。", "zh"),
        ("吉尔吉斯斯坦禁止活羊出口六个月以恢复畜群存栏", "zh"),  # short Chinese without kana is not Japanese
        ("東京で会議が開かれた。", "ja"),
        ("Kazakistan Çin'e gaz ihracatını yüzde 10 artırdı, dedi bakanlık.", "tr"),
        ("Das Treffen der Außenminister fand in Berlin statt.", "de"),
    ],
)
def test_news_languages(text, language):
    assert detect(text) == language


@pytest.mark.parametrize("text", ["", "   ", "2026-03-14 09:30", "— 42 —"])
def test_texts_without_letters_have_no_language(text):
    assert detect(text) is None
