"""Labelled JSONL in, a validated, deduplicated, stratified Hugging Face DatasetDict out."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.taxonomy import LEVELS, Taxonomy
from alignclf.text import normalise

SPLITS = ("train", "validation", "test")
FIELDS = ("id", "text", "pillars", "sectors", "source")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


class LabelledDataError(ValueError):
    """Labelled data that breaks the format; `problems` lists each as `file:line: field ...`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  {problem}" for problem in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in labelled data:\n{shown}{more}")


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    pillars: tuple[str, ...]
    sectors: tuple[str, ...]
    source: str
    where: str = field(default="", compare=False)

    def labels(self, level: str) -> tuple[str, ...]:
        return self.pillars if level == "pillars" else self.sectors


def _check_record(record: Any, where: str, taxonomy: Taxonomy) -> tuple[Example | None, list[str]]:
    if not isinstance(record, dict):
        return None, [f"{where}: expected a JSON object, got {type(record).__name__}"]
    problems = []
    for name in ("id", "text", "source"):
        value = record.get(name)
        if name not in record:
            problems.append(f"{where}: field '{name}' is missing")
        elif not isinstance(value, str):
            problems.append(f"{where}: field '{name}' must be a string, got {type(value).__name__}")
        elif not value.strip():
            problems.append(f"{where}: field '{name}' is empty")
    for level in LEVELS:
        value = record.get(level)
        known = taxonomy.level(level)
        if level not in record:
            problems.append(f"{where}: field '{level}' is missing")
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems.append(f"{where}: field '{level}' must be a list of strings")
        else:
            for item in value:
                if item not in known:
                    problems.append(f"{where}: field '{level}': unknown label {item!r} (known: {', '.join(known)})")
            if len(set(value)) != len(value):
                problems.append(f"{where}: field '{level}' repeats a label")
    if problems:
        return None, problems
    order = {name: index for index, name in enumerate(taxonomy.names)}
    return (
        Example(
            id=record["id"],
            text=record["text"],
            pillars=tuple(sorted(record["pillars"], key=order.__getitem__)),
            sectors=tuple(sorted(record["sectors"], key=order.__getitem__)),
            source=record["source"],
            where=where,
        ),
        [],
    )


def read_labelled(path: str | Path, taxonomy: Taxonomy) -> list[Example]:
    """Every record of one labelled JSONL file, or a LabelledDataError naming each bad line.

    Blank lines are allowed; keys beyond the format are ignored.
    """
    path = Path(path)
    examples, problems, seen = [], [], {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})")
                continue
            example, found = _check_record(record, where, taxonomy)
            problems.extend(found)
            if example is None:
                continue
            if example.id in seen:
                problems.append(f"{where}: field 'id': duplicate id {example.id!r} (first at line {seen[example.id]})")
                continue
            seen[example.id] = number
            examples.append(example)
    if problems:
        raise LabelledDataError(problems)
    return examples


def read_labelled_dir(directory: str | Path, taxonomy: Taxonomy) -> list[Example]:
    """All `*.jsonl` files of a folder, in name order; ids must be unique across files."""
    files = sorted(Path(directory).glob("*.jsonl"))
    if not files:
        raise LabelledDataError([f"{directory}: no *.jsonl files"])
    examples, problems, owner = [], [], {}
    for path in files:
        try:
            batch = read_labelled(path, taxonomy)
        except LabelledDataError as exc:
            problems.extend(exc.problems)
            continue
        for example in batch:
            if example.id in owner:
                problems.append(f"{example.where}: field 'id': duplicate id {example.id!r} (also {owner[example.id]})")
            else:
                owner[example.id] = example.where
                examples.append(example)
    if problems:
        raise LabelledDataError(problems)
    return examples


def dedupe_key(text: str) -> str:
    """Texts equal up to case, punctuation and spacing count as one."""
    return _NOT_WORD.sub(" ", normalise(text).casefold()).strip()


@dataclass
class Deduplicated:
    examples: list[Example]
    removed: list[tuple[str, str]]  # (dropped id, kept id)
    merged_labels: list[str]  # kept ids whose labels were widened by a duplicate


def deduplicate(examples: list[Example]) -> Deduplicated:
    """Keep the first of each near-duplicate group; conflicting labels are united (guide rule 5)."""
    kept: dict[str, Example] = {}
    removed, merged = [], []
    for example in examples:
        key = dedupe_key(example.text)
        first = kept.get(key)
        if first is None:
            kept[key] = example
            continue
        removed.append((example.id, first.id))
        if (first.pillars, first.sectors) != (example.pillars, example.sectors):
            union = {level: tuple(dict.fromkeys(first.labels(level) + example.labels(level))) for level in LEVELS}
            kept[key] = Example(first.id, first.text, union["pillars"], union["sectors"], first.source, first.where)
            merged.append(first.id)
    return Deduplicated(list(kept.values()), removed, merged)


def label_matrix(examples: list[Example], taxonomy: Taxonomy) -> np.ndarray:
    """Rows are examples, columns the taxonomy's labels (pillars then sectors), values 0/1."""
    column = {name: index for index, name in enumerate(taxonomy.names)}
    matrix = np.zeros((len(examples), len(column)), dtype=np.int64)
    for row, example in enumerate(examples):
        for name in example.pillars + example.sectors:
            matrix[row, column[name]] = 1
    return matrix


def stratified_split(
    examples: list[Example],
    taxonomy: Taxonomy,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    train_only_sources: tuple[str, ...] = (),
) -> dict[str, list[Example]]:
    """Iterative multi-label stratification (Sechidis et al.), with 'no label' as its own column."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    pinned = [e for e in examples if e.source in train_only_sources]
    pool = sorted((e for e in examples if e.source not in train_only_sources), key=lambda e: e.id)
    smallest = min(validation_fraction, test_fraction)
    if len(pool) * smallest < 1:
        raise LabelledDataError(
            [f"only {len(pool)} examples outside the train-only sources {list(train_only_sources)}: too few to split "
             f"with validation/test fractions {validation_fraction}/{test_fraction}"]
        )  # fmt: skip
    matrix = label_matrix(pool, taxonomy)
    matrix = np.hstack([matrix, (matrix.sum(axis=1) == 0).astype(np.int64)[:, None]])
    held_out = validation_fraction + test_fraction
    first = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=held_out, random_state=seed)
    train_index, rest_index = next(first.split(np.zeros(len(pool)), matrix))
    second = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=test_fraction / held_out, random_state=seed)
    validation_index, test_index = next(second.split(np.zeros(len(rest_index)), matrix[rest_index]))
    splits = {
        "train": pinned + [pool[i] for i in sorted(train_index)],
        "validation": [pool[rest_index[i]] for i in sorted(validation_index)],
        "test": [pool[rest_index[i]] for i in sorted(test_index)],
    }
    check_no_leakage(splits)
    return splits


def check_no_leakage(splits: dict[str, list[Example]]) -> None:
    """Fail when a validation or test text near-duplicates a train text."""
    train_keys = {dedupe_key(e.text) for e in splits["train"]}
    for name in ("validation", "test"):
        leaked = [e.id for e in splits[name] if dedupe_key(e.text) in train_keys]
        if leaked:
            raise ValueError(f"{name} split repeats train texts: {leaked[:10]}")


def content_digest(splits: dict[str, list[Example]], taxonomy: Taxonomy) -> str:
    """Same examples in the same splits give the same digest, on any machine."""
    payload = {
        "taxonomy": taxonomy.digest,
        "splits": {
            name: [[e.id, e.text, list(e.pillars), list(e.sectors), e.source] for e in rows] for name, rows in splits.items()
        },
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:16]


def counts_table(splits: dict[str, list[Example]], taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """Rows of (level, label, count per split, total) including the 'no label' row."""
    rows = []
    for level in LEVELS:
        for name in taxonomy.level(level):
            counts = {split: sum(name in e.labels(level) for e in splits[split]) for split in SPLITS}
            rows.append({"level": level, "label": name, **counts, "total": sum(counts.values())})
    empty = {split: sum(not (e.pillars or e.sectors) for e in splits[split]) for split in SPLITS}
    rows.append({"level": "-", "label": "(no label)", **empty, "total": sum(empty.values())})
    sizes = {split: len(splits[split]) for split in SPLITS}
    rows.append({"level": "-", "label": "(examples)", **sizes, "total": sum(sizes.values())})
    return rows


def format_counts(rows: list[dict[str, Any]]) -> str:
    """A markdown table of `counts_table` rows."""
    header = "| level | label | " + " | ".join(SPLITS) + " | total |"
    rule = "|---|---|" + "---:|" * (len(SPLITS) + 1)
    body = [f"| {r['level']} | {r['label']} | " + " | ".join(str(r[s]) for s in SPLITS) + f" | {r['total']} |" for r in rows]
    return "\n".join([header, rule, *body])


def source_counts(splits: dict[str, list[Example]]) -> dict[str, dict[str, int]]:
    return {split: dict(sorted(Counter(e.source for e in rows).items())) for split, rows in splits.items()}
