"""News feeds in (JSONL, CSV/TSV, RSS/Atom, HTML, text, stdin): records with their metadata, every input accounted for."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from alignclf.errors import AlignclfError
from alignclf.records import Record, record_id, text_or_none

FORMATS = ("auto", "jsonl", "csv", "rss", "html", "txt")
_SUFFIXES = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv", ".tsv": "csv", ".tab": "csv",
    ".xml": "rss", ".rss": "rss", ".atom": "rss",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".txt": "txt", ".text": "txt", ".md": "txt",
}  # fmt: skip
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
BOM = b"\xef\xbb\xbf"
HEAD = 64 * 1024  # bytes read ahead to tell formats and CSV dialects apart


class FeedError(AlignclfError, ValueError):
    """A usage problem with an input (missing file, unknown format): nothing was tagged from it."""


@dataclass
class Fields:
    """Which fields of a JSONL or CSV record hold the text, id and metadata, and which others to keep."""

    text: str = "text"
    id: str = "id"
    title: str = "title"
    url: str = "url"
    date: str = "published"
    keep: tuple[str, ...] = field(default_factory=tuple)


def hidden(path: Path, root: Path) -> bool:
    """Names starting with `.` or `_` (a `.git/` folder, Spark's `_SUCCESS`) are skipped at every depth."""
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def sniff(head: bytes) -> str:
    """Format from the first bytes of a file or stream: JSON lines, XML feed, HTML, delimited text, or plain text."""
    start = head.removeprefix(BOM).lstrip()[:512].lower()
    if start.startswith(b"{"):
        return "jsonl"
    if start.startswith(b"<"):
        return "rss" if (b"<rss" in start or b"<feed" in start or b"<rdf" in start) else "html"
    return "csv" if csv_dialect(head) is not None else "txt"


def csv_dialect(head: bytes) -> type[csv.Dialect] | None:
    """The delimiter of delimited text (comma, tab, semicolon, pipe), or None when the head is not a table."""
    text = head.removeprefix(BOM).decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()][:20]
    if len(lines) < 2:
        return None
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|")
    except csv.Error:
        return None
    widths = {len(row) for row in csv.reader(lines[:-1], dialect)}  # the last line may be cut short
    return dialect if len(widths) == 1 and widths.pop() > 1 else None


def detect_format(path: Path, head: bytes) -> str:
    return _SUFFIXES.get(path.suffix.lower()) or sniff(head)


def iso_date(value: Any) -> str | None:
    """ISO 8601 in UTC from a date string, epoch seconds or a struct_time; None when it cannot be read."""
    import time

    from dateutil import parser

    try:
        if isinstance(value, time.struct_time):
            moment = datetime(*value[:6], tzinfo=UTC)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and value.strip():
            moment = parser.parse(value)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _metadata(item: dict[str, Any], fields: Fields, source: str, where: str) -> dict[str, Any]:
    """Title, url, date, source and kept fields of a JSONL or CSV record; a bad date is a warning, not an error."""
    raw_date = item.get(fields.date)
    published = iso_date(raw_date)
    warnings = ()
    if published is None and raw_date not in (None, ""):
        warnings = (f"{where}: field '{fields.date}' is not a date: {str(raw_date)[:60]!r}",)
    return {
        "title": text_or_none(item.get(fields.title)),
        "url": text_or_none(item.get(fields.url)),
        "published": published,
        "source": source,
        "keep": {name: item.get(name) for name in fields.keep},
        "warnings": warnings,
    }


def parse_jsonl_line(raw: bytes, fallback: str, fields: Fields, source: str = "") -> Record | None:
    """One JSONL line as a record (None for a blank line); `fallback` is its `<file>:<line>` id."""
    raw = raw.removeprefix(BOM)  # an exporter's byte-order mark
    if not raw.strip():
        return None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(fallback, None, f"{fallback}: not valid UTF-8 ({exc.reason} at byte {exc.start})", source=source)
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return Record(fallback, None, f"{fallback}: malformed JSON ({exc.msg}; column {exc.colno})", source=source)
    if not isinstance(item, dict):
        return Record(fallback, None, f"{fallback}: expected a JSON object, got {type(item).__name__}", source=source)
    identifier = record_id(item.get(fields.id), fallback)
    metadata = _metadata(item, fields, source, fallback)
    text = item.get(fields.text)
    if not isinstance(text, str):
        problem = "is missing" if fields.text not in item else f"is {type(text).__name__}, not a string"
        return Record(identifier, None, f"{fallback}: field '{fields.text}' {problem}", **metadata)
    return Record(identifier, text, **metadata)


def _jsonl_records(stream: BinaryIO, name: str, fields: Fields) -> Iterator[Record]:
    source = Path(name).name if name != "-" else "stdin"
    for number, raw in enumerate(stream, start=1):
        record = parse_jsonl_line(raw, f"{name}:{number}", fields, source)
        if record is not None:
            yield record


def _csv_records(stream: BinaryIO, name: str, fields: Fields, max_chars: int) -> Iterator[Record]:
    source = Path(name).name if name != "-" else "stdin"
    head = stream.peek(HEAD)[:HEAD] if hasattr(stream, "peek") else b""
    suffix = Path(name).suffix.lower()
    dialect = csv_dialect(head) or ("excel-tab" if suffix in (".tsv", ".tab") else "excel")
    # The csv module refuses fields over its limit; the limit follows --max-chars, longer fields become error records.
    csv.field_size_limit(max(csv.field_size_limit(), max_chars + 1))
    text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(text_stream, dialect=dialect)
    try:
        columns = reader.fieldnames
    except csv.Error as exc:
        yield Record(name, None, f"{name}: not readable as CSV ({exc})", source=source)
        return
    if columns is None or fields.text not in columns:
        # Like an unreadable feed: the file is accounted for by one error record and the run goes on.
        yield Record(
            name, None, f"{name}: CSV has no '{fields.text}' column (columns: {columns}); use --text-field", source=source
        )
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            where = f"{name}:{reader.line_num}"
            yield Record(where, None, f"{where}: {exc} (a field over --max-chars {max_chars})", source=source)
            continue
        where = f"{name}:{reader.line_num}"
        raw_id = row.get(fields.id)
        identifier = record_id(None if raw_id and _UNDECODED.search(raw_id) else raw_id, where)
        text = row.get(fields.text)
        metadata = _metadata(row, fields, source, where)
        if None in row:
            yield Record(identifier, None, f"{where}: row has more fields than the header", **metadata)
        elif text is None:
            yield Record(identifier, None, f"{where}: field '{fields.text}' is missing (row too short)", **metadata)
        elif _UNDECODED.search(text + (row.get(fields.title) or "")):
            yield Record(identifier, None, f"{where}: field '{fields.text}' is not valid UTF-8", **metadata)
        else:
            yield Record(identifier, text, **metadata)


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


def _rss_records(data: bytes, name: str, fields: Fields) -> Iterator[Record]:
    import feedparser

    feed = feedparser.parse(data)
    source = text_or_none(feed.feed.get("title")) or (Path(name).name if name != "-" else "stdin")
    if not feed.entries and (feed.bozo or not feed.get("version")):
        # One unreadable feed in a folder of many is a record with an error, not a stopped run.
        why = feed.get("bozo_exception") or "no RSS or Atom element found"
        yield Record(name, None, f"{name}: not a readable RSS/Atom feed ({why})", source=source)
        return
    for index, entry in enumerate(feed.entries, start=1):
        link = text_or_none(entry.get("link"))
        identifier = entry.get("id") or link or f"{name}:{index}"
        body = entry.get("content", [{}])[0].get("value") if entry.get("content") else entry.get("summary", "")
        text = html_to_text(body or "")
        published = iso_date(entry.get("published_parsed") or entry.get("updated_parsed"))
        guid = entry.get("id") or ""
        metadata = {
            "title": text_or_none(html_to_text(entry.get("title", ""))),
            "url": link or (guid if guid.startswith(("http://", "https://")) else None),
            "published": published,
            "source": source,
            "keep": {key: entry.get(key) for key in fields.keep},
        }
        if not text.strip() and not metadata["title"]:
            yield Record(identifier, None, f"{name}: entry {index} has neither title nor text", **metadata)
            continue
        yield Record(identifier, text, **metadata)
    if feed.bozo and not isinstance(feed.bozo_exception, feedparser.CharacterEncodingOverride):
        exception = feed.bozo_exception
        line = getattr(exception, "getLineNumber", lambda: None)()
        at = f" at line {line}" if line else ""
        message = f"{name}: the feed is damaged{at} ({exception}); the {len(feed.entries)} entries before it were read"
        yield Record(f"{name}:damaged", None, message, source=source)


def decode_html(data: bytes) -> str:
    """The page's text in its own charset: a BOM, then a declared `<meta charset>`, then charset detection."""
    if data.startswith(BOM):
        return data[3:].decode("utf-8", errors="replace")
    declared = _META_CHARSET.search(data[:HEAD])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: fall back to detection
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("utf-8", errors="replace")


def _html_record(data: bytes, name: str) -> Record:
    import trafilatura

    source = Path(name).name if name != "-" else "stdin"
    extracted = trafilatura.bare_extraction(decode_html(data), with_metadata=True)
    if extracted is None or not (extracted.text or "").strip():
        return Record(name, None, f"{name}: no main text found in the HTML page", source=source)
    title, text = text_or_none(extracted.title), extracted.text
    lines = text.split("\n", 1)
    if title and lines[0].strip() == title.strip():  # the page's <h1> repeats its <title>
        text = lines[1].lstrip("\n") if len(lines) > 1 else ""
    url = text_or_none(getattr(extracted, "url", None))
    return Record(name, text, title=title, url=url, published=iso_date(getattr(extracted, "date", None)), source=source)


def _text_record(data: bytes, name: str) -> Record:
    source = Path(name).name if name != "-" else "stdin"
    try:
        return Record(name, data.removeprefix(BOM).decode("utf-8"), source=source)
    except UnicodeDecodeError as exc:
        return Record(name, None, f"{name}: not valid UTF-8 ({exc.reason} at byte {exc.start})", source=source)


def stream_records(stream: BinaryIO, name: str, fmt: str, fields: Fields, max_chars: int) -> Iterator[Record]:
    if fmt == "jsonl":
        yield from _jsonl_records(stream, name, fields)
    elif fmt == "csv":
        yield from _csv_records(stream, name, fields, max_chars)
    elif fmt == "rss":
        yield from _rss_records(stream.read(), name, fields)
    elif fmt == "html":
        yield _html_record(stream.read(), name)
    else:
        yield _text_record(stream.read(), name)


def input_files(spec: str, exclude: Iterable[Path] = ()) -> list[Path]:
    """The files one input names: itself, or a folder's files sorted, without hidden ones or `exclude`."""
    path = Path(spec)
    if not path.exists():
        raise FeedError(f"input not found: {spec}")
    if not path.is_dir():
        return [path]
    excluded = {p.resolve() for p in exclude}
    files = (p for p in sorted(path.rglob("*")) if p.is_file() and not hidden(p, path))
    return [p for p in files if p.resolve() not in excluded]


def read_records(
    inputs: Iterable[str],
    fmt: str = "auto",
    fields: Fields | None = None,
    max_chars: int = 200_000,
    exclude: Iterable[Path] = (),
) -> Iterator[Record]:
    """Records of every input in order: files, folders (their files, sorted), or `-` for stdin.

    `exclude` names files never read back as input, such as the output and its lock.
    """
    fields = fields or Fields()
    exclude = list(exclude)
    if fmt not in FORMATS:
        raise FeedError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    for spec in inputs:
        if spec == "-":
            raw = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(sys.stdin.read().encode())
            stream = io.BufferedReader(raw, buffer_size=HEAD)  # peek() for format sniffing
            chosen = fmt if fmt != "auto" else sniff(stream.peek(HEAD)[:HEAD])
            yield from stream_records(stream, "-", chosen, fields, max_chars)
            continue
        for file in input_files(spec, exclude):
            with file.open("rb", buffering=HEAD) as stream:
                chosen = fmt if fmt != "auto" else detect_format(file, stream.peek(HEAD)[:HEAD])
                yield from stream_records(stream, str(file), chosen, fields, max_chars)


def check_inputs(inputs: Iterable[str]) -> None:
    """Fail fast, before any output is written, on inputs that do not exist."""
    for spec in inputs:
        if spec != "-" and not Path(spec).exists():
            raise FeedError(f"input not found: {spec}")
