"""Builds and reads data/processed/: the DatasetDict, parquet per split, manifest and DATACARD."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alignclf.config import Config
from alignclf.data import (
    SPLITS,
    Example,
    content_digest,
    counts_table,
    deduplicate,
    format_counts,
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
    counts: list[dict[str, Any]]
    removed_duplicates: int

    @property
    def table(self) -> str:
        return format_counts(self.counts)


def sources_fingerprint(config: Config, taxonomy: Taxonomy) -> str:
    """Hash of what decides the split (labelled files, taxonomy, split settings, seed): tells whether data/processed/ is stale."""
    sha = hashlib.sha256(taxonomy.digest.encode())
    sha.update(json.dumps([config.seed, config.data.model_dump(mode="json")], sort_keys=True).encode())
    for path in sorted(Path(config.data.labelled_dir).glob("*.jsonl")):
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def _features(taxonomy: Taxonomy):
    from datasets import ClassLabel, Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "text": Value("string"),
            "pillars": List(ClassLabel(names=taxonomy.pillars)),
            "sectors": List(ClassLabel(names=taxonomy.sectors)),
            "source": Value("string"),
        }
    )


def _datacard(result: BuildResult, config: Config, deduped_merged: int) -> str:
    sources = source_counts(result.splits)
    source_lines = "\n".join(
        f"- {split}: {', '.join(f'{k} {v}' for k, v in counts.items())}" for split, counts in sources.items()
    )
    pinned = ", ".join(config.data.train_only_sources) or "none"
    return f"""# alignclf dataset

Content digest: `{result.digest}`

Built by `alignclf data build` from every `*.jsonl` file in `{config.data.labelled_dir}`,
labelled per the labelling guide (pillars and sectors of `{config.taxonomy}`).

## How it was made

1. Every line was validated (JSON, fields, known labels, unique ids).
2. Near-duplicates (same text up to case, punctuation and spacing) were removed:
   {result.removed_duplicates} dropped; {deduped_merged} kept examples had their labels widened
   to the union of the duplicates' labels (guide rule 5).
3. Examples from the sources [{pinned}] all go to train: they are too few to split.
4. The rest were split {1 - config.data.validation_fraction - config.data.test_fraction:.0%} /
   {config.data.validation_fraction:.0%} / {config.data.test_fraction:.0%} (train / validation / test)
   by iterative multi-label stratification over every label plus a "no label" column, seed {config.seed}.
5. No validation or test text near-duplicates a train text (checked at build time).

## Counts per label and split

{result.table}

## Sources per split

{source_lines}

## Files

- `dataset/`: `datasets.load_from_disk` (features: `pillars`/`sectors` are lists of `ClassLabel`)
- `parquet/<split>.parquet`: the same rows, label names as strings
- `manifest.json`: digest, counts, taxonomy digest, source fingerprint
"""


def build_dataset(config: Config) -> BuildResult:
    """Validate, dedupe, split and write the processed dataset; deterministic for given files.

    >>> build_dataset(load_config("configs/data.yaml")).digest  # doctest: +SKIP
    '3f2a...'
    """
    from datasets import Dataset, DatasetDict
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    taxonomy = Taxonomy.from_yaml(config.taxonomy)
    examples = read_labelled_dir(config.data.labelled_dir, taxonomy)
    deduped = deduplicate(examples)
    splits = stratified_split(
        deduped.examples,
        taxonomy,
        config.data.validation_fraction,
        config.data.test_fraction,
        config.seed,
        tuple(config.data.train_only_sources),
    )
    out = Path(config.data.processed_dir)
    result = BuildResult(out, content_digest(splits, taxonomy), splits, counts_table(splits, taxonomy), len(deduped.removed))
    features = _features(taxonomy)
    dataset = DatasetDict(
        {
            name: Dataset.from_list(
                [
                    {"id": e.id, "text": e.text, "pillars": list(e.pillars), "sectors": list(e.sectors), "source": e.source}
                    for e in rows
                ],
                features=features,
            )
            for name, rows in splits.items()
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    dataset.save_to_disk(str(out / "dataset"))
    (out / "parquet").mkdir(exist_ok=True)
    for name, rows in splits.items():
        frame = dataset[name].to_pandas()
        frame["pillars"] = [list(e.pillars) for e in rows]
        frame["sectors"] = [list(e.sectors) for e in rows]
        frame.to_parquet(out / "parquet" / f"{name}.parquet", index=False)
    manifest = {
        "digest": result.digest,
        "taxonomy_digest": taxonomy.digest,
        "sources_fingerprint": sources_fingerprint(config, taxonomy),
        "sizes": {name: len(rows) for name, rows in splits.items()},
        "removed_duplicates": len(deduped.removed),
        "counts": result.counts,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (out / "DATACARD.md").write_text(_datacard(result, config, len(deduped.merged_labels)), encoding="utf-8")
    return result


@dataclass
class ProcessedData:
    """The processed splits as a model consumes them."""

    dataset: DatasetDict
    digest: str
    directory: Path

    def texts(self, split: str) -> list[str]:
        return list(self.dataset[split]["text"])

    def targets(self, split: str, taxonomy: Taxonomy) -> np.ndarray:
        """The 0/1 label matrix; ClassLabel indices map straight to columns (pillars, then sectors)."""
        rows = self.dataset[split]
        matrix = np.zeros((len(rows), len(taxonomy.names)), dtype=np.int64)
        offset = len(taxonomy.pillars)
        for row, (pillars, sectors) in enumerate(zip(rows["pillars"], rows["sectors"])):
            matrix[row, pillars] = 1
            matrix[row, [offset + s for s in sectors]] = 1
        return matrix


def load_processed(config: Config, taxonomy: Taxonomy) -> ProcessedData:
    """Open data/processed/, rebuilding it first when missing or older than the labelled files."""
    from datasets import load_from_disk

    out = Path(config.data.processed_dir)
    manifest_path = out / "manifest.json"
    recorded = json.loads(manifest_path.read_text()).get("sources_fingerprint") if manifest_path.exists() else None
    fresh = recorded == sources_fingerprint(config, taxonomy)
    if not fresh:
        build_dataset(config)
    manifest = json.loads(manifest_path.read_text())
    dataset = load_from_disk(str(out / "dataset"))
    missing = [split for split in SPLITS if split not in dataset]
    if missing:
        raise ValueError(f"{out}: processed dataset lacks split(s) {missing}; run `alignclf data build`")
    return ProcessedData(dataset, manifest["digest"], out)
