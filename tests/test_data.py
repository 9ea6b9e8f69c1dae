import json
from collections import Counter

import numpy as np
import pytest
from conftest import ROOT, project_overrides

from alignclf.config import load_config
from alignclf.data import (
    Example,
    LabelledDataError,
    check_no_leakage,
    dedupe_key,
    deduplicate,
    label_matrix,
    read_labelled,
    read_labelled_dir,
    stratified_split,
)
from alignclf.dataset import build_dataset

GOOD = {"id": "a1", "text": "Police seized heroin.", "pillars": ["security"], "sectors": ["drug_trafficking"], "source": "test"}


def write_lines(path, lines):
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "x", "text": ', r"bad\.jsonl:2: malformed JSON"),
        (json.dumps([1, 2]), r"bad\.jsonl:2: expected a JSON object"),
        (json.dumps({**GOOD, "id": "b", "pillars": ["trde"]}), r"bad\.jsonl:2: field 'pillars': unknown label 'trde'"),
        (json.dumps({**GOOD, "id": "b", "sectors": ["guns"]}), r"bad\.jsonl:2: field 'sectors': unknown label 'guns'"),
        (json.dumps({**GOOD, "id": "b", "text": ""}), r"bad\.jsonl:2: field 'text' is empty"),
        (json.dumps({**GOOD, "id": "b", "text": 42}), r"bad\.jsonl:2: field 'text' must be a string"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "source"} | {"id": "b"}), r"bad\.jsonl:2: field 'source' is missing"),
        (json.dumps({**GOOD, "id": "b", "pillars": "security"}), r"bad\.jsonl:2: field 'pillars' must be a list"),
        (json.dumps(GOOD), r"bad\.jsonl:2: field 'id': duplicate id 'a1' \(first at line 1\)"),
        (b'{"id": "b", "text": "\xff\xfe"}', r"bad\.jsonl:2: not valid UTF-8"),
    ],
)
def test_each_malformed_line_is_named(tmp_path, taxonomy, line, message):
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), line])
    with pytest.raises(LabelledDataError, match=message):
        read_labelled(path, taxonomy)


def test_all_problems_are_reported_not_only_the_first(tmp_path, taxonomy):
    path = write_lines(tmp_path / "bad.jsonl", ["{", json.dumps({**GOOD, "pillars": ["x"]}), "[]"])
    with pytest.raises(LabelledDataError) as info:
        read_labelled(path, taxonomy)
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in info.value.problems] == ["1", "2", "3"]


def test_duplicate_ids_across_files(tmp_path, taxonomy):
    write_lines(tmp_path / "a.jsonl", [json.dumps(GOOD)])
    write_lines(tmp_path / "b.jsonl", [json.dumps({**GOOD, "text": "Other text here."})])
    with pytest.raises(LabelledDataError, match=r"b\.jsonl:1: field 'id': duplicate id 'a1' \(also .*a\.jsonl:1\)"):
        read_labelled_dir(tmp_path, taxonomy)


def test_extra_keys_and_blank_lines_are_accepted(tmp_path, taxonomy):
    path = write_lines(tmp_path / "ok.jsonl", [json.dumps({**GOOD, "note": "x"}), ""])
    assert [e.id for e in read_labelled(path, taxonomy)] == ["a1"]


def example(id_, text, pillars=(), sectors=(), source="t"):
    return Example(id_, text, tuple(pillars), tuple(sectors), source)


def test_near_duplicates_are_removed_and_labels_united():
    result = deduplicate(
        [
            example("1", "Police seized heroin.", ["security"], ["drug_trafficking"]),
            example("2", "police  seized HEROIN", ["security"], []),
            example("3", "Police seized cocaine."),
        ]
    )
    assert [e.id for e in result.examples] == ["1", "3"]
    assert result.removed == [("2", "1")]
    assert result.examples[0].sectors == ("drug_trafficking",)
    assert dedupe_key("Hello, World!") == dedupe_key("hello world")


@pytest.fixture(scope="module")
def committed(taxonomy):
    return read_labelled_dir(ROOT / "data" / "labelled", taxonomy)


def split_of(examples, taxonomy, seed=13):
    return stratified_split(deduplicate(examples).examples, taxonomy, 0.15, 0.15, seed, ("seed",))


def test_split_is_stratified_deterministic_and_leak_free(committed, taxonomy):
    splits = split_of(committed, taxonomy)
    again = split_of(committed, taxonomy)
    assert {k: [e.id for e in v] for k, v in splits.items()} == {k: [e.id for e in v] for k, v in again.items()}
    check_no_leakage(splits)
    assert not any(e.source == "seed" for name in ("validation", "test") for e in splits[name])
    total = label_matrix([e for rows in splits.values() for e in rows], taxonomy).sum(axis=0)
    for name, share in (("validation", 0.15), ("test", 0.15)):
        counts = label_matrix(splits[name], taxonomy).sum(axis=0)
        assert np.all(np.abs(counts - share * total) <= np.maximum(2, 0.05 * total)), (name, counts, total)


def test_leakage_check_fails_on_a_shared_text():
    splits = {"train": [example("1", "Same text.")], "validation": [example("2", "same text")], "test": []}
    with pytest.raises(ValueError, match="validation split repeats train texts"):
        check_no_leakage(splits)


def test_committed_labelled_data_meets_the_counts(committed, taxonomy):
    authored = [e for e in committed if e.source == "authored"]
    seed = [e for e in committed if e.source == "seed"]
    assert len(seed) == 53
    assert len(authored) >= 1500
    pillars = Counter(p for e in authored for p in e.pillars)
    sectors = Counter(s for e in authored for s in e.sectors)
    assert all(pillars[name] >= 300 for name in taxonomy.pillars), pillars
    assert all(sectors[name] >= 150 for name in taxonomy.sectors), sectors
    empty = [e for e in authored if not e.pillars and not e.sectors]
    assert len(empty) >= 500
    assert sum("-hn-" in e.id for e in empty) >= 150
    assert all(6 <= len(e.text.split()) <= 50 for e in authored)
    assert not any("-hn-" in e.id for e in authored if e.pillars or e.sectors)


def test_build_writes_a_loadable_dataset_with_a_stable_digest(tmp_path):
    from datasets import load_from_disk

    config = load_config(ROOT / "configs" / "data.yaml", project_overrides(tmp_path))
    first = build_dataset(config)
    dataset = load_from_disk(str(tmp_path / "processed" / "dataset"))
    assert set(dataset) == {"train", "validation", "test"}
    assert dataset["train"].features["pillars"].feature.names == ["trade", "security", "connectivity"]
    assert sum(len(dataset[s]) for s in dataset) == first.counts[-1]["total"]
    assert (tmp_path / "processed" / "parquet" / "test.parquet").is_file()
    card = (tmp_path / "processed" / "DATACARD.md").read_text()
    assert first.digest in card and "| sectors | ppp |" in card
    assert build_dataset(config).digest == first.digest


def test_processed_data_is_rebuilt_when_the_split_settings_change(tmp_path, taxonomy):
    from alignclf.dataset import load_processed

    config = load_config(ROOT / "configs" / "data.yaml", project_overrides(tmp_path))
    first = load_processed(config, taxonomy)
    assert load_processed(config, taxonomy).digest == first.digest
    reseeded = load_config(ROOT / "configs" / "data.yaml", project_overrides(tmp_path) + ["seed=7"])
    assert load_processed(reseeded, taxonomy).digest != first.digest


def test_too_few_examples_to_split_is_a_clear_error(taxonomy):
    seed_only = [example(f"s{i}", f"Sentence number {i}.", source="seed") for i in range(5)]
    with pytest.raises(LabelledDataError, match="only 0 examples outside the train-only sources"):
        stratified_split(seed_only, taxonomy, 0.15, 0.15, 13, ("seed",))
