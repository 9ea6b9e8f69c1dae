"""News feeds in (JSONL, CSV, RSS/Atom, HTML, text, stdin), tag records out, streamed and resumable."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

from alignclf.errors import AlignclfError
from alignclf.records import Record, record_id, tag_records, text_or_none
from alignclf.tagger import Tagger

FORMATS = ("auto", "jsonl", "csv", "rss", "html", "txt")
_SUFFIXES = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv", ".tsv": "csv",
    ".xml": "rss", ".rss": "rss", ".atom": "rss",
    ".html": "html", ".htm": "html",
    ".txt": "txt", ".text": "txt", ".md": "txt",
}  # fmt: skip


_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape


class FeedError(AlignclfError, ValueError):
    """A usage problem with an input (missing file, unknown format): nothing was tagged from it."""


@dataclass
class Fields:
    """Which fields of a JSONL or CSV record hold the text, the id and the title."""

    text: str = "text"
    id: str = "id"
    title: str = "title"


def sniff(head: bytes) -> str:
    """Format from the first bytes of a file or stream."""
    start = head.lstrip()[:512].lower()
    if start.startswith(b"{"):
        return "jsonl"
    if start.startswith(b"<"):
        return "rss" if (b"<rss" in start or b"<feed" in start or b"<rdf" in start) else "html"
    return "txt"


def detect_format(path: Path, head: bytes) -> str:
    return _SUFFIXES.get(path.suffix.lower()) or sniff(head)


def parse_jsonl_line(raw: bytes, fallback: str, fields: Fields) -> Record | None:
    """One JSONL line as a record (None for a blank line); `fallback` is its `<file>:<line>` id."""
    if not raw.strip():
        return None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(fallback, None, f"{fallback}: not valid UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return Record(fallback, None, f"{fallback}: malformed JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(item, dict):
        return Record(fallback, None, f"{fallback}: expected a JSON object, got {type(item).__name__}")
    identifier = record_id(item.get(fields.id), fallback)
    text = item.get(fields.text)
    if not isinstance(text, str):
        problem = "is missing" if fields.text not in item else f"is {type(text).__name__}, not a string"
        return Record(identifier, None, f"{fallback}: field '{fields.text}' {problem}")
    return Record(identifier, text, title=text_or_none(item.get(fields.title)))


def _jsonl_records(stream: BinaryIO, name: str, fields: Fields) -> Iterator[Record]:
    for number, raw in enumerate(stream, start=1):
        record = parse_jsonl_line(raw, f"{name}:{number}", fields)
        if record is not None:
            yield record


def _csv_records(stream: BinaryIO, name: str, fields: Fields, delimiter: str) -> Iterator[Record]:
    text_stream = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.DictReader(text_stream, delimiter=delimiter)
    if reader.fieldnames is None or fields.text not in reader.fieldnames:
        # Like an unreadable feed: the file is accounted for by one error record and the run goes on.
        yield Record(name, None, f"{name}: CSV has no '{fields.text}' column (columns: {reader.fieldnames}); use --text-field")
        return
    for row in reader:
        fallback = f"{name}:{reader.line_num}"
        raw_id = row.get(fields.id)
        identifier = record_id(None if raw_id and _UNDECODED.search(raw_id) else raw_id, fallback)
        text = row.get(fields.text)
        if None in row:
            yield Record(identifier, None, f"{fallback}: row has more fields than the header")
        elif text is None:
            yield Record(identifier, None, f"{fallback}: field '{fields.text}' is missing (row too short)")
        elif _UNDECODED.search(text + (row.get(fields.title) or "")):
            yield Record(identifier, None, f"{fallback}: field '{fields.text}' is not valid UTF-8")
        else:
            yield Record(identifier, text, title=text_or_none(row.get(fields.title)))


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed summaries), block elements kept as line breaks."""
    import lxml.html

    if "<" not in fragment:
        return fragment
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several types on broken markup; treat it as text
        return fragment
    for element in root.iter("p", "br", "li", "div", "h1", "h2", "h3", "h4", "tr"):
        element.tail = "\n" + (element.tail or "")
    return root.text_content().strip()


def _rss_records(data: bytes, name: str) -> Iterator[Record]:
    import feedparser

    feed = feedparser.parse(data)
    if feed.bozo and not feed.entries:
        # One unreadable feed in a folder of many is a record with an error, not a stopped run.
        yield Record(name, None, f"{name}: not a readable RSS/Atom feed ({feed.bozo_exception})")
        return
    for index, entry in enumerate(feed.entries, start=1):
        identifier = entry.get("id") or entry.get("link") or f"{name}:{index}"
        body = entry.get("content", [{}])[0].get("value") if entry.get("content") else entry.get("summary", "")
        text = html_to_text(body or "")
        if not text.strip() and not entry.get("title"):
            yield Record(identifier, None, f"{name}: entry {index} has neither title nor text")
            continue
        yield Record(identifier, text, title=text_or_none(html_to_text(entry.get("title", ""))))


def _html_record(data: bytes, name: str) -> Record:
    import trafilatura

    extracted = trafilatura.bare_extraction(data.decode("utf-8", errors="replace"), with_metadata=True)
    if extracted is None or not (extracted.text or "").strip():
        return Record(name, None, f"{name}: no main text found in the HTML page")
    return Record(name, extracted.text, title=text_or_none(extracted.title))


def _text_record(data: bytes, name: str) -> Record:
    try:
        return Record(name, data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Record(name, None, f"{name}: not valid UTF-8 ({exc.reason} at byte {exc.start})")


def _stream_records(stream: BinaryIO, name: str, fmt: str, fields: Fields) -> Iterator[Record]:
    if fmt == "jsonl":
        yield from _jsonl_records(stream, name, fields)
    elif fmt == "csv":
        yield from _csv_records(stream, name, fields, "\t" if name.endswith(".tsv") else ",")
    elif fmt == "rss":
        yield from _rss_records(stream.read(), name)
    elif fmt == "html":
        yield _html_record(stream.read(), name)
    else:
        yield _text_record(stream.read(), name)


def read_records(inputs: Iterable[str], fmt: str = "auto", fields: Fields | None = None) -> Iterator[Record]:
    """Records of every input in order: files, folders (their files, sorted), or `-` for stdin."""
    fields = fields or Fields()
    if fmt not in FORMATS:
        raise FeedError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    for spec in inputs:
        if spec == "-":
            raw = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(sys.stdin.read().encode())
            stream = io.BufferedReader(raw)  # peek() for format sniffing
            chosen = fmt if fmt != "auto" else sniff(stream.peek(512))
            yield from _stream_records(stream, "-", chosen, fields)
            continue
        path = Path(spec)
        if not path.exists():
            raise FeedError(f"input not found: {spec}")
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
        for file in files:
            with file.open("rb") as stream:
                chosen = fmt if fmt != "auto" else detect_format(file, stream.peek(512))
                yield from _stream_records(stream, str(file), chosen, fields)


def check_inputs(inputs: Iterable[str]) -> None:
    """Fail fast, before any output is written, on inputs that do not exist."""
    for spec in inputs:
        if spec != "-" and not Path(spec).exists():
            raise FeedError(f"input not found: {spec}")


def done_ids(path: Path) -> set[str]:
    """Ids already in an output file; a last line cut short by a crash is removed first."""
    if not path.exists():
        return set()
    with path.open("rb+") as handle:
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            handle.truncate(keep)
    ids = set()
    for line in data[:keep].splitlines():
        if line.strip():
            ids.add(json.loads(line)["id"])
    return ids


@dataclass
class Summary:
    read: int = 0
    tagged: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    labels: Counter = field(default_factory=Counter)

    def text(self) -> str:
        rate = self.tagged / self.seconds if self.seconds else 0.0
        lines = [
            f"records read: {self.read}; tagged: {self.tagged}; errors: {self.errors}; "
            f"skipped (already in output): {self.skipped}; {rate:.1f} articles/s"
        ]
        if self.labels:
            lines.append("articles per label: " + ", ".join(f"{k} {v}" for k, v in self.labels.most_common()))
        return "\n".join(lines)


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def tag_feed(
    tagger: Tagger,
    records: Iterable[Record],
    out: TextIO,
    batch_size: int = 64,
    skip_ids: set[str] | None = None,
    max_chars: int = 200_000,
    progress: bool = False,
) -> Summary:
    """Tag records batch by batch, writing and flushing each batch: memory stays flat, a crash loses one batch."""
    from tqdm import tqdm

    summary, skip_ids = Summary(), skip_ids or set()
    started = time.perf_counter()
    with tqdm(desc="tagging", unit=" articles", disable=not progress, file=sys.stderr) as bar:
        for batch in _batches(records, batch_size):
            summary.read += len(batch)
            todo = [r for r in batch if r.id not in skip_ids]
            summary.skipped += len(batch) - len(todo)
            lines = tag_records(tagger, todo, max_chars=max_chars)
            for line in lines:
                if line["error"]:
                    summary.errors += 1
                else:
                    summary.tagged += 1
                    summary.labels.update(line["pillars"] + line["sectors"])
            out.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
            out.flush()
            bar.update(len(batch))
    summary.seconds = time.perf_counter() - started
    return summary
