"""Labelled articles: one article a line, its title and every sentence labelled in the article's context."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignclf.context import Unit, units
from alignclf.data import check_labels, check_strings, json_lines, ordered, read_checked, read_checked_dir
from alignclf.taxonomy import LEVELS, Taxonomy

TITLE_FIELDS = {"pillars": "title_pillars", "sectors": "title_sectors"}


@dataclass(frozen=True)
class Labelled:
    """A title or sentence of an article with its labels."""

    text: str
    pillars: tuple[str, ...]
    sectors: tuple[str, ...]

    def labels(self, level: str) -> tuple[str, ...]:
        return self.pillars if level == "pillars" else self.sectors


@dataclass(frozen=True)
class Article:
    """A labelled article. Its labels are the union of its title's and its sentences' (guide rule 4)."""

    id: str
    title: Labelled
    sentences: tuple[Labelled, ...]
    source: str
    where: str = field(default="", compare=False)
    lang: str = "en"
    orig: str | None = None

    @property
    def group(self) -> str:
        return self.orig or self.id

    @property
    def parts(self) -> tuple[Labelled, ...]:
        """Title, then sentences: the order the Tagger scores them in."""
        return (self.title, *self.sentences)

    def labels(self, level: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(label for part in self.parts for label in part.labels(level)))

    @property
    def pillars(self) -> tuple[str, ...]:
        return self.labels("pillars")

    @property
    def sectors(self) -> tuple[str, ...]:
        return self.labels("sectors")

    @property
    def text(self) -> str:
        """The article body as a feed would carry it."""
        return " ".join(s.text for s in self.sentences)

    def units(self, design: str) -> list[Unit]:
        """Title and sentences as the models score them, each with its context."""
        return units([p.text for p in self.parts], self.title.text, design, title_count=1)


def _check_article(record: Any, where: str, taxonomy: Taxonomy) -> tuple[Article | None, list[str]]:
    if not isinstance(record, dict):
        return None, [f"{where}: expected a JSON object, got {type(record).__name__}"]
    problems = check_strings(record, where, ("id", "title", "source"), optional=("lang", "orig"))
    problems += check_labels(record, where, taxonomy, TITLE_FIELDS)
    sentences = record.get("sentences")
    if "sentences" not in record:
        problems.append(f"{where}: field 'sentences' is missing")
    elif not isinstance(sentences, list) or not sentences:
        problems.append(f"{where}: field 'sentences' must be a non-empty list")
    else:
        for index, item in enumerate(sentences):
            inner = f"{where}: sentences[{index}]"
            if not isinstance(item, dict):
                problems.append(f"{inner}: expected an object with text, pillars and sectors")
                continue
            problems += check_strings(item, inner, ("text",))
            problems += check_labels(item, inner, taxonomy, {level: level for level in LEVELS})
    if problems:
        return None, problems
    title = Labelled(record["title"], ordered(record["title_pillars"], taxonomy), ordered(record["title_sectors"], taxonomy))
    body = tuple(
        Labelled(s["text"], ordered(s["pillars"], taxonomy), ordered(s["sectors"], taxonomy)) for s in record["sentences"]
    )
    return Article(record["id"], title, body, record["source"], where, record.get("lang", "en"), record.get("orig")), []


def read_articles(path: str | Path, taxonomy: Taxonomy) -> list[Article]:
    """Every article of one JSONL file, or a LabelledDataError naming each bad line and field."""
    return read_checked(path, lambda record, where: _check_article(record, where, taxonomy))


def read_articles_dir(directory: str | Path, taxonomy: Taxonomy) -> list[Article]:
    """All `*.jsonl` files of a folder, in name order (none at all is an empty corpus); ids unique across files."""
    return read_checked_dir(directory, lambda path: read_articles(path, taxonomy), required=False)


def is_article_file(path: str | Path) -> bool:
    """Whether a labelled file holds articles (a `sentences` list) rather than sentences: its first record decides."""
    for _, record, _ in json_lines(Path(path)):
        return isinstance(record, dict) and "sentences" in record
    return False


def article_rows(articles: Iterable[Article]) -> list[dict[str, Any]]:
    """Articles as plain rows (the processed dataset and parquet): label names, nested sentences."""
    return [
        {
            "id": a.id,
            "title": a.title.text,
            "title_pillars": list(a.title.pillars),
            "title_sectors": list(a.title.sectors),
            "sentences": [{"text": s.text, "pillars": list(s.pillars), "sectors": list(s.sectors)} for s in a.sentences],
            "source": a.source,
            "lang": a.lang,
            "pillars": list(a.pillars),
            "sectors": list(a.sectors),
        }
        for a in articles
    ]


def from_row(row: dict[str, Any]) -> Article:
    """An article back from its processed row."""
    title = Labelled(row["title"], tuple(row["title_pillars"]), tuple(row["title_sectors"]))
    body = tuple(Labelled(s["text"], tuple(s["pillars"]), tuple(s["sectors"])) for s in row["sentences"])
    return Article(row["id"], title, body, row["source"], lang=row.get("lang", "en"))
