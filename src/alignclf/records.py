"""The output record every engine writes (local, Spark, REST): its fields, ids, metadata and evidence per field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from alignclf.context import Document
from alignclf.tagger import Tagger

# Metadata first, then the tags, then who tagged and what went wrong; `--keep` fields follow.
OUTPUT_FIELDS = (
    "id", "title", "url", "published", "source", "language",
    "pillars", "sectors", "scores", "evidence", "countries",
    "model", "warning", "error",
)  # fmt: skip
METADATA_FIELDS = ("title", "url", "published", "source")


def record_id(raw: object, fallback: str) -> str:
    """An input's id as text: a non-empty string or an integer, else the positional fallback."""
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, bool):
        return str(raw)
    return fallback  # missing ids arrive as None, "" or NaN


def text_or_none(value: object) -> str | None:
    """A metadata value as a non-empty string, or None (missing values arrive as None, "" or NaN)."""
    return value.strip() or None if isinstance(value, str) else None


@dataclass(frozen=True)
class Record:
    """One input record: its id, metadata, and either its text or why it has none."""

    id: str
    text: str | None
    error: str | None = None
    title: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    keep: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def failed(self, error: str) -> Record:
        """The same record, untaggable for `error`."""
        return replace(self, text=None, error=error)


EMPTY = {"language": None, "pillars": [], "sectors": [], "scores": {}, "evidence": [], "countries": [], "warning": None}


def output_line(record: Record, tags: dict[str, Any] | None, model: str) -> dict[str, Any]:
    """The output line of one record: metadata, tags (empty when it has an error), model, warnings, error."""
    tags = dict(tags if tags is not None else EMPTY)
    warnings = [*record.warnings, *([tags.pop("warning")] if tags.get("warning") else [])]
    tags.pop("warning", None)
    line: dict[str, Any] = {"id": record.id}
    line.update({name: getattr(record, name) for name in METADATA_FIELDS})
    line.update(tags)
    line.update({"model": tags.get("model") or model, "warning": "; ".join(warnings) or None, "error": record.error})
    # `--keep text` keeps the text as tagged, whatever field or feed element it came from.
    kept = {name: record.text if name == "text" and value is None else value for name, value in record.keep.items()}
    line.update({name: value for name, value in kept.items() if name not in line})
    return line


def tag_records(tagger: Tagger, records: Sequence[Record], max_chars: int = 200_000) -> list[dict[str, Any]]:
    """Tag records into output lines of the design's format; a bad record gets `error`, never drops."""
    checked = []
    for record in records:
        if record.error is None and not isinstance(record.text, str):
            record = record.failed(f"text is {type(record.text).__name__}, not a string")
        elif record.error is None and len(record.text) + len(record.title or "") > max_chars:
            size = len(record.text) + len(record.title or "")
            record = record.failed(f"text has {size} characters, over the limit of {max_chars}")
        checked.append(record)
    tagged = iter(tagger.predict_documents([Document(r.text, r.title) for r in checked if r.error is None]))
    return [output_line(r, None if r.error is not None else next(tagged).to_dict(), tagger.name) for r in checked]
