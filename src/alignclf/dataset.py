"""Builds and reads data/processed/: sentence and article DatasetDicts, parquet per split, manifest and DATACARD."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alignclf.articles import Article, article_rows, from_row, read_articles_dir
from alignclf.config import Config
from alignclf.context import Unit
from alignclf.data import (
    SPLITS,
    Example,
    LabelledDataError,
    check_no_leakage,
    content_digest,
    counts_table,
    deduplicate,
    format_counts,
    label_matrix,
    read_labelled_dir,
    source_counts,
    stratified_split,
)
from alignclf.taxonomy import Taxonomy

if TYPE_CHECKING:
    from datasets import DatasetDict


@dataclass
class BuildResult:
    directory: Path
    digest: str
    splits: dict[str, list[Example]]
    articles: dict[str, list[Article]]
    counts: list[dict[str, Any]]
    article_counts: list[dict[str, Any]]
    removed_duplicates: int

    @property
    def table(self) -> str:
        return format_counts(self.counts)

    @property
    def article_table(self) -> str:
        return format_counts(self.article_counts)


def sources_fingerprint(config: Config, taxonomy: Taxonomy) -> str:
    """Hash of what decides the split (labelled files, taxonomy, split settings, seed): tells whether data/processed/ is stale."""
    sha = hashlib.sha256(taxonomy.digest.encode())
    sha.update(json.dumps([config.seed, config.data.model_dump(mode="json")], sort_keys=True).encode())
    for folder in (config.data.labelled_dir, config.data.articles_dir):
        for path in sorted(Path(folder).glob("*.jsonl")):
            sha.update(f"{folder}/{path.name}".encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def _sentence_features(taxonomy: Taxonomy):
    from datasets import ClassLabel, Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "text": Value("string"),
            "pillars": List(ClassLabel(names=taxonomy.pillars)),
            "sectors": List(ClassLabel(names=taxonomy.sectors)),
            "source": Value("string"),
            "lang": Value("string"),
        }
    )


def _article_features(taxonomy: Taxonomy):
    from datasets import ClassLabel, Features, List, Value

    pillars, sectors = List(ClassLabel(names=taxonomy.pillars)), List(ClassLabel(names=taxonomy.sectors))
    return Features(
        {
            "id": Value("string"),
            "title": Value("string"),
            "title_pillars": pillars,
            "title_sectors": sectors,
            "sentences": List({"text": Value("string"), "pillars": pillars, "sectors": sectors}),
            "source": Value("string"),
            "lang": Value("string"),
            "pillars": pillars,
            "sectors": sectors,
        }
    )


def _encoded(rows: list[dict[str, Any]], taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """Article rows with label indices: `datasets` does not encode ClassLabel names nested inside lists of structs."""
    index = {"pillars": {n: i for i, n in enumerate(taxonomy.pillars)}, "sectors": {n: i for i, n in enumerate(taxonomy.sectors)}}

    def codes(labels: list[str], level: str) -> list[int]:
        return [index[level][name] for name in labels]

    return [
        row
        | {
            "title_pillars": codes(row["title_pillars"], "pillars"),
            "title_sectors": codes(row["title_sectors"], "sectors"),
            "pillars": codes(row["pillars"], "pillars"),
            "sectors": codes(row["sectors"], "sectors"),
            "sentences": [
                {"text": s["text"], "pillars": codes(s["pillars"], "pillars"), "sectors": codes(s["sectors"], "sectors")}
                for s in row["sentences"]
            ],
        }
        for row in rows
    ]


def _digest(splits: dict[str, list[Example]], articles: dict[str, list[Article]], taxonomy: Taxonomy) -> str:
    sha = hashlib.sha256(content_digest(splits, taxonomy).encode())
    sha.update(json.dumps({name: article_rows(rows) for name, rows in articles.items()}, ensure_ascii=False).encode())
    return sha.hexdigest()[:16]


def _datacard(result: BuildResult, config: Config, deduped_merged: int) -> str:
    sources = source_counts(result.splits)
    source_lines = "\n".join(
        f"- {split}: {', '.join(f'{k} {v}' for k, v in counts.items())}" for split, counts in sources.items()
    )
    sentences_in_articles = {split: sum(len(a.sentences) for a in rows) for split, rows in result.articles.items()}
    pinned = ", ".join(config.data.train_only_sources) or "none"
    d = config.data
    return f"""# alignclf dataset

Content digest: `{result.digest}`

Built by `alignclf data build` from every `*.jsonl` file in `{d.labelled_dir}` (labelled sentences)
and `{d.articles_dir}` (labelled articles), labelled per the labelling guide (pillars and sectors
of `{config.taxonomy}`).

## How it was made

1. Every line was validated (JSON, fields, known labels, unique ids).
2. Sentence near-duplicates (same text up to case, punctuation and spacing) were removed:
   {result.removed_duplicates} dropped; {deduped_merged} kept examples had their labels widened
   to the union of the duplicates' labels (guide rule 5).
3. Sentences and articles from the sources [{pinned}] all go to train (`data.train_only_sources`).
4. The other sentences were split {1 - d.validation_fraction - d.test_fraction:.0%} /
   {d.validation_fraction:.0%} / {d.validation_fraction:.0%} and the articles
   {1 - d.article_validation_fraction - d.article_test_fraction:.0%} / {d.article_validation_fraction:.0%} /
   {d.article_test_fraction:.0%} (train / validation / test), by article, with iterative multi-label
   stratification over every label plus a "no label" column, seed {config.seed}. A translation stays in
   the split of its original.
5. No sentence or title of one split near-duplicates one of another split, in either corpus (checked
   at build time).

## Sentences: counts per label and split

{result.table}

## Articles: counts per label and split

An article's labels are the union of its title's and its sentences' labels. Sentences in
articles: {", ".join(f"{split} {n}" for split, n in sentences_in_articles.items())}.

{result.article_table}

## Sentence sources per split

{source_lines}

## Files

- `dataset/`: sentences, `datasets.load_from_disk` (`pillars`/`sectors` are lists of `ClassLabel`)
- `articles/`: articles, `datasets.load_from_disk` (title, nested sentences, and the article's labels)
- `parquet/<split>.parquet` and `parquet/article_<split>.parquet`: the same rows, label names as strings
- `manifest.json`: digest, counts, taxonomy digest, source fingerprint
"""


def _empty_split(features: Any) -> Any:
    """A split with no rows that still has its columns (`Dataset.from_list([])` loses them)."""
    from datasets import Dataset

    return Dataset.from_dict({name: [] for name in features}, features=features)


def _from_rows(rows: list[dict], features: Any) -> Any:
    """A split from its rows; an empty one (no labelled articles yet) still has its columns."""
    from datasets import Dataset

    return Dataset.from_list(rows, features=features) if rows else _empty_split(features)


def build_dataset(config: Config) -> BuildResult:
    """Validate, dedupe, split and write the processed dataset; deterministic for given files.

    The folder is written beside its target and renamed into place, so concurrent trainings
    never read a half-written dataset.
    """
    from datasets import DatasetDict
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    d = config.data
    taxonomy = Taxonomy.from_yaml(config.taxonomy)
    examples = read_labelled_dir(d.labelled_dir, taxonomy)
    articles = read_articles_dir(d.articles_dir, taxonomy)
    deduped = deduplicate(examples)
    pinned = tuple(d.train_only_sources)
    splits = stratified_split(deduped.examples, taxonomy, d.validation_fraction, d.test_fraction, config.seed, pinned)
    article_splits = (
        stratified_split(articles, taxonomy, d.article_validation_fraction, d.article_test_fraction, config.seed, pinned)
        if articles
        else {split: [] for split in SPLITS}
    )
    check_no_leakage(
        {
            split: [(e.id, e.text) for e in splits[split]]
            + [(f"{a.id}#{i}", part.text) for a in article_splits[split] for i, part in enumerate(a.parts)]
            for split in SPLITS
        }
    )
    fingerprint = sources_fingerprint(config, taxonomy)
    out = Path(d.processed_dir) / fingerprint
    result = BuildResult(
        out,
        _digest(splits, article_splits, taxonomy),
        splits,
        article_splits,
        counts_table(splits, taxonomy),
        counts_table(article_splits, taxonomy),
        len(deduped.removed),
    )
    sentences = DatasetDict(
        {
            name: _from_rows(
                [
                    {
                        "id": e.id,
                        "text": e.text,
                        "pillars": list(e.pillars),
                        "sectors": list(e.sectors),
                        "source": e.source,
                        "lang": e.lang,
                    }
                    for e in rows
                ],  # fmt: skip
                features=_sentence_features(taxonomy),
            )
            for name, rows in splits.items()
        }
    )
    article_sets = DatasetDict(
        {
            name: _from_rows(_encoded(article_rows(rows), taxonomy), _article_features(taxonomy))
            for name, rows in article_splits.items()
        }
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{fingerprint}.", dir=out.parent))
    except OSError as exc:
        raise LabelledDataError([f"{d.processed_dir}: cannot write the processed dataset ({exc.strerror or exc})"]) from None
    try:
        _write(staging, sentences, article_sets, result, config, taxonomy, fingerprint, len(deduped.merged_labels))
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for name in ("DATACARD.md", "manifest.json"):  # the latest build's card, where people look for it
        copy = out.parent / f".{name}.{os.getpid()}"
        shutil.copyfile(out / name, copy)
        os.replace(copy, out.parent / name)
    return result


def _write(
    folder: Path, sentences, article_sets, result: BuildResult, config: Config, taxonomy: Taxonomy, fingerprint: str, merged: int
):
    import pandas as pd

    for name, sets in (("dataset", sentences), ("articles", article_sets)):
        written = type(sets)({split: rows for split, rows in sets.items() if len(rows)})  # see _load_splits
        if written:
            written.save_to_disk(str(folder / name))
    (folder / "parquet").mkdir()
    for name, rows in result.splits.items():
        frame = sentences[name].to_pandas()
        frame["pillars"] = [list(e.pillars) for e in rows]
        frame["sectors"] = [list(e.sectors) for e in rows]
        frame.to_parquet(folder / "parquet" / f"{name}.parquet", index=False)
    for name, rows in result.articles.items():
        pd.DataFrame(article_rows(rows)).to_parquet(folder / "parquet" / f"article_{name}.parquet", index=False)
    manifest = {
        "digest": result.digest,
        "taxonomy_digest": taxonomy.digest,
        "sources_fingerprint": fingerprint,
        "sizes": {name: len(rows) for name, rows in result.splits.items()},
        "article_sizes": {name: len(rows) for name, rows in result.articles.items()},
        "removed_duplicates": result.removed_duplicates,
        "counts": result.counts,
        "article_counts": result.article_counts,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (folder / "DATACARD.md").write_text(_datacard(result, config, merged), encoding="utf-8")


def _publish(staging: Path, out: Path) -> None:
    """Rename the finished build into place; a concurrent build of the same sources that got there first wins.

    Readers only ever open a folder named by its fingerprint, so they never see a half-written one.
    """
    try:
        os.rename(staging, out)
    except OSError:
        if not (out / "manifest.json").is_file():
            raise
        shutil.rmtree(staging, ignore_errors=True)


@dataclass
class ProcessedData:
    """The processed splits as a model consumes them: sentences, and articles as units with context."""

    dataset: DatasetDict
    articles: DatasetDict
    digest: str
    directory: Path

    def examples(self, split: str, taxonomy: Taxonomy, languages: Sequence[str] | None = None) -> list[Example]:
        """The sentences of a split with label names, in the given languages (None: all)."""
        rows = self.dataset[split]
        return [
            Example(i, t, tuple(taxonomy.pillars[p] for p in ps), tuple(taxonomy.sectors[s] for s in ss), src, lang=lang)
            for i, t, ps, ss, src, lang in zip(
                rows["id"], rows["text"], rows["pillars"], rows["sectors"], rows["source"], rows["lang"]
            )
            if languages is None or lang in languages
        ]

    def frames(self, taxonomy: Taxonomy) -> dict[str, Any]:
        """Every split as a pandas DataFrame with label names (what MLflow logs as dataset inputs)."""
        import pandas as pd

        frames = {}
        for split in SPLITS:
            frames[split] = pd.DataFrame(
                [{"id": e.id, "text": e.text, "pillars": list(e.pillars), "sectors": list(e.sectors), "source": e.source,
                  "lang": e.lang} for e in self.examples(split, taxonomy)]
            )  # fmt: skip
            articles = self.article_list(split, taxonomy)
            if articles:
                frames[f"article_{split}"] = pd.DataFrame(article_rows(articles))
        return frames

    def article_list(self, split: str, taxonomy: Taxonomy, languages: Sequence[str] | None = None) -> list[Article]:
        """The articles of a split with label names, in the given languages (None: all)."""
        names = {"pillars": taxonomy.pillars, "sectors": taxonomy.sectors}

        def named(indices: list[int], level: str) -> list[str]:
            return [names[level][i] for i in indices]

        out = []
        for row in self.articles[split]:
            if languages is not None and row["lang"] not in languages:
                continue
            row = dict(row)
            row["title_pillars"], row["title_sectors"] = (
                named(row["title_pillars"], "pillars"),
                named(row["title_sectors"], "sectors"),
            )
            row["sentences"] = [
                {"text": s["text"], "pillars": named(s["pillars"], "pillars"), "sectors": named(s["sectors"], "sectors")}
                for s in row["sentences"]
            ]
            out.append(from_row(row))
        return out

    def units(
        self,
        split: str,
        taxonomy: Taxonomy,
        design: str,
        languages: Sequence[str] | None = None,
        corpora: Sequence[str] = ("sentences", "articles"),
    ) -> tuple[list[Unit], np.ndarray]:
        """Every scored unit of a split, sentences first, then each article's title and sentences in context."""
        examples = self.examples(split, taxonomy, languages) if "sentences" in corpora else []
        articles = self.article_list(split, taxonomy, languages) if "articles" in corpora else []
        units = [Unit(e.text) for e in examples] + [u for a in articles for u in a.units(design)]
        parts = [*examples, *(part for a in articles for part in a.parts)]
        return units, label_matrix(parts, taxonomy)


def _load_splits(folder: Path, sizes: dict[str, int], features: Any) -> Any:
    """The saved splits, and the empty ones the build did not save: `datasets` cannot read an empty split back."""
    from datasets import DatasetDict, load_from_disk

    loaded = load_from_disk(str(folder)) if (folder / "dataset_dict.json").is_file() else DatasetDict()
    empty = {split: _empty_split(features) for split, n in sizes.items() if n == 0}
    return DatasetDict({**empty, **loaded})


def load_processed(config: Config, taxonomy: Taxonomy) -> ProcessedData:
    """Open the processed build of the current labelled files, building it first when there is none.

    Builds live in `data/processed/<fingerprint>/`, so trainings of different data or seeds
    running at once never rebuild a folder another one is reading.
    """

    out = Path(config.data.processed_dir) / sources_fingerprint(config, taxonomy)
    if not (out / "manifest.json").is_file():
        build_dataset(config)
    manifest = json.loads((out / "manifest.json").read_text())
    dataset = _load_splits(out / "dataset", manifest["sizes"], _sentence_features(taxonomy))
    articles = _load_splits(out / "articles", manifest["article_sizes"], _article_features(taxonomy))
    missing = [split for split in SPLITS if split not in dataset or split not in articles]
    if missing:
        raise LabelledDataError([f"{out}: processed dataset lacks split(s) {missing}; run `alignclf data build`"])
    return ProcessedData(dataset, articles, manifest["digest"], out)
