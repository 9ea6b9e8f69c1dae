import json
from collections import Counter

import numpy as np
import pytest

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
from conftest import ROOT, project_overrides

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


def texts_of(splits):
    return {name: [(e.id, e.text) for e in rows] for name, rows in splits.items()}


def test_split_is_stratified_deterministic_and_leak_free(committed, taxonomy):
    splits = split_of(committed, taxonomy)
    again = split_of(committed, taxonomy)
    assert {k: [e.id for e in v] for k, v in splits.items()} == {k: [e.id for e in v] for k, v in again.items()}
    check_no_leakage(texts_of(splits))
    assert not any(e.source == "seed" for name in ("validation", "test") for e in splits[name])
    total = label_matrix([e for rows in splits.values() for e in rows], taxonomy).sum(axis=0)
    for name, share in (("validation", 0.15), ("test", 0.15)):
        counts = label_matrix(splits[name], taxonomy).sum(axis=0)
        assert np.all(np.abs(counts - share * total) <= np.maximum(2, 0.05 * total)), (name, counts, total)


def test_leakage_check_fails_on_a_shared_text():
    splits = {"train": [("1", "Same text.")], "validation": [("2", "same text")], "test": []}
    with pytest.raises(LabelledDataError, match=r"2 \(validation\) repeats 1 \(train\)"):
        check_no_leakage(splits)


def test_translations_stay_in_the_split_of_their_original(taxonomy):
    rows = []
    for i in range(60):
        labels = (["security"], ["terrorism"]) if i % 3 == 0 else (["trade"], []) if i % 3 == 1 else ([], [])
        rows.append(example(f"e{i}", f"Sentence number {i}.", *labels))
        rows.append(
            Example(f"e{i}-ru", f"Предложение номер {i}.", tuple(labels[0]), tuple(labels[1]), "t", lang="ru", orig=f"e{i}")
        )
    splits = stratified_split(rows, taxonomy, 0.2, 0.2, 13)
    where = {e.id: name for name, items in splits.items() for e in items}
    assert all(where[f"e{i}"] == where[f"e{i}-ru"] for i in range(60))
    assert sum(len(items) for items in splits.values()) == 120


def test_train_only_sources_go_to_train_and_move_no_other_example(taxonomy):
    from alignclf.config import DataConfig

    base = []
    for i in range(60):
        labels = (["security"], ["terrorism"]) if i % 3 == 0 else (["trade"], []) if i % 3 == 1 else ([], [])
        base.append(example(f"e{i}", f"Sentence number {i}.", *labels))
    native = [Example(f"n{i}", f"Предложение номер {i}.", ("trade",), ("energy",), "native", lang="ru") for i in range(30)]
    before = stratified_split(base, taxonomy, 0.2, 0.2, 13, ("native",))
    after = stratified_split(base + native, taxonomy, 0.2, 0.2, 13, ("native",))
    assert {e.id for e in after["train"]} >= {e.id for e in native}
    for split in before:
        assert {e.id for e in before[split]} == {e.id for e in after[split]} - {e.id for e in native}
    assert "native" in DataConfig().train_only_sources


def test_committed_labelled_data_meets_the_counts(committed, taxonomy):
    authored = [e for e in committed if e.source == "authored" and e.lang == "en"]
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
    dataset = load_from_disk(str(first.directory / "dataset"))
    assert set(dataset) == {"train", "validation", "test"}
    assert dataset["train"].features["pillars"].feature.names == ["trade", "security", "connectivity"]
    assert sum(len(dataset[s]) for s in dataset) == first.counts[-1]["total"]
    assert (first.directory / "parquet" / "test.parquet").is_file()
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


ARTICLE = {
    "id": "art-1",
    "title": "Heroin haul at the border",
    "title_pillars": ["security"],
    "title_sectors": ["drug_trafficking"],
    "sentences": [
        {"text": "Police seized 300 kg of heroin.", "pillars": ["security"], "sectors": ["drug_trafficking"]},
        {"text": "It was raining in the capital.", "pillars": [], "sectors": []},
    ],
    "source": "test",
}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("sentences"), r"arts\.jsonl:2: field 'sentences' is missing"),
        (lambda a: a.update(sentences=[]), r"arts\.jsonl:2: field 'sentences' must be a non-empty list"),
        (lambda a: a.update(title=""), r"arts\.jsonl:2: field 'title' is empty"),
        (lambda a: a.update(title_pillars=["war"]), r"arts\.jsonl:2: field 'title_pillars': unknown label 'war'"),
        (lambda a: a["sentences"][1].update(sectors=["guns"]), r"arts\.jsonl:2: sentences\[1\]: field 'sectors': unknown label"),
        (lambda a: a["sentences"][0].pop("text"), r"arts\.jsonl:2: sentences\[0\]: field 'text' is missing"),
        (lambda a: a["sentences"].append("text"), r"arts\.jsonl:2: sentences\[2\]: expected an object"),
        (lambda a: a.update(id="art-1"), r"arts\.jsonl:2: field 'id': duplicate id 'art-1'"),
    ],
)
def test_each_malformed_article_is_named_by_file_line_and_field(tmp_path, taxonomy, change, message):
    import copy

    from alignclf.articles import read_articles

    bad = copy.deepcopy(ARTICLE) | {"id": "art-2"}
    change(bad)
    path = write_lines(tmp_path / "arts.jsonl", [json.dumps(ARTICLE), json.dumps(bad)])
    with pytest.raises(LabelledDataError, match=message):
        read_articles(path, taxonomy)


def test_an_articles_labels_are_the_union_of_its_parts(tmp_path, taxonomy):
    from alignclf.articles import is_article_file, read_articles

    path = write_lines(tmp_path / "arts.jsonl", [json.dumps(ARTICLE)])
    (article,) = read_articles(path, taxonomy)
    assert article.pillars == ("security",) and article.sectors == ("drug_trafficking",)
    assert [u.context for u in article.units("title")] == ["", ARTICLE["title"], ARTICLE["title"]]
    assert is_article_file(path) and not is_article_file(ROOT / "data" / "labelled" / "seed.jsonl")


def test_build_splits_articles_by_article_without_leakage(tmp_path, taxonomy):
    from alignclf.dataset import load_processed

    config = load_config(ROOT / "configs" / "data.yaml", project_overrides(tmp_path))
    result = build_dataset(config)
    sizes = {name: len(rows) for name, rows in result.articles.items()}
    # Articles of a train-only source all train; the other originals are split 60/20/20; a
    # translation follows its original's split.
    pinned = set(config.data.train_only_sources)
    assert any(a.source in pinned for a in result.articles["train"])
    assert not any(a.source in pinned for name in ("validation", "test") for a in result.articles[name])
    originals = {name: sum(a.orig is None and a.source not in pinned for a in rows) for name, rows in result.articles.items()}
    total = sum(originals.values())
    assert all(abs(originals[name] - 0.2 * total) <= 0.03 * total for name in ("validation", "test"))
    split_of = {a.id: name for name, rows in result.articles.items() for a in rows if a.orig is None}
    assert all(split_of[a.orig] == name for name, rows in result.articles.items() for a in rows if a.orig is not None)
    seen = {}
    for name, rows in result.articles.items():
        for article in rows:
            assert seen.setdefault(article.id, name) == name
    keys = {name: {dedupe_key(p.text) for a in rows for p in a.parts} for name, rows in result.articles.items()}
    sentence_keys = {name: {dedupe_key(e.text) for e in rows} for name, rows in result.splits.items()}
    for a in ("train", "validation", "test"):
        for b in ("train", "validation", "test"):
            if a != b:
                assert not keys[a] & keys[b] and not keys[a] & sentence_keys[b]
    data = load_processed(config, taxonomy)
    assert len(data.article_list("test", taxonomy)) == sizes["test"]
    units, targets = data.units("validation", taxonomy, "title")
    assert (
        len(units) == len(targets) == len(result.splits["validation"]) + sum(len(a.parts) for a in result.articles["validation"])
    )
    card = (tmp_path / "processed" / "DATACARD.md").read_text()
    assert "## Articles: counts per label and split" in card
    assert (result.directory / "parquet" / "article_test.parquet").is_file()


def test_a_sentence_shared_across_corpora_and_splits_fails_the_build(tmp_path):
    import copy

    labelled, articles = tmp_path / "labelled", tmp_path / "articles"
    labelled.mkdir()
    articles.mkdir()
    rows = [json.dumps({**GOOD, "id": f"s{i}", "text": f"Police seized {i} kg of heroin at the border post."}) for i in range(40)]
    write_lines(labelled / "s.jsonl", rows)
    copies = []
    for i in range(40):
        article = copy.deepcopy(ARTICLE) | {"id": f"a{i}", "title": f"Haul number {i}"}
        article["sentences"][0]["text"] = f"Police seized {i} kg of heroin at the border post."
        article["sentences"][1]["text"] = f"It rained on day {i}."
        copies.append(json.dumps(article))
    write_lines(articles / "a.jsonl", copies)
    config = load_config(None, project_overrides(tmp_path, labelled, articles))
    with pytest.raises(LabelledDataError, match="text shared across splits"):
        build_dataset(config)


BUILD = (
    "import sys\n"
    "from alignclf.config import load_config\n"
    "from alignclf.dataset import build_dataset\n"
    "print(build_dataset(load_config(None, sys.argv[1:])).digest)\n"
)


def test_concurrent_builds_of_the_same_data_never_clash(tmp_path, taxonomy):
    import subprocess
    import sys

    from alignclf.dataset import load_processed

    overrides = project_overrides(tmp_path)
    runs = [subprocess.Popen([sys.executable, "-c", BUILD, *overrides], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    digests = {run.communicate()[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs) and len(digests) == 1
    data = load_processed(load_config(None, overrides), taxonomy)
    assert data.digest in digests
    assert [p.name for p in (tmp_path / "processed").iterdir() if p.name.startswith(".")] == [], "no staging folder is left"
