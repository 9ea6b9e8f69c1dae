"""The analyst report: tagged JSONL, streamed into bounded aggregates, out as one offline HTML file and CSVs."""

from __future__ import annotations

import csv
import heapq
import html
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alignclf.errors import AlignclfError

VIEWS = ("day", "week", "month")
LEVELS = ("pillars", "sectors")  # the two label lists of a tag output line
MAX_KEYS = 1000  # distinct countries, models or error kinds kept; the rest share one "(other)" row
MAX_LABELS = 200
MAX_FILL = 2000  # periods with no article are drawn as gaps only while the range stays this short
EXCERPT_CHARS = 3000  # article text kept around an evidence sentence
BOM = b"\xef\xbb\xbf"
OTHER = "(other)"


class ReportError(AlignclfError, ValueError):
    """A report input or output that cannot be used; nothing was written."""


@dataclass
class ReportSummary:
    """What `build_report` read and wrote, for the command line to print."""

    inputs: list[Path]
    lines: int
    articles: int
    tagged: int
    errors: int
    input_problems: int
    output: Path
    csv_files: list[Path] = field(default_factory=list)

    def text(self) -> str:
        read = f"read {self.lines} lines from {len(self.inputs)} file(s): {self.articles} articles"
        read += f" ({self.tagged} tagged, {self.errors} errors), {self.input_problems} malformed lines skipped"
        wrote = f"wrote {self.output}" + (f" and {len(self.csv_files)} CSV files" if self.csv_files else "")
        return f"{read}\n{wrote}"


def period_start(day: date, view: str) -> date:
    """The first day of the day, ISO week (Monday) or month that `day` falls in."""
    if view == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if view == "month" else day


def next_period(start: date, view: str) -> date:
    if view == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=7 if view == "week" else 1)


_WHERE = re.compile(r"^\S+?:\s+")  # "feed.jsonl:12: ", "art-3: "
_HEX = re.compile(r"\b(?=[0-9a-f-]*\d)(?=[0-9a-f-]*[a-f])[0-9a-f]{8,}(?:-[0-9a-f]{4,})*\b", re.IGNORECASE)  # digests, uuids
_PATH = re.compile(r"(?:[\w.~-]*/)+[\w.-]+|\b[\w-]+\.(?:jsonl|ndjson|json|csv|tsv|xml|rss|atom|html?|txt|md)\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def error_kind(message: str) -> str:
    """An error message with its location, ids, paths and numbers taken out, so alike errors group together.

    >>> error_kind("feeds/a.jsonl:12: malformed JSON (Expecting value; column 3)")
    'malformed JSON (Expecting value; column N)'
    >>> error_kind("text has 250001 characters, over the limit of 200000")
    'text has N characters, over the limit of N'
    """
    kind = _NUMBER.sub("N", _PATH.sub("<path>", _HEX.sub("<id>", _WHERE.sub("", message.strip(), count=1))))
    return " ".join(kind.split())[:200] or "(empty message)"


def parse_published(value: object) -> datetime | None:
    """An ISO 8601 `published` value as an aware UTC datetime; None when it is missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def line_problem(line: object) -> str | None:
    """Why a parsed line is not a tag output line, or None when it is."""
    if not isinstance(line, dict):
        return f"not a JSON object (a {type(line).__name__})"
    for name in (*LEVELS, "countries", "evidence"):
        value = line.get(name) or []
        item = str if name != "evidence" else dict
        if name in LEVELS and name not in line:
            return f"no '{name}' field: not tag output"
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            return f"field '{name}' is not a list of {'strings' if item is str else 'objects'}"
    scores = line.get("scores") or {}
    if not isinstance(scores, dict) or not all(_is_number(v) for v in scores.values()):
        return "field 'scores' is not an object of numbers"
    for name in ("error", "title", "url", "source", "published", "model"):
        if line.get(name) is not None and not isinstance(line[name], str):
            return f"field '{name}' is not a string"
    return None


def _spans(evidence: list[dict], label: str, field_name: str) -> list[tuple[int, int, str]]:
    out = []
    for item in evidence:
        carries = any(isinstance(item.get(level), list) and label in item[level] for level in LEVELS)
        if carries and item.get("field", "text") == field_name:
            out.append((item.get("start"), item.get("end"), item.get("text") if isinstance(item.get("text"), str) else ""))
    return out


def marked(text: str, spans: list[tuple[Any, Any, str]], limit: int = EXCERPT_CHARS) -> str:
    """`text` as escaped HTML with each evidence span in <mark>; a span whose offsets do not match is found by its text.

    >>> marked("Talks resume. Gas flows <east>.", [(14, 31, "Gas flows <east>.")])
    'Talks resume. <mark>Gas flows &lt;east&gt;.</mark>'
    """
    found = []
    for start, end, sentence in spans:
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            start, end = -1, -1
        if sentence and text[start:end] != sentence:
            start = text.find(sentence)
            end = start + len(sentence)
        if start >= 0 and end > start:
            found.append((start, end))
    found.sort()
    low = max(0, found[0][0] - 200) if found and len(text) > limit else 0
    high = min(len(text), low + limit)
    pieces, cursor = ["…" if low else ""], low
    for start, end in found:
        start, end = max(start, cursor), min(end, high)
        if start >= end:
            continue
        pieces += [html.escape(text[cursor:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        cursor = end
    pieces += [html.escape(text[cursor:high]), "…" if high < len(text) else ""]
    return "".join(pieces)


def link_html(url: object, text: str) -> str:
    """A link only for http(s) addresses: a `javascript:` url from a feed must not become clickable."""
    if isinstance(url, str) and re.match(r"^https?://", url, re.IGNORECASE):
        return f'<a href="{html.escape(url)}" rel="noopener noreferrer">{text}</a>'
    return text


def _meta(line: dict, moment: datetime | None) -> dict[str, Any]:
    title = line.get("title") or "(no title)"
    return {
        "id": str(line.get("id")),
        "title": title,
        "url": line.get("url"),
        "date": moment.date().isoformat() if moment else "undated",
        "source": line.get("source") or "",
    }


class Aggregator:
    """Counters, one bounded heap per label, a bounded reservoir and bounded examples: memory does not grow per line."""

    def __init__(self, evidence_per_label: int = 5, sample_size: int = 20, examples: int = 3, seed: int = 0):
        self.evidence_per_label, self.sample_size, self.examples = evidence_per_label, sample_size, examples
        self.random = random.Random(seed)
        self.lines = self.articles = self.tagged = self.with_tags = self.errors = self.warnings = self.undated = 0
        self.malformed = 0  # lines skipped: not JSON, not UTF-8, or not tag output
        self.labels: dict[str, str | None] = {}  # label -> level, in first-seen order (the taxonomy's order)
        self.label_articles: Counter = Counter()
        self.cooccurrence: Counter = Counter()  # (label, label) -> articles carrying both
        self.day_articles: Counter = Counter()
        self.day_labels: Counter = Counter()  # (day, label)
        self.country_articles: Counter = Counter()
        self.country_labels: Counter = Counter()  # (country, label)
        self.models: Counter = Counter()
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.heaps: dict[str, list] = {}  # label -> min-heap of (score, -order, item)
        self.untagged_seen = 0
        self.reservoir: list[dict[str, Any]] = []
        self.error_kinds: Counter = Counter()
        self.error_examples: dict[str, list[tuple[str, str]]] = {}
        self.problems: Counter = Counter()  # malformed input lines by reason
        self.problem_examples: dict[str, list[str]] = {}

    def read(self, path: Path) -> None:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                self.add_raw(raw, f"{path}:{number}")

    def add_raw(self, raw: bytes, where: str) -> None:
        raw = raw.removeprefix(BOM)
        if not raw.strip():
            return
        self.lines += 1
        try:
            line = json.loads(raw)
        except UnicodeDecodeError:
            return self.problem("not valid UTF-8", where)
        except ValueError as exc:
            return self.problem(
                f"malformed JSON ({exc.msg})" if isinstance(exc, json.JSONDecodeError) else "malformed JSON", where
            )
        reason = line_problem(line)
        if reason is not None:
            return self.problem(reason, where)
        self.add(line, where)

    def problem(self, reason: str, where: str, skipped: bool = True) -> None:
        self.malformed += skipped
        self.problems[reason] += 1
        examples = self.problem_examples.setdefault(reason, [])
        if len(examples) < self.examples:
            examples.append(where)

    def _key(self, counter: Counter, key: str) -> str:
        return key if key in counter or len(counter) < MAX_KEYS else OTHER

    def add(self, line: dict[str, Any], where: str = "") -> None:
        """One valid tag output line."""
        self.articles += 1
        self.warnings += bool(line.get("warning"))
        self.models[self._key(self.models, line.get("model") or "(none)")] += 1
        for label in line.get("scores") or {}:
            self._label(label, None)
        moment = parse_published(line.get("published"))
        if moment is None:
            self.undated += 1
            if line.get("published"):
                self.problem("field 'published' is not an ISO 8601 date (the article counts as undated)", where, skipped=False)
        else:
            self.first = min(self.first or moment, moment)
            self.last = max(self.last or moment, moment)
        if line.get("error"):
            self.errors += 1
            kind = self._key(self.error_kinds, error_kind(line["error"]))
            self.error_kinds[kind] += 1
            examples = self.error_examples.setdefault(kind, [])
            if len(examples) < self.examples:
                examples.append((str(line.get("id")), line["error"][:300]))
            return
        self.tagged += 1
        labels = [label for level in LEVELS for label in dict.fromkeys(line[level] or []) if self._label(label, level)]
        self.with_tags += bool(labels)
        self.label_articles.update(labels)
        self.cooccurrence.update((a, b) for a in labels for b in labels)
        if moment is not None:
            day = moment.date()
            self.day_articles[day] += 1
            self.day_labels.update((day, label) for label in labels)
        for country in dict.fromkeys(line.get("countries") or []):
            country = self._key(self.country_articles, country)
            self.country_articles[country] += 1
            self.country_labels.update((country, label) for label in labels)
        for label in labels:
            self._offer_evidence(label, line, moment)
        if not labels:
            self._offer_untagged(line, moment)

    def _label(self, label: str, level: str | None) -> bool:
        if label not in self.labels and len(self.labels) >= MAX_LABELS:
            return False
        if self.labels.get(label) is None:
            self.labels[label] = level
        return True

    def _offer_evidence(self, label: str, line: dict[str, Any], moment: datetime | None) -> None:
        score = (line.get("scores") or {}).get(label, 0.0)
        key = (score, -self.articles)  # ties: the earlier article ranks higher
        heap = self.heaps.setdefault(label, [])
        if len(heap) >= self.evidence_per_label and key <= heap[0][:2]:
            return  # the item is built only when it enters the heap
        evidence = line.get("evidence") or []
        title = line.get("title") or "(no title)"
        text = line.get("text")
        item = _meta(line, moment) | {"score": score, "title_html": marked(title, _spans(evidence, label, "title"))}
        if isinstance(text, str):
            item["body_html"] = marked(text, _spans(evidence, label, "text"))
        else:
            item["sentences"] = [html.escape(s) for _, _, s in _spans(evidence, label, "text") if s][:5]
        entry = (*key, item)
        if len(heap) < self.evidence_per_label:
            heapq.heappush(heap, entry)
        else:
            heapq.heapreplace(heap, entry)

    def _offer_untagged(self, line: dict[str, Any], moment: datetime | None) -> None:
        """Algorithm R: every untagged article has the same chance to be in the sample, for a fixed seed."""
        self.untagged_seen += 1
        slot = len(self.reservoir) if len(self.reservoir) < self.sample_size else self.random.randrange(self.untagged_seen)
        if slot >= self.sample_size:
            return
        text = line.get("text")
        item = _meta(line, moment) | {"excerpt": marked(text, [], 600) if isinstance(text, str) else ""}
        if slot == len(self.reservoir):
            self.reservoir.append(item)
        else:
            self.reservoir[slot] = item

    # Results, computed from the counters at the end.

    @property
    def assigned(self) -> list[str]:
        """Labels that at least one article carries, in first-seen (taxonomy) order."""
        return [label for label in self.labels if self.label_articles[label]]

    def series(self, view: str) -> tuple[list[date], list[int], dict[str, list[int]]]:
        """Periods of `view`, articles per period, and articles per label per period."""
        articles: Counter = Counter()
        for day, count in self.day_articles.items():
            articles[period_start(day, view)] += count
        per_label: Counter = Counter()
        for (day, label), count in self.day_labels.items():
            per_label[period_start(day, view), label] += count
        periods = sorted(articles)
        if periods:
            filled = [periods[0]]
            while filled[-1] < periods[-1] and len(filled) <= MAX_FILL:
                filled.append(next_period(filled[-1], view))
            periods = filled if filled[-1] == periods[-1] else periods
        return periods, [articles[p] for p in periods], {k: [per_label[p, k] for p in periods] for k in self.labels}

    def top_countries(self, top: int) -> list[str]:
        return [country for country, _ in sorted(self.country_articles.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]

    def evidence(self, label: str) -> list[dict[str, Any]]:
        return [item for *_, item in sorted(self.heaps.get(label, []), key=lambda entry: entry[:2], reverse=True)]

    def untagged_sample(self) -> list[dict[str, Any]]:
        return sorted(self.reservoir, key=lambda item: (item["date"], item["id"]))


def input_files(inputs: list[Path]) -> list[Path]:
    """Files as given, and the *.jsonl files of a folder, sorted; a missing input fails before anything is read."""
    files = []
    for path in map(Path, inputs):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.jsonl") if not any(part.startswith(".") for part in p.parts))
        elif path.is_file():
            files.append(path)
        else:
            raise ReportError(f"report input not found: {path}")
    if not files:
        raise ReportError(f"no tagged JSONL file in {', '.join(map(str, inputs)) or 'the inputs'}")
    return files


def build_report(
    inputs: list[Path], output: Path, by: str = "week", top_countries: int = 15, csv_dir: Path | None = None
) -> ReportSummary:
    """Read tagged JSONL files once, line by line, and write one self-contained HTML report (and CSVs to `csv_dir`).

    >>> import json, tempfile; from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp()); tagged = folder / "tags.jsonl"
    >>> _ = tagged.write_text(json.dumps({"id": "a", "pillars": [], "sectors": [], "error": None}) + "\\n{oops\\n")
    >>> summary = build_report([tagged], folder / "report.html")
    >>> summary.articles, summary.input_problems
    (1, 1)
    """
    if by not in VIEWS:
        raise ReportError(f"--by {by!r}: choose one of {', '.join(VIEWS)}")
    if top_countries < 1:
        raise ReportError(f"--top-countries {top_countries}: give at least 1")
    files, output = input_files(inputs), Path(output)
    if output.is_dir() or not output.parent.is_dir():
        raise ReportError(
            f"-o {output}: " + ("is a folder; give a file name" if output.is_dir() else "its folder does not exist")
        )
    aggregator = Aggregator()
    for path in files:
        try:
            aggregator.read(path)
        except OSError as exc:
            raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    from alignclf.report_page import render_page  # the page layer reads the aggregates, not the other way round

    page = render_page(aggregator, files, by, top_countries)
    partial = output.with_name(f".{output.name}.partial")  # a reader never sees half a report
    partial.write_text(page, encoding="utf-8")
    partial.replace(output)
    written = write_csvs(aggregator, Path(csv_dir)) if csv_dir is not None else []
    return ReportSummary(
        files, aggregator.lines, aggregator.articles, aggregator.tagged, aggregator.errors, aggregator.malformed, output, written
    )


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def headline(agg: Aggregator) -> list[tuple[str, str]]:
    """The report's top figures as (name, value) pairs: the same in the page and in summary.csv."""
    span = f"{agg.first.date()} – {agg.last.date()}" if agg.first and agg.last else "no dates"
    kinds = "; ".join(
        f"{count} × {kind if len(kind) < 50 else kind[:48] + '…'}" for kind, count in agg.error_kinds.most_common(3)
    )
    never = [label for label in agg.labels if not agg.label_articles[label]]
    return [
        ("articles", str(agg.articles)),
        ("tagged (no error)", str(agg.tagged)),
        ("with any tag", f"{percent(agg.with_tags, agg.tagged)} ({agg.with_tags} of {agg.tagged})"),
        ("errors", str(agg.errors)),
        ("errors by kind", (kinds + ("; …" if len(agg.error_kinds) > 3 else "")) or "none"),
        ("published", f"{span} ({agg.undated} undated)"),
        ("model", ", ".join(f"{model} ({count})" for model, count in agg.models.most_common()) or "–"),
        ("warnings", str(agg.warnings)),
        ("malformed lines skipped", str(agg.malformed)),
        ("labels never assigned", ", ".join(never) or "none"),
    ]


def _period_name(start: date, view: str) -> str:
    return start.strftime("%Y-%m") if view == "month" else start.isoformat()


def tables(agg: Aggregator) -> dict[str, list[list[Any]]]:
    """Every aggregate as rows (a header first), by CSV file name."""
    labels = list(agg.labels)
    out: dict[str, list[list[Any]]] = {"summary.csv": [["figure", "value"], *map(list, headline(agg))]}
    out["labels.csv"] = [["label", "level", "articles", "share_of_tagged"]] + [
        [k, agg.labels[k] or "", agg.label_articles[k], round(agg.label_articles[k] / agg.tagged, 6) if agg.tagged else ""]
        for k in labels
    ]
    for view in VIEWS:
        periods, articles, counts = agg.series(view)
        head = ["day" if view == "day" else f"{view}_starting", "articles", *labels]
        rows = [(_period_name(p, view), a, [counts[k][i] for k in labels]) for i, (p, a) in enumerate(zip(periods, articles))]
        out[f"counts_{view}.csv"] = [head] + [[p, a, *c] for p, a, c in rows]
        out[f"share_{view}.csv"] = [head] + [[p, a, *(round(n / a, 6) if a else "" for n in c)] for p, a, c in rows]
    out["countries_labels.csv"] = [["country", "articles", *labels]] + [
        [c, agg.country_articles[c], *(agg.country_labels[c, k] for k in labels)] for c in agg.top_countries(MAX_KEYS + 1)
    ]
    out["cooccurrence.csv"] = [["label", *labels]] + [[a, *(agg.cooccurrence[a, b] for b in labels)] for a in labels]
    out["errors_by_kind.csv"] = [["kind", "count", "example_ids", "example_message"]] + [
        [kind, count, " ".join(i for i, _ in agg.error_examples[kind]), agg.error_examples[kind][0][1]]
        for kind, count in agg.error_kinds.most_common()
    ]
    out["input_problems.csv"] = [["problem", "lines", "examples"]] + [
        [reason, count, " ".join(agg.problem_examples[reason])] for reason, count in agg.problems.most_common()
    ]
    return out


def write_csvs(agg: Aggregator, folder: Path) -> list[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"--csv {folder}: cannot create the folder ({exc.strerror or exc})") from None
    written = []
    for name, rows in tables(agg).items():
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        written.append(folder / name)
    return written
