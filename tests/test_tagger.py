"""The Python API: Prediction shape, evidence per field, the article decision, input checks."""

import json

import numpy as np
import pytest

from alignclf.context import Document

ARTICLE = (
    "Gas Deal Signed\n\n"
    "Kazakhstan raised gas exports to China by 10 percent. "
    "Police seized 300 kg of heroin at the Tajik border. "
    "The striker scored twice on Sunday."
)


def test_prediction_has_the_design_fields_in_taxonomy_order(tiny_tagger, taxonomy):
    prediction = tiny_tagger.predict([ARTICLE])[0]
    assert list(prediction.scores) == taxonomy.names
    assert all(0 <= value <= 1 for value in prediction.scores.values())
    assert prediction.pillars == [p for p in taxonomy.pillars if p in prediction.pillars]
    assert {"trade", "security"} <= set(prediction.pillars)
    assert {"energy", "drug_trafficking"} <= set(prediction.sectors)
    assert prediction.countries == ["China", "Kazakhstan", "Tajikistan"]
    assert json.loads(json.dumps(prediction.to_dict())) == prediction.to_dict()


def test_evidence_points_back_into_the_input(tiny_tagger):
    evidence = tiny_tagger.predict([ARTICLE])[0].evidence
    assert evidence, "labelled sentences are returned as evidence"
    for item in evidence:
        assert item["field"] == "text" and ARTICLE[item["start"] : item["end"]] == item["text"]
        assert item["pillars"] or item["sectors"]
    assert not any("striker" in item["text"] for item in evidence)
    heroin = next(item for item in evidence if "heroin" in item["text"])
    assert heroin["sectors"] == ["drug_trafficking"]


def test_evidence_offsets_index_the_field_they_come_from(tiny_tagger):
    title, text = "Heroin haul at the Tajik border", "Police seized 300 kg of heroin. Three couriers were held."
    (prediction,) = tiny_tagger.predict_documents([Document(text, title)])
    fields = {"title": title, "text": text}
    assert prediction.evidence
    for item in prediction.evidence:
        assert fields[item["field"]][item["start"] : item["end"]] == item["text"]
    assert {item["field"] for item in prediction.evidence} <= {"title", "text"}


def test_every_article_tag_has_evidence_and_evidence_carries_only_article_tags(tiny_tagger):
    articles = [ARTICLE, "Rain is expected on Sunday. The striker scored twice.", "Hackers hit the port. Gas exports rose."]
    for prediction in tiny_tagger.predict(articles):
        carried = {label for item in prediction.evidence for label in item["pillars"] + item["sectors"]}
        assert carried == set(prediction.pillars + prediction.sectors)


def test_a_bare_sentence_is_decided_by_its_own_scores(tiny_tagger):
    sentence = "Police seized 300 kg of heroin at the Tajik border."
    scores = tiny_tagger.sentence_scores([sentence])[0]
    prediction = tiny_tagger.predict([sentence])[0]
    expected = [n for n, s, t in zip(tiny_tagger.names, scores, tiny_tagger.thresholds) if s >= t]
    assert prediction.pillars + prediction.sectors == expected
    np.testing.assert_allclose(list(prediction.scores.values()), scores, atol=1e-6)


@pytest.mark.parametrize("text", ["", "   ", "?!…", "\n\n|---|"])
def test_texts_without_sentences_get_empty_labels(tiny_tagger, text):
    prediction = tiny_tagger.predict([text])[0]
    assert (prediction.pillars, prediction.sectors, prediction.evidence) == ([], [], [])


def test_one_text_or_many_in_order(tiny_tagger):
    texts = [ARTICLE, "Rain is expected on Sunday."] * 2500
    predictions = tiny_tagger.predict(texts)
    assert len(predictions) == 5000
    assert predictions[0].to_dict() == predictions[4998].to_dict() and predictions[1].pillars == []


def test_any_iterable_of_texts_works(tiny_tagger):
    from_generator = tiny_tagger.predict(text for text in [ARTICLE, "Rain on Sunday."])
    assert [p.to_dict() for p in from_generator] == [p.to_dict() for p in tiny_tagger.predict([ARTICLE, "Rain on Sunday."])]


def test_non_string_input_is_a_type_error_naming_its_position(tiny_tagger):
    with pytest.raises(TypeError, match="position 2 is int"):
        tiny_tagger.predict(["a", "b", 3])
    with pytest.raises(TypeError, match="not a single string"):
        tiny_tagger.predict("one text")
