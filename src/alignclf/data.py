"""Labelled JSONL in, a validated, deduplicated, stratified Hugging Face DatasetDict out."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.errors import AlignclfError
from alignclf.taxonomy import LEVELS, Taxonomy
from alignclf.text import normalise

SPLITS = ("train", "validation", "test")
FIELDS = ("id", "text", "pillars", "sectors", "source")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


class LabelledDataError(AlignclfError, ValueError):
    """Labelled data that breaks the format; `problems` lists each as `file:line: field ...`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  {problem}" for problem in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in labelled data:\n{shown}{more}")


@dataclass(frozen=True)
class Example:
    """One labelled sentence; `orig` names the original a translation was made from."""

    id: str
    text: str
    pillars: tuple[str, ...]
    sectors: tuple[str, ...]
    source: str
    where: str = field(default="", compare=False)
    lang: str = "en"
    orig: str | None = None

    def labels(self, level: str) -> tuple[str, ...]:
        return self.pillars if level == "pillars" else self.sectors

    @property
    def group(self) -> str:
        """Examples of one group (an original and its translations) always share a split."""
        return self.orig or self.id


def check_labels(record: dict[str, Any], where: str, taxonomy: Taxonomy, names: dict[str, str]) -> list[str]:
    """Problems with the label lists of a record; `names` maps each level to its field name."""
    problems = []
    for level, name in names.items():
        value = record.get(name)
        known = taxonomy.level(level)
        if name not in record:
            problems.append(f"{where}: field '{name}' is missing")
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems.append(f"{where}: field '{name}' must be a list of strings")
        else:
            for item in value:
                if item not in known:
                    problems.append(f"{where}: field '{name}': unknown label {item!r} (known: {', '.join(known)})")
            if len(set(value)) != len(value):
                problems.append(f"{where}: field '{name}' repeats a label")
    return problems


def check_strings(record: dict[str, Any], where: str, names: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[str]:
    """Problems with fields that must be non-empty strings (`optional` ones may be absent)."""
    problems = []
    for name in names + optional:
        value = record.get(name)
        if name not in record:
            if name not in optional:
                problems.append(f"{where}: field '{name}' is missing")
        elif not isinstance(value, str):
            problems.append(f"{where}: field '{name}' must be a string, got {type(value).__name__}")
        elif not value.strip():
            problems.append(f"{where}: field '{name}' is empty")
    return problems


def ordered(labels: list[str], taxonomy: Taxonomy) -> tuple[str, ...]:
    """Labels in taxonomy order, the order of every score matrix."""
    order = {name: index for index, name in enumerate(taxonomy.names)}
    return tuple(sorted(labels, key=order.__getitem__))


def _check_record(record: Any, where: str, taxonomy: Taxonomy) -> tuple[Example | None, list[str]]:
    if not isinstance(record, dict):
        return None, [f"{where}: expected a JSON object, got {type(record).__name__}"]
    problems = check_strings(record, where, ("id", "text", "source"), optional=("lang", "orig"))
    problems += check_labels(record, where, taxonomy, {level: level for level in LEVELS})
    if problems:
        return None, problems
    return (
        Example(
            id=record["id"],
            text=record["text"],
            pillars=ordered(record["pillars"], taxonomy),
            sectors=ordered(record["sectors"], taxonomy),
            source=record["source"],
            where=where,
            lang=record.get("lang", "en"),
            orig=record.get("orig"),
        ),
        [],
    )


def json_lines(path: Path) -> Iterator[tuple[str, Any | None, str | None]]:
    """(where, record, problem) for every non-blank line: a record, or why the line is not one."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a byte-order mark from an editor or spreadsheet export
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield where, None, f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})"
                continue
            if not line.strip():
                continue
            try:
                yield where, json.loads(line), None
            except json.JSONDecodeError as exc:
                yield where, None, f"{where}: malformed JSON ({exc.msg}; column {exc.colno})"


def read_checked(path: str | Path, check: Callable[[Any, str], tuple[Any, list[str]]]) -> list[Any]:
    """Every record of one JSONL file, each checked by `check(record, where) -> (item or None, problems)`.

    Ids must be unique; a LabelledDataError names every bad line. Blank lines are allowed.
    """
    items, problems, seen = [], [], {}
    for where, record, problem in json_lines(Path(path)):
        if problem:
            problems.append(problem)
            continue
        item, found = check(record, where)
        problems.extend(found)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"{where}: field 'id': duplicate id {item.id!r} (first at line {seen[item.id]})")
            continue
        seen[item.id] = where.rsplit(":", 1)[1]
        items.append(item)
    if problems:
        raise LabelledDataError(problems)
    return items


def read_checked_dir(directory: str | Path, read: Callable[[Path], list[Any]], required: bool = True) -> list[Any]:
    """All `*.jsonl` files of a folder read by `read`, in name order; ids must be unique across files."""
    files = sorted(Path(directory).glob("*.jsonl"))
    if not files and required:
        raise LabelledDataError([f"{directory}: no *.jsonl files"])
    items, problems, owner = [], [], {}
    for path in files:
        try:
            batch = read(path)
        except LabelledDataError as exc:
            problems.extend(exc.problems)
            continue
        for item in batch:
            if item.id in owner:
                problems.append(f"{item.where}: field 'id': duplicate id {item.id!r} (also {owner[item.id]})")
            else:
                owner[item.id] = item.where
                items.append(item)
    if problems:
        raise LabelledDataError(problems)
    return items


def read_labelled(path: str | Path, taxonomy: Taxonomy) -> list[Example]:
    """Every record of one labelled JSONL file, or a LabelledDataError naming each bad line.

    Blank lines are allowed; keys beyond the format are ignored.
    """
    return read_checked(path, lambda record, where: _check_record(record, where, taxonomy))


def read_labelled_dir(directory: str | Path, taxonomy: Taxonomy) -> list[Example]:
    """All `*.jsonl` files of a folder, in name order; ids must be unique across files."""
    return read_checked_dir(directory, lambda path: read_labelled(path, taxonomy))


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
    items: list[Any],
    taxonomy: Taxonomy,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    train_only_sources: tuple[str, ...] = (),
) -> dict[str, list[Any]]:
    """Iterative multi-label stratification (Sechidis et al.) over groups, with 'no label' as its own column.

    Works for sentences and articles alike (anything with `id`, `group`, `source`, `lang` and labels).
    A group, an original with its translations, goes to one split whole.
    """
    pinned = [e for e in items if e.source in train_only_sources]
    pool = sorted((e for e in items if e.source not in train_only_sources), key=lambda e: e.id)
    groups: dict[str, list[Any]] = {}
    for item in pool:
        groups.setdefault(item.group, []).append(item)
    if len(groups) * min(validation_fraction, test_fraction) < 1:
        raise LabelledDataError(
            [f"only {len(groups)} examples outside the train-only sources {list(train_only_sources)}: too few to split "
             f"with validation/test fractions {validation_fraction}/{test_fraction}"]
        )  # fmt: skip
    # Groups are split per language of their original, so adding data in one language never reshuffles another's split.
    by_language: dict[str, list[str]] = {}
    for key, members in sorted(groups.items()):
        original = next((m for m in members if m.orig is None), members[0])
        by_language.setdefault(original.lang, []).append(key)
    splits: dict[str, list[Any]] = {"train": list(pinned), "validation": [], "test": []}
    for keys in by_language.values():
        for name, chosen in _split_keys(keys, groups, taxonomy, validation_fraction, test_fraction, seed).items():
            splits[name] += [item for key in chosen for item in groups[key]]
    return splits


def _split_keys(
    keys: list[str], groups: dict[str, list[Any]], taxonomy: Taxonomy, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[str]]:
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    if len(keys) * min(validation_fraction, test_fraction) < 1:
        return {"train": keys, "validation": [], "test": []}  # too few in this language to hold any out
    matrix = np.vstack([label_matrix(groups[key], taxonomy).max(axis=0) for key in keys])
    matrix = np.hstack([matrix, (matrix.sum(axis=1) == 0).astype(np.int64)[:, None]])
    held_out = validation_fraction + test_fraction
    first = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=held_out, random_state=seed)
    train_index, rest_index = next(first.split(np.zeros(len(keys)), matrix))
    second = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=test_fraction / held_out, random_state=seed)
    validation_index, test_index = next(second.split(np.zeros(len(rest_index)), matrix[rest_index]))
    return {
        "train": [keys[i] for i in sorted(train_index)],
        "validation": [keys[i] for i in sorted(rest_index[validation_index])],
        "test": [keys[i] for i in sorted(rest_index[test_index])],
    }


def check_no_leakage(splits: dict[str, list[tuple[str, str]]]) -> None:
    """Fail when a text of one split near-duplicates a text of another.

    `splits` maps a split's name (train, validation, test) to (id, text) pairs from every
    corpus, so a sentence corpus's test text may not repeat an article's train sentence either.
    """
    owner: dict[str, tuple[str, str]] = {}
    leaks = []
    for split in SPLITS:
        for identifier, text in splits.get(split, []):
            key = dedupe_key(text)
            first = owner.setdefault(key, (split, identifier))
            if first[0] != split:
                leaks.append(f"{identifier} ({split}) repeats {first[1]} ({first[0]}): {text[:60]!r}")
    if leaks:
        raise LabelledDataError([f"text shared across splits: {leak}" for leak in leaks])


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
