"""Routers: a model per language behind one load_model call, and warnings for languages no model covers."""

import json
import shutil

import pytest

from alignclf.batch import tag_inputs
from alignclf.resolve import load_model
from alignclf.routing import RouterError, read_router, write_router

ENGLISH = "Police seized 300 kg of heroin at the Tajik border."
GERMAN = "Die Polizei beschlagnahmte an der tadschikischen Grenze 300 Kilogramm Heroin."


def test_an_english_model_warns_for_a_language_it_does_not_cover(tiny_tagger):
    english, german = tiny_tagger.predict([ENGLISH, GERMAN])
    assert english.language == "en" and english.sectors and english.warning is None
    assert german.language == "de" and (german.pillars, german.sectors, german.evidence) == ([], [], [])
    assert "language 'de' is not covered by model 'tiny'" in german.warning


def test_a_router_sends_each_text_to_the_first_model_covering_its_language(tiny_run, tmp_path):
    english = tmp_path / "english"
    shutil.copytree(tiny_run[1].folder, english)
    german = tmp_path / "german"
    shutil.copytree(tiny_run[1].folder, german)
    card = json.loads((german / "alignclf.json").read_text())
    card["languages"], card["name"] = ["de", "en"], "german"
    (german / "alignclf.json").write_text(json.dumps(card))
    write_router(tmp_path / "router", [str(english), str(german)])
    assert read_router(tmp_path / "router")[1] == [str(english.resolve()), str(german.resolve())]
    router = load_model(tmp_path / "router")
    first, second, third = router.predict([ENGLISH, GERMAN, "Le ministre a rencontré son homologue à Paris."])
    assert first.model == "tiny" and second.model == "german" and second.language == "de"
    assert third.language == "fr" and "not covered by any model of router 'router'" in third.warning
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate([ENGLISH, GERMAN])))
    summary = tag_inputs([str(feed)], tmp_path / "out.jsonl", str(tmp_path / "router"))
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(line["language"], line["model"]) for line in lines] == [("en", "tiny"), ("de", "german")]
    assert summary.languages == {"en": 1, "de": 1}
    # A resumed router run accepts lines written by any of its models.
    resumed = tag_inputs([str(feed)], tmp_path / "out.jsonl", str(tmp_path / "router"), resume=True)
    assert resumed.skipped == 2


def test_a_broken_router_is_a_clear_error(tmp_path):
    (tmp_path / "router.json").write_text('{"routes": []}')
    with pytest.raises(RouterError, match="non-empty list of model folders"):
        load_model(tmp_path)
