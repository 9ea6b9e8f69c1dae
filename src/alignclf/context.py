"""What a sentence is scored with: its article's title and its neighbours. One place for every model kind.

Guide rule 14 labels a sentence in the context of its article, so models score `Unit`s: a
sentence plus the context it is read in. A bare sentence is a unit with no context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alignclf.text import Sentence, leading_heading, split_sentences

DESIGNS = ("none", "title", "window")
SEPARATOR = " … "


@dataclass(frozen=True)
class Unit:
    """One sentence as a model scores it, with the article context it is read in ("" for none)."""

    text: str
    context: str = ""


@dataclass(frozen=True)
class Piece:
    """A sentence of a document and where it sits: `field` ("title" or "text") and offsets into that field."""

    field: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Document:
    """What the caller gave: a text and, optionally, its title."""

    text: str
    title: str | None = None


def pieces(document: Document) -> tuple[list[Piece], str]:
    """The document's sentences (title first) and the title its sentences are read with.

    Without a title, a heading on the text's first line serves as one (an HTML page or a
    text file usually starts with its headline).

    >>> found, title = pieces(Document("Gas Deal Signed\\nExports rose. Imports fell."))
    >>> title, [p.text for p in found]
    ('Gas Deal Signed', ['Gas Deal Signed', 'Exports rose.', 'Imports fell.'])
    """
    title_sentences: list[Sentence] = split_sentences(document.title) if document.title else []
    found = [Piece("title", s.start, s.end, s.text) for s in title_sentences]
    found += [Piece("text", s.start, s.end, s.text) for s in split_sentences(document.text)]
    if title_sentences:
        title = " ".join(s.text for s in title_sentences)
    else:
        heading = leading_heading(document.text)
        title = heading.text if heading else ""
    return found, title


def units(sentences: Sequence[str], title: str, design: str, title_count: int = 0) -> list[Unit]:
    """Units for an article's sentences in order; the first `title_count` of them are its title.

    - `none`: every sentence alone (the design before context).
    - `title`: each body sentence with the title; the title itself alone.
    - `window`: each sentence with the title and its neighbours in the body.

    A text whose first sentence is the heading that serves as `title` counts that heading as the title.

    >>> [u.context for u in units(["Talks", "Gas flows.", "Rain fell."], "Talks", "title", title_count=1)]
    ['', 'Talks', 'Talks']
    >>> units(["Talks", "Gas flows.", "Rain fell."], "Talks", "window", title_count=1)[1].context
    'Talks … Rain fell.'
    """
    if design not in DESIGNS:
        raise ValueError(f"unknown context design {design!r} (known: {', '.join(DESIGNS)})")
    if not title_count and title and sentences and sentences[0] == title:
        title_count = 1
    out = []
    for index, text in enumerate(sentences):
        own_title = "" if index < title_count else title
        if design == "none":
            context = ""
        elif design == "title":
            context = own_title
        else:
            before = sentences[index - 1] if index - 1 >= title_count else ""
            after = sentences[index + 1] if index + 1 < len(sentences) else ""
            context = SEPARATOR.join(part for part in (own_title, before, after) if part)
        out.append(Unit(text, context))
    return out
