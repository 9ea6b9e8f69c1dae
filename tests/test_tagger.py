"""The Python API: Prediction shape, evidence offsets, aggregation, input checks, default model."""

import json
import shutil

import numpy as np
import pytest

import alignclf
from alignclf import tagger as tagger_module
from alignclf.tagger import NoModelError, default_model, max_over_sentences

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
        assert ARTICLE[item["start"] : item["end"]] == item["text"]
        assert item["pillars"] or item["sectors"]
    assert not any("striker" in item["text"] for item in evidence)
    heroin = next(item for item in evidence if "heroin" in item["text"])
    assert heroin["sectors"] == ["drug_trafficking"]


def test_article_score_is_the_best_sentence_score(tiny_tagger):
    sentences = ["Kazakhstan raised gas exports to China by 10 percent.", "Police seized 300 kg of heroin at the Tajik border."]
    each = tiny_tagger.sentence_scores(sentences)
    article = tiny_tagger.predict([" ".join(sentences)])[0]
    np.testing.assert_allclose(list(article.scores.values()), each.max(axis=0), atol=1e-6)
    assert max_over_sentences(np.array([[0.1, 0.9], [0.7, 0.2]])).tolist() == [0.7, 0.9]


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


def test_predict_loads_the_model_once(tiny_run, monkeypatch):
    loads = []
    real = tagger_module.load_model
    monkeypatch.setattr(tagger_module, "load_model", lambda spec: loads.append(spec) or real(spec))
    monkeypatch.setattr(tagger_module, "_LOADED", {})
    folder = str(tiny_run[1].folder)
    first = alignclf.predict(["Police seized heroin."], model=folder)
    alignclf.predict(["Gas exports rose."], model=folder)
    assert loads == [folder]
    assert first[0]["sectors"] == ["drug_trafficking"]


def test_default_model_order(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.delenv("ALIGNCLF_MODEL", raising=False)
    with pytest.raises(NoModelError, match="make run"):
        default_model()
    assert not (tmp_path / "none.db").exists(), "looking for a champion must not create a store"
    shutil.copytree(tiny_run[1].folder, tmp_path / "models" / "mine")
    assert default_model() == "models/mine"
    monkeypatch.setenv("ALIGNCLF_MODEL", "models:/other@x")
    assert default_model() == "models:/other@x"


def test_champion_is_the_default_when_registered(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALIGNCLF_MODEL", raising=False)
    assert default_model() == "models:/alignclf@champion"
