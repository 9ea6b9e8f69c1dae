import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from alignclf.context import Document
from alignclf.data import dedupe_key, read_labelled
from alignclf.errors import AlignclfError
from alignclf.feeds import read_records
from alignclf.review import (
    NO_LABEL,
    ReviewError,
    UnknownLabelError,
    import_export,
    suggest,
)
from alignclf.taxonomy import LEVELS
from conftest import ROOT, project_overrides, write_feed

FIXTURES = Path(__file__).parent / "fixtures"
# How much stricter the second model's thresholds are: wide enough that some feed sentence scores between the two.
STRICTER = 0.4
EXPORT = FIXTURES / "label_studio_export.json"


@pytest.fixture
def feed(tmp_path):
    return write_feed(tmp_path / "feed.jsonl", 60)


@pytest.fixture
def folder(tiny_run):
    return str(tiny_run[1].folder)


def run(feed, tmp_path, folder, name="tasks.json", **options):
    options = {"labelled_dir": None, **options}
    summary = suggest([str(feed)], tmp_path / name, folder, **options)
    return summary, json.loads(summary.tasks.read_text())


def sentence_scores(tagger, feed):
    """Sentence text -> its scores (first occurrence), straight from the Tagger."""
    records = [r for r in read_records([str(feed)]) if r.error is None]
    out = {}
    for pieces, block, _ in tagger.score_documents([Document(r.text, r.title) for r in records]):
        for piece, row in zip(pieces, block):
            out.setdefault(piece.text, row)
    return out


def margins(tagger, feed):
    """Sentence text -> per-label |score - threshold|."""
    return {text: np.abs(row - tagger.thresholds) for text, row in sentence_scores(tagger, feed).items()}


def labels_of(prediction):
    chosen = {item["from_name"]: item["value"]["choices"] for item in prediction["result"]}
    return tuple(chosen.get(level, []) for level in LEVELS)


def test_uncertainty_picks_the_sentences_nearest_their_thresholds(feed, tmp_path, folder, tiny_tagger):
    _, tasks = run(feed, tmp_path, folder, n=8, no_label_share=0)
    found = margins(tiny_tagger, feed)
    picked = {t["data"]["text"] for t in tasks}
    assert tasks[0]["data"]["text"] == min(found, key=lambda text: found[text].min())
    assert [t["predictions"][0]["score"] for t in tasks] == [round(float(found[t["data"]["text"]].min()), 6) for t in tasks]
    for label in {t["data"]["picked_for"] for t in tasks}:
        j = tiny_tagger.names.index(label)
        mine = [found[t["data"]["text"]][j] for t in tasks if t["data"]["picked_for"] == label]
        assert mine == sorted(mine)  # nearest first within a label
        assert max(mine) <= min(m[j] for text, m in found.items() if text not in picked)


def test_near_duplicates_and_labelled_sentences_are_not_suggested(tmp_path, folder):
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    line = {"id": "x1", "text": "Customs officers seized 80 kg of opium at the Uzbek border.", "pillars": ["security"],
            "sectors": ["drug_trafficking"], "source": "test"}  # fmt: skip
    (labelled / "a.jsonl").write_text(json.dumps(line) + "\n")
    rows = [
        {"id": "a", "title": "Gas exports climb", "text": "Kazakhstan raised gas exports to China by 12 percent."},
        {"id": "b", "title": "GAS EXPORTS CLIMB!", "text": "kazakhstan raised gas exports to China by 12 percent!!"},
        {"id": "c", "title": "Border seizure", "text": "Customs officers seized 80 kg of opium at the Uzbek border"},
    ]
    source = tmp_path / "dupes.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    summary, tasks = run(source, tmp_path, folder, n=50, labelled_dir=labelled)
    keys = [dedupe_key(t["data"]["text"]) for t in tasks]
    assert sorted(keys) == sorted({dedupe_key(r["title"]) for r in rows[::2]} | {dedupe_key(rows[0]["text"])})
    assert (summary.sentences, summary.duplicates, summary.already_labelled, summary.picked) == (6, 2, 1, 3)


def test_picks_are_balanced_across_labels_with_a_share_of_no_label_ones(feed, tmp_path, folder, taxonomy):
    summary, tasks = run(feed, tmp_path, folder, n=20, no_label_share=0.25)
    counts = summary.picked_for
    assert counts[NO_LABEL] == 5 and sum(counts.values()) == len(tasks) == 20
    assert [t["data"]["picked_for"] for t in tasks][3] == NO_LABEL  # every fourth pick, not all at the end
    for task in tasks:
        if task["data"]["picked_for"] == NO_LABEL:
            assert labels_of(task["predictions"][0]) == ([], [])
    served = [n for name, n in counts.items() if name != NO_LABEL and n]
    assert len(served) == len(taxonomy.names) and max(served) - min(served) <= 1  # round-robin: none runs ahead


def test_the_same_inputs_give_the_same_files_and_fewer_picks_are_a_prefix(feed, tmp_path, folder):
    first, tasks = run(feed, tmp_path, folder, name="a.json", n=12)
    second, _ = run(feed, tmp_path, folder, name="b.json", n=12)
    _, fewer = run(feed, tmp_path, folder, name="c.json", n=5)
    assert first.tasks.read_bytes() == second.tasks.read_bytes()
    assert first.config.read_bytes() == second.config.read_bytes()
    assert fewer == tasks[:5]


def test_tasks_are_label_studio_tasks_with_the_models_predictions(feed, tmp_path, folder, tiny_tagger):
    _, tasks = run(feed, tmp_path, folder, n=10)
    records = {r.id: r for r in read_records([str(feed)])}
    ids = [t["data"]["id"] for t in tasks]
    assert len(set(ids)) == len(ids)
    for task in tasks:
        data, (prediction,) = task["data"], task["predictions"]
        record = records[data["article_id"]]
        assert data["id"].startswith(f"{record.id}:") and data["text"] in record.text + record.title
        assert (data["title"], data["url"]) == (record.title, record.url or "")
        assert prediction["model_version"] == tiny_tagger.name and isinstance(prediction["score"], float)
        for item in prediction["result"]:
            assert (item["type"], item["to_name"]) == ("choices", "text") and item["from_name"] in LEVELS
            assert item["value"]["choices"]  # a level without labels has no item
    scores = sentence_scores(tiny_tagger, feed)
    for task in tasks:  # the prediction holds the sentence's labels at the sentence thresholds
        row = scores[task["data"]["text"]]
        expected = [name for name, score, cut in zip(tiny_tagger.names, row, tiny_tagger.thresholds) if score >= cut]
        assert sum(labels_of(task["predictions"][0]), []) == expected


def test_labelling_config_has_one_multiple_choice_block_per_level_from_the_taxonomy(feed, tmp_path, folder, taxonomy):
    summary, tasks = run(feed, tmp_path, folder, n=5)
    assert summary.config == summary.tasks.with_suffix(".xml")
    view = ET.fromstring(summary.config.read_text())
    (text,) = view.iter("Text")
    blocks = list(view.iter("Choices"))
    assert [b.get("name") for b in blocks] == list(LEVELS)
    for block in blocks:
        assert (block.get("toName"), block.get("choice")) == (text.get("name"), "multiple")
        level = block.get("name")
        assert [c.get("value") for c in block.iter("Choice")] == taxonomy.level(level)
        hints = {label.name: label.description for label in taxonomy.labels if label.level == level}
        assert {c.get("value"): c.get("hint") for c in block.iter("Choice")} == hints
    assert "$title" in [h.get("value") for h in view.iter("Header")]
    variables = set(re.findall(r"\$(\w+)", summary.config.read_text()))
    assert variables == {"text", "title"} and all(variables <= set(t["data"]) for t in tasks)
    for task in tasks:  # predictions name controls that exist, with choices they offer
        for item in task["predictions"][0]["result"]:
            assert set(item["value"]["choices"]) <= set(taxonomy.level(item["from_name"]))


def test_disagreement_picks_sentences_two_models_label_differently(feed, tmp_path, folder, tiny_tagger):
    other = tmp_path / "stricter"
    shutil.copytree(folder, other)
    card = json.loads((other / "alignclf.json").read_text())
    cut = tiny_tagger.thresholds
    strict = np.minimum(cut + STRICTER, 0.99)
    card["name"] = "stricter"
    card["thresholds"] = {name: float(value) for name, value in zip(tiny_tagger.names, strict)}
    (other / "alignclf.json").write_text(json.dumps(card))
    summary, tasks = run(feed, tmp_path, folder, n=50, strategy="disagreement", other_model=str(other), no_label_share=0)
    scores = sentence_scores(tiny_tagger, feed)
    disputed = {t for t, row in scores.items() if ((row >= cut) != (row >= strict)).any()}
    assert disputed and {t["data"]["text"] for t in tasks} == disputed and summary.picked_for[NO_LABEL] == 0
    for task in tasks:
        mine, theirs = task["predictions"]
        assert (mine["model_version"], theirs["model_version"]) == (tiny_tagger.name, "stricter")
        differ = set(sum(labels_of(mine), [])) ^ set(sum(labels_of(theirs), []))
        assert labels_of(mine) != labels_of(theirs) and task["data"]["picked_for"] in differ


@pytest.mark.parametrize(
    "options, message",
    [
        ({"strategy": "random"}, "unknown strategy 'random'"),
        ({"strategy": "disagreement"}, "needs a second model"),
        ({"n": 0}, "n must be at least 1"),
        ({"inputs": ["missing.jsonl"]}, "input not found: missing.jsonl"),
    ],
)
def test_bad_requests_are_errors_that_say_why(feed, tmp_path, folder, options, message):
    inputs = options.pop("inputs", [str(feed)])
    with pytest.raises(AlignclfError, match=message):
        suggest(inputs, tmp_path / "tasks.json", folder, labelled_dir=None, **options)
    assert not (tmp_path / "tasks.json").exists()


def test_import_skips_cancelled_and_reports_disagreements(tmp_path, taxonomy):
    out = tmp_path / "reviewed.jsonl"
    summary = import_export(EXPORT, out, taxonomy, labelled_dir=None)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert (summary.tasks, summary.cancelled, summary.unannotated, summary.written) == (7, 1, 2, 4)
    assert summary.disagreements == ["steppe-0412:2"] and summary.duplicates == []
    assert [line["id"] for line in lines] == ["rv-steppe-0412:1", "rv-steppe-0415:0", "rv-steppe-0413:0", "rv-steppe-0418:2"]
    by_id = {line["id"]: line for line in lines}
    assert (by_id["rv-steppe-0415:0"]["pillars"], by_id["rv-steppe-0415:0"]["sectors"]) == (
        ["security", "connectivity"],
        ["infrastructure", "cyber"],
    )  # the reviewer's labels, in taxonomy order, not the prediction's
    assert (by_id["rv-steppe-0418:2"]["pillars"], by_id["rv-steppe-0418:2"]["sectors"]) == ([], [])
    assert {line["source"] for line in lines} == {"reviewed"}
    examples = read_labelled(out, taxonomy)
    assert [e.id for e in examples] == [line["id"] for line in lines]
    again = import_export(EXPORT, tmp_path / "again.jsonl", taxonomy, labelled_dir=None)
    assert (tmp_path / "again.jsonl").read_bytes() == out.read_bytes() and again.written == 4


def test_an_unknown_label_names_the_task_and_the_label(tmp_path, taxonomy):
    with pytest.raises(UnknownLabelError, match=r"task 51 \(caspian-0301:1\).*unknown sectors label 'piracy'") as info:
        import_export(FIXTURES / "label_studio_export_unknown_label.json", tmp_path / "out.jsonl", taxonomy, labelled_dir=None)
    assert isinstance(info.value, AlignclfError)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_text_already_labelled_is_reported_not_written_twice(tmp_path, taxonomy):
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    line = {"id": "cyb-9", "text": "RANSOMWARE attack disrupts ticket sales at Kyrgyz railways!", "pillars": ["security"],
            "sectors": ["cyber"], "source": "authored"}  # fmt: skip
    (labelled / "authored.jsonl").write_text(json.dumps(line) + "\n")
    out = labelled / "reviewed-2026-05-04.jsonl"
    for _ in range(2):  # importing again into the same file gives the same file: it never counts itself
        summary = import_export(EXPORT, out, taxonomy, labelled_dir=labelled)
        assert summary.duplicates == ["rv-steppe-0415:0 repeats cyb-9"] and summary.written == 3
    assert "Kyrgyz railways" not in out.read_text()


def test_a_file_that_is_no_export_is_an_error_naming_it(tmp_path, taxonomy):
    bad = tmp_path / "export.json"
    bad.write_text('{"data": {}}')
    with pytest.raises(ReviewError, match=r"export\.json: a Label Studio JSON export is a list of tasks"):
        import_export(bad, tmp_path / "out.jsonl", taxonomy, labelled_dir=None)


def test_accepted_suggestions_come_back_with_the_models_labels(feed, tmp_path, folder, taxonomy):
    _, tasks = run(feed, tmp_path, folder, n=6)
    export = [
        {"id": i, "data": t["data"], "annotations": [{"id": i, "result": t["predictions"][0]["result"], "was_cancelled": False}]}
        for i, t in enumerate(tasks, start=1)
    ]
    (tmp_path / "export.json").write_text(json.dumps(export))
    import_export(tmp_path / "export.json", tmp_path / "reviewed.jsonl", taxonomy, labelled_dir=None)
    lines = [json.loads(line) for line in (tmp_path / "reviewed.jsonl").read_text().splitlines()]
    assert [(x["text"], (x["pillars"], x["sectors"])) for x in lines] == [
        (t["data"]["text"], labels_of(t["predictions"][0])) for t in tasks
    ]


@pytest.mark.slow
def test_a_reviewed_file_joins_the_dataset_and_the_data_card_counts_it(tmp_path, taxonomy):
    from alignclf.config import load_config
    from alignclf.dataset import build_dataset

    labelled = tmp_path / "labelled"
    labelled.mkdir()
    for path in (ROOT / "data" / "labelled").glob("*.jsonl"):
        shutil.copy(path, labelled / path.name)
    summary = import_export(EXPORT, labelled / "reviewed-2026-05-04.jsonl", taxonomy, labelled_dir=labelled)
    config = load_config(ROOT / "configs" / "tiny.yaml", project_overrides(tmp_path, labelled=labelled))
    result = build_dataset(config)
    reviewed = [e for rows in result.splits.values() for e in rows if e.source == "reviewed"]
    assert len(reviewed) == summary.written == 4
    card = (result.directory / "DATACARD.md").read_text()
    counted = sum(int(n) for n in re.findall(r"reviewed (\d+)", card))
    assert counted == 4
