"""The Label Studio review loop: sentences worth a human look out as tasks with predictions, exports back in as labelled lines."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import Config
from alignclf.context import Document
from alignclf.data import Example, dedupe_key, ordered, read_labelled
from alignclf.errors import AlignclfError
from alignclf.feeds import Fields, check_inputs, read_records
from alignclf.records import Record
from alignclf.resolve import load_model
from alignclf.tagger import Tagger
from alignclf.taxonomy import LEVELS, Taxonomy

STRATEGIES = ("uncertainty", "disagreement")
SOURCE = "reviewed"  # the `source` of every imported line, so the data card counts reviewed examples apart
ID_PREFIX = "rv-"
TEXT = "text"  # the Text tag every Choices block labels (`toName`)
NO_LABEL = "(no label)"
BATCH = 256  # records scored at a time, so a large feed never sits in memory whole
LABELLED = Path(Config().data.labelled_dir)  # sentences already labelled are never suggested or imported twice


class ReviewError(AlignclfError, ValueError):
    """A review request or a Label Studio export that cannot be used; the message names the file, task and field."""


class UnknownLabelError(ReviewError):
    """An annotation holds a label the taxonomy does not know."""


@dataclass
class SuggestSummary:
    """What `suggest` read and wrote; `picked_for` counts the picks per label (and `(no label)`)."""

    tasks: Path
    config: Path
    records: int
    failed: int
    sentences: int
    duplicates: int
    already_labelled: int
    candidates: int
    picked: int
    picked_for: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportSummary:
    """What `import_export` read and wrote; `disagreements` and `duplicates` name the tasks left out and why."""

    output: Path
    tasks: int
    written: int
    cancelled: int
    unannotated: int
    disagreements: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    """One sentence of an input article, with its scores by one model (and by the other, for disagreement).

    Only the article's id, title and link are kept, so a large feed's texts are not held in memory.
    """

    id: str
    text: str
    article_id: str
    title: str
    url: str
    scores: np.ndarray
    other: np.ndarray | None = None


def labelled(directory: Path | None, taxonomy: Taxonomy, skip: Path | None = None) -> list[Example]:
    """Every line of a labelled folder but `skip` (none when the folder does not exist)."""
    if directory is None or not Path(directory).is_dir():
        return []
    skipped = skip.resolve() if skip is not None else None
    paths = [path for path in sorted(Path(directory).glob("*.jsonl")) if path.resolve() != skipped]
    return [example for path in paths for example in read_labelled(path, taxonomy)]


def _keys(examples: list[Example]) -> dict[str, str]:
    """Near-duplicate key -> id of the first example with that key."""
    keys: dict[str, str] = {}
    for example in examples:
        keys.setdefault(dedupe_key(example.text), example.id)
    return keys


def candidates(records: Iterable[Record], tagger: Tagger, other: Tagger | None, known: dict[str, str], counts: dict[str, int]):
    """Every new sentence once: near-duplicates of an earlier sentence or of a labelled line are counted in `counts`, not kept."""
    seen: set[str] = set()
    records = iter(records)
    while batch := list(islice(records, BATCH)):
        usable = [r for r in batch if r.error is None and isinstance(r.text, str)]
        counts["records"] += len(batch)
        counts["failed"] += len(batch) - len(usable)
        documents = [Document(r.text, r.title) for r in usable]
        scored = tagger.score_documents(documents)
        second = other.score_documents(documents) if other is not None else [None] * len(documents)
        for record, (pieces, block, _), extra in zip(usable, scored, second):
            meta = (record.id, record.title or "", record.url or "")
            for index, piece in enumerate(pieces):
                counts["sentences"] += 1
                key = dedupe_key(piece.text)
                if key in known:
                    counts["already_labelled"] += 1
                elif key in seen or not key:
                    counts["duplicates"] += 1
                else:
                    seen.add(key)
                    other_row = None if extra is None else extra[1][index]
                    yield Candidate(f"{record.id}:{index}", piece.text, *meta, block[index], other_row)


def _buckets(found: list[Candidate], strategy: str, first: np.ndarray, second: np.ndarray | None, names: list[str]):
    """Per label, (sort key, position) of the candidates it may pick; and the candidates the model(s) give no label.

    uncertainty: every label ranks every candidate by how near its score lies to that label's threshold.
    disagreement: a label ranks the candidates the two models disagree on for it, strongest disagreement
    (both models far from their thresholds, on opposite sides) first.
    """
    buckets: dict[str, list[tuple[float, int]]] = {name: [] for name in [*names, NO_LABEL]}
    for position, candidate in enumerate(found):
        margin = np.abs(candidate.scores - first)
        on = candidate.scores >= first
        if strategy == "uncertainty":
            keys = {j: float(margin[j]) for j in range(len(names))}
            silent = not on.any()
        else:
            other_margin = np.abs(candidate.other - second)
            other_on = candidate.other >= second
            keys = {j: -float(margin[j] + other_margin[j]) for j in range(len(names)) if on[j] != other_on[j]}
            silent = not on.any() and not other_on.any()
        for j, key in keys.items():
            buckets[names[j]].append((key, position))
        if silent:
            buckets[NO_LABEL].append((float(margin.min()), position))
    for items in buckets.values():
        items.sort()
    return buckets


def balanced(buckets: dict[str, list[tuple[float, int]]], n: int, no_label_share: float) -> list[tuple[int, str]]:
    """(position, label it was picked for) of up to `n` candidates: round-robin over the labels, with a share of no-label ones.

    Each round visits the labels whose next candidate is most uncertain (strongest disagreement) first
    and takes one candidate for each, so every label gets its own borderline cases; every
    `1 / no_label_share`-th pick is a candidate the model gives no label, to catch what it misses,
    and such candidates never go past that share.
    A shorter list is always a prefix of a longer one.

    >>> balanced({"a": [(0.1, 0), (0.3, 1)], "b": [(0.2, 1), (0.4, 2)], NO_LABEL: [(0.5, 3)]}, n=4, no_label_share=0.25)
    [(0, 'a'), (1, 'b'), (2, 'b'), (3, '(no label)')]
    """
    picked: list[tuple[int, str]] = []
    taken: set[int] = set()
    cursor = dict.fromkeys(buckets, 0)
    labels = [name for name in buckets if name != NO_LABEL]

    def head(name: str) -> tuple[float, int] | None:
        items = buckets[name]
        while cursor[name] < len(items) and items[cursor[name]][1] in taken:
            cursor[name] += 1
        return items[cursor[name]] if cursor[name] < len(items) else None

    def label_rounds() -> Iterator[tuple[int, str]]:
        while True:
            heads = sorted((item, index) for index, name in enumerate(labels) if (item := head(name)) is not None)
            if not heads:
                return
            for _, index in heads:
                item = head(labels[index])  # an earlier label of this round may have taken it
                if item is not None:
                    yield item[1], labels[index]

    rounds, silent = label_rounds(), 0
    while len(picked) < n:
        item = head(NO_LABEL)
        if item is not None and silent + 1 <= no_label_share * (len(picked) + 1) + 1e-9:
            choice, silent = (item[1], NO_LABEL), silent + 1
        elif (choice := next(rounds, None)) is None:
            break  # no-label candidates never go past their share
        taken.add(choice[0])
        picked.append(choice)
    return picked


def _result(labels: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Label Studio `choices` result items, one per level that has labels (an empty Choices block has no item)."""
    return [
        {"from_name": level, "to_name": TEXT, "type": "choices", "value": {"choices": labels[level]}}
        for level in LEVELS
        if labels[level]
    ]


def _prediction(tagger: Tagger, scores: np.ndarray) -> dict[str, Any]:
    """A Label Studio prediction: the labels at the sentence thresholds, scored by the margin (low: unsure)."""
    on = scores >= tagger.thresholds
    labels = {level: [n for n, flag in zip(tagger.names, on) if flag and n in tagger.taxonomy.level(level)] for level in LEVELS}
    margin = float(np.abs(scores - tagger.thresholds).min())
    return {"model_version": tagger.name, "score": round(margin, 6), "result": _result(labels)}


def task(candidate: Candidate, picked_for: str, tagger: Tagger, other: Tagger | None) -> dict[str, Any]:
    """One Label Studio task: the sentence, its article's title and link, and the model's (models') labels."""
    c = candidate
    data = {"id": c.id, TEXT: c.text, "title": c.title, "url": c.url, "article_id": c.article_id, "picked_for": picked_for}
    predictions = [_prediction(tagger, candidate.scores)]
    if other is not None:
        predictions.append(_prediction(other, candidate.other))
    return {"data": data, "predictions": predictions}


def labelling_config(taxonomy: Taxonomy) -> str:
    """The Label Studio labelling config: the sentence under its article's title, one multiple-choice block per level.

    >>> tree = {"pillars": [{"name": "p", "description": "About P."}], "sectors": [{"name": "s"}]}
    >>> print(labelling_config(Taxonomy.from_dict(tree)))  # doctest: +NORMALIZE_WHITESPACE
    <View>
      <Header value="$title" size="4" />
      <Text name="text" value="$text" />
      <Header value="Pillars" size="5" />
      <Choices name="pillars" toName="text" choice="multiple" showInline="true">
        <Choice value="p" hint="About P." />
      </Choices>
      <Header value="Sectors" size="5" />
      <Choices name="sectors" toName="text" choice="multiple" showInline="true">
        <Choice value="s" />
      </Choices>
    </View>
    """
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="$title", size="4")
    ET.SubElement(view, "Text", name=TEXT, value=f"${TEXT}")
    for level in LEVELS:
        ET.SubElement(view, "Header", value=level.capitalize(), size="5")
        choices = ET.SubElement(view, "Choices", name=level, toName=TEXT, choice="multiple", showInline="true")
        for label in taxonomy.labels:
            if label.level == level:
                ET.SubElement(choices, "Choice", value=label.name, **({"hint": label.description} if label.description else {}))
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _write(path: Path, text: str) -> None:
    """Write beside the target and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def suggest(
    inputs: list[str],
    output: Path,
    model: str | None,
    n: int = 200,
    strategy: str = "uncertainty",
    other_model: str | None = None,
    fields: Fields | None = None,
    *,
    fmt: str = "auto",
    labelled_dir: Path | None = LABELLED,
    no_label_share: float = 0.1,
) -> SuggestSummary:
    """Write Label Studio tasks (`output`) and their labelling config (`output` with `.xml`) for the sentences most worth review.

    Sentences already in `labelled_dir` and near-duplicates are skipped; the same inputs give the same files.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "tasks.json"
    >>> summary = suggest(["data/samples/articles.jsonl"], out, tiny_model_folder, n=3)
    >>> summary.picked, summary.config.name
    (3, 'tasks.xml')
    """
    if strategy not in STRATEGIES:
        raise ReviewError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    if strategy == "disagreement" and not other_model:
        raise ReviewError("the disagreement strategy needs a second model (--other-model)")
    if n < 1 or not 0 <= no_label_share <= 1:
        raise ReviewError(f"n must be at least 1 (got {n}) and the no-label share within [0, 1] (got {no_label_share})")
    check_inputs(inputs)
    output = Path(output)
    tagger = load_model(model)
    other = load_model(other_model) if strategy == "disagreement" else None
    if other is not None and other.names != tagger.names:
        raise ReviewError(f"models {tagger.name!r} and {other.name!r} have different labels: {tagger.names} vs {other.names}")
    known = _keys(labelled(labelled_dir, tagger.taxonomy))
    counts = dict.fromkeys(("records", "failed", "sentences", "duplicates", "already_labelled"), 0)
    found = list(candidates(read_records(inputs, fmt, fields or Fields()), tagger, other, known, counts))
    buckets = _buckets(found, strategy, tagger.thresholds, None if other is None else other.thresholds, tagger.names)
    picks = balanced(buckets, n, no_label_share)
    tasks = [task(found[position], picked_for, tagger, other) for position, picked_for in picks]
    config = output.with_suffix(".xml")
    _write(output, json.dumps(tasks, ensure_ascii=False, indent=2) + "\n")
    _write(config, labelling_config(tagger.taxonomy))
    per_label = {name: sum(p == name for _, p in picks) for name in buckets}
    return SuggestSummary(output, config, **counts, candidates=len(found), picked=len(picks), picked_for=per_label)


def _annotation_labels(annotation: dict[str, Any], taxonomy: Taxonomy, where: str) -> tuple[tuple[str, ...], ...]:
    """The labels of one annotation per level, each checked against the taxonomy."""
    labels: dict[str, list[str]] = {level: [] for level in LEVELS}
    result = annotation.get("result") or []
    if not isinstance(result, list):
        raise ReviewError(f"{where}: field 'result' must be a list")
    for item in result:
        if not isinstance(item, dict) or item.get("type") != "choices":
            continue  # other controls (a comment box, a rating) carry no labels
        level = item.get("from_name")
        choices = (item.get("value") or {}).get("choices")
        if level not in LEVELS:
            raise ReviewError(f"{where}: choices from control {level!r}; the labelling config names {' and '.join(LEVELS)}")
        if not isinstance(choices, list) or not all(isinstance(choice, str) for choice in choices):
            raise ReviewError(f"{where}: field 'value.choices' must be a list of strings")
        for choice in choices:
            if choice not in taxonomy.level(level):
                raise UnknownLabelError(f"{where}: unknown {level} label {choice!r} (known: {', '.join(taxonomy.level(level))})")
        labels[level] += [choice for choice in choices if choice not in labels[level]]
    return tuple(ordered(labels[level], taxonomy) for level in LEVELS)


def _task_text(task: Any, where: str) -> tuple[str, str]:
    """(data id, text) of an exported task."""
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise ReviewError(f"{where}: expected a task object with a 'data' object")
    text, data_id = task["data"].get(TEXT), task["data"].get("id", task.get("id"))
    if not isinstance(text, str) or not text.strip():
        raise ReviewError(f"{where}: field 'data.{TEXT}' must be a non-empty string")
    if not isinstance(data_id, (str, int)) or isinstance(data_id, bool) or str(data_id) == "":
        raise ReviewError(f"{where}: field 'data.id' must be a string or an integer")
    return str(data_id), text


def import_export(
    export: Path,
    output: Path,
    taxonomy: Taxonomy | Path | None = None,
    *,
    labelled_dir: Path | None = LABELLED,
) -> ImportSummary:
    """Turn a Label Studio JSON export into labelled lines (`source: reviewed`) that training reads like any other file.

    Cancelled annotations are skipped; a task whose annotators disagree is reported and left out, and so
    is a text that near-duplicates a line already in `labelled_dir` (the output file itself excepted).
    """
    export, output = Path(export), Path(output)
    if not isinstance(taxonomy, Taxonomy):
        taxonomy = Taxonomy.from_yaml(taxonomy or Config().taxonomy)
    try:
        tasks = json.loads(export.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ReviewError(f"export not found: {export}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReviewError(f"{export}: not a Label Studio JSON export ({exc})") from None
    if not isinstance(tasks, list):
        raise ReviewError(f"{export}: a Label Studio JSON export is a list of tasks, got {type(tasks).__name__}")
    existing = labelled(labelled_dir, taxonomy, skip=output)
    known, ids = _keys(existing), {example.id for example in existing}
    summary = ImportSummary(output, len(tasks), 0, 0, 0)
    lines = []
    for number, item in enumerate(tasks, start=1):
        where = f"{export}: task {item.get('id', f'#{number}') if isinstance(item, dict) else f'#{number}'}"
        data_id, text = _task_text(item, where)
        where = f"{where} ({data_id})"
        annotations = [a for a in item.get("annotations") or [] if isinstance(a, dict)]
        kept = [a for a in annotations if not a.get("was_cancelled")]
        summary.cancelled += len(annotations) - len(kept)
        labels = {_annotation_labels(a, taxonomy, f"{where}: annotation {a.get('id', '?')}") for a in kept}
        line_id, key = f"{ID_PREFIX}{data_id}", dedupe_key(text)
        if not kept:
            summary.unannotated += 1
        elif len(labels) > 1:
            summary.disagreements.append(data_id)
        elif key in known:
            summary.duplicates.append(f"{line_id} repeats {known[key]}")
        elif line_id in ids:
            summary.duplicates.append(f"{line_id}: the id is taken (the task was exported twice, or an article id was reused)")
        else:
            pillars, sectors = labels.pop()
            known[key] = line_id
            ids.add(line_id)
            lines.append({"id": line_id, "text": text, "pillars": list(pillars), "sectors": list(sectors), "source": SOURCE})
    _write(output, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    summary.written = len(lines)
    return summary
