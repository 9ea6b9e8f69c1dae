"""Text handling shared by training and tagging: normalising, sentences with offsets, countries."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import blingfire
import yaml

_BULLET = re.compile(r"^\s*(?:[-*•–—▪►]|\d{1,3}[.)]|\(\d{1,3}\)|[a-z][.)])\s+")
_TABLE_ROW = re.compile(r"^\s*\|")
_HAS_WORD = re.compile(r"\w", re.UNICODE)
_LINES = re.compile(r"[^\n]*\n?")
_ENDS_SENTENCE = re.compile(r"[.!?:;\"”’)\]。！？]\s*$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_WORD = re.compile(r"\w+")
_CLOSING = set("”’」』）》)]»")
# Russian abbreviations that never end a sentence; "г." ends one after a year ("в 2026 г.").
_NO_END = re.compile(
    r"(?:(?<![\d\s])\s*|(?<=\s))(?:(?<!\d\s)г|гг|ул|пр|пл|пер|просп|проф|акад|им|т\.е|т\.н|ст|обл|кв|р-н|тыс|млн|млрд"
    r"|руб|долл|янв|февр|апр|авг|сент|окт|нояб|дек|ген|г-н|г-жа|д-р|см|напр|зам|пос|с\.-х)\.\s*$",
    re.IGNORECASE,
)
_AFTER_ETC = re.compile(r"\bи\s(?:т\.\s?д|т\.\s?п|др)\.(?=\s+[А-ЯЁA-Z])")


@dataclass(frozen=True)
class Sentence:
    """A sentence and where it sits in the original text: `text == original[start:end]`."""

    start: int
    end: int
    text: str


def normalise(text: str) -> str:
    """The form a model sees: NFKC, no bullet marker or table pipes, single spaces.

    >>> normalise("- | Energy |  Oil\\nand gas |")
    'Energy Oil and gas'
    """
    if not text.isascii():  # NFKC leaves ASCII as it is
        text = unicodedata.normalize("NFKC", text)
    bullet = _BULLET.match(text)
    if bullet:
        text = text[bullet.end() :]
    # str.split() splits on exactly the characters `\s` matches, and drops them at both ends.
    return " ".join(text.replace("|", " ").split())


def _is_structural(line: str) -> bool:
    """Bullets, table rows and blank lines always stand alone."""
    return not line.strip() or bool(_BULLET.match(line)) or bool(_TABLE_ROW.match(line))


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    capitalised = sum(1 for word in words if word[:1].isupper())
    return len(words) <= 14 and capitalised >= max(1, len(words) // 2)


def _continues(line: str, following: str) -> bool:
    """Whether a hard-wrapped line runs on into the next one (newline inside a paragraph)."""
    if _is_structural(line) or _is_structural(following):
        return False
    if _ENDS_SENTENCE.search(line):
        return False
    head = following.lstrip()[:1]
    if head.islower() or head.isdigit():
        return True
    return line.rstrip().endswith((",", "-", "–")) or not _looks_like_heading(line)


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph-like spans: wrapped lines joined, headings/bullets/rows kept apart."""
    lines = [(m.start(), m.end()) for m in _LINES.finditer(text) if m.end() > m.start()]
    blocks: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for index, (start, end) in enumerate(lines):
        current = (start, end) if current is None else (current[0], end)
        following = text[lines[index + 1][0] : lines[index + 1][1]] if index + 1 < len(lines) else ""
        if not following or not _continues(text[start:end], following):
            blocks.append(current)
            current = None
    return blocks


def _spans(block: str) -> list[tuple[int, int]]:
    """blingfire's sentence boundaries as character offsets.

    Its own offset call converts byte offsets in a Python loop; finding each sentence in the
    block is many times faster, and its offsets are the fallback when a sentence is not found
    as written.
    """
    spans, cursor = [], 0
    for sentence in blingfire.text_to_sentences(block).split("\n"):
        if not sentence:
            continue
        start = block.find(sentence, cursor)
        if start < 0:
            return blingfire.text_to_sentences_and_offsets(block)[1]
        spans.append((start, start + len(sentence)))
        cursor = start + len(sentence)
    return spans


def _repair(block: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Fix blingfire's boundaries for Russian and Chinese news.

    A closing quote after 。 belongs to its sentence ("“……。”他说。" is one); Russian abbreviations
    that never end a sentence (г. Алматы, т.е., проф.) do not cut one; "и т.д." followed by a
    capital does.
    """
    spans: list[list[int]] = []
    russian = _CYRILLIC.search(block) is not None  # the abbreviation rules are all Cyrillic
    for start, end in offsets:
        for cut in _AFTER_ETC.finditer(block, start, end) if russian else ():
            spans.append([start, cut.end()])
            start = cut.end()
        piece = block[start:end].lstrip()
        if spans and (
            piece[:1] in _CLOSING or (russian and _NO_END.search(block, max(spans[-1][0], spans[-1][1] - 16), spans[-1][1]))
        ):
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [(start, end) for start, end in spans]


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of an article with character offsets into it.

    Line structure (headings, bullets, table rows, wrapped lines) is read here; the
    sentence boundaries inside a paragraph come from blingfire, which knows
    abbreviations such as "U.S." and "Dec.", repaired for Russian and Chinese.

    >>> [s.text for s in split_sentences("Trade Grows\\nExports rose. Imports fell.")]
    ['Trade Grows', 'Exports rose.', 'Imports fell.']
    >>> [s.text for s in split_sentences("Встреча прошла в г. Алматы. «Мы довольны», — сказал он.")]
    ['Встреча прошла в г. Алматы.', '«Мы довольны», — сказал он.']
    >>> [s.text for s in split_sentences("“我们很高兴。”他说。双方签署了协议。")]
    ['“我们很高兴。”他说。', '双方签署了协议。']
    """
    sentences: list[Sentence] = []
    for block_start, block_end in _blocks(text):
        block = text[block_start:block_end]
        if not _HAS_WORD.search(block):
            continue
        for start, end in _repair(block, _spans(block)):
            start, end = block_start + start, block_start + end
            piece = text[start:end]
            marker = _BULLET.match(piece)
            if marker:
                start += marker.end()
            while end > start and text[end - 1].isspace():
                end -= 1
            while start < end and text[start].isspace():
                start += 1
            if _HAS_WORD.search(text[start:end]):
                sentences.append(Sentence(start, end, text[start:end]))
    return sentences


def leading_heading(text: str) -> Sentence | None:
    """The text's first line when it is a headline standing above the body, else None.

    >>> leading_heading("Gas Deal Signed\\n\\nKazakhstan raised exports.").text
    'Gas Deal Signed'
    >>> leading_heading("Kazakhstan raised exports. Talks resume.") is None
    True
    """
    blocks = _blocks(text)
    if len(blocks) < 2:
        return None
    start, end = blocks[0]
    line = text[start:end].strip()
    if "\n" in line or not _HAS_WORD.search(line) or _ENDS_SENTENCE.search(line) or _is_structural(text[start:end]):
        return None
    first = split_sentences(text[start:end])
    if len(first) != 1:
        return None
    return Sentence(start + first[0].start, start + first[0].end, first[0].text)


class Gazetteer:
    """Countries named in a text, by whole-word match of names, adjectives and cities.

    A text is read once, word by word, with a dictionary lookup per word (and per prefix length
    of the `Name*` entries), so the cost does not grow with the number of entries.

    >>> g = Gazetteer({"China": ["China", "Beijing"]})
    >>> g.find("Beijing and Chinatown"), g.find("Chinatown")
    (['China'], [])
    """

    def __init__(self, entries: dict[str, list[str]]):
        self.entries = {country: list(aliases) for country, aliases in entries.items()}
        self._countries = list(self.entries)
        # first word (lower case) -> (all words, exact words when case-sensitive, last word a prefix, country)
        self._phrases: dict[str, list[tuple[tuple[str, ...], tuple[str, ...] | None, bool, int]]] = {}
        self._prefix_lengths: dict[str, set[int]] = {}  # first letter -> lengths of the `Name*` stems
        cjk: dict[str, int] = {}
        for index, aliases in enumerate(self.entries.values()):
            for alias in aliases:
                stem = alias.removesuffix("*")
                if _CJK.search(stem):
                    cjk.setdefault(stem, index)
                    continue
                words = tuple(_WORD.findall(stem))
                if not words:
                    continue
                prefix = alias.endswith("*")
                # Short names (PRC, Osh) are case-sensitive so ordinary words do not match.
                exact = words if len(stem) <= 3 else None
                lowered = tuple(w.lower() for w in words)
                key = lowered[0]
                if prefix and len(words) == 1:
                    self._prefix_lengths.setdefault(key[0], set()).add(len(key))
                self._phrases.setdefault(key, []).append((lowered, exact, prefix, index))
        # Chinese names match inside running text: it has no spaces, so no word boundaries.
        ordered = sorted(cjk, key=len, reverse=True)
        self._cjk = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._cjk_country = cjk

    def _matches(self, words: list[str], lowered: list[str], at: int, candidate) -> bool:
        phrase, exact, prefix, _ = candidate
        end = at + len(phrase)
        if end > len(words):
            return False
        for offset in range(len(phrase)):
            last = offset == len(phrase) - 1
            got = (words if exact else lowered)[at + offset]
            want = (exact or phrase)[offset]
            if not (got.startswith(want) if prefix and last else got == want):
                return False
        return True

    def find(self, text: str) -> list[str]:
        """Countries in gazetteer order, each once."""
        found: set[int] = set()
        words = _WORD.findall(text)
        lowered = [w.lower() for w in words]
        phrases, prefixes = self._phrases, self._prefix_lengths
        # Entries each distinct word can start: by itself, and by its stems as long as a `Name*` entry of its
        # first letter. The stems are all non-ASCII, so an ASCII text needs only the set intersection.
        distinct = set(lowered)
        starts = {word: [word] for word in distinct.intersection(phrases)}
        if prefixes and not text.isascii():
            for word in distinct:
                for n in prefixes.get(word[0], ()):
                    if n < len(word) and word[:n] in phrases:
                        starts.setdefault(word, []).append(word[:n])
        for at, word in enumerate(lowered) if starts else ():
            for key in starts.get(word, ()):
                for candidate in phrases[key]:
                    if candidate[3] not in found and self._matches(words, lowered, at, candidate):
                        found.add(candidate[3])
        if self._cjk is not None and _CJK.search(text):
            found.update(self._cjk_country[m.group()] for m in self._cjk.finditer(text))
        return [self._countries[i] for i in sorted(found)]

    @classmethod
    def from_yaml(cls, path: str | Path) -> Gazetteer:
        tree = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(tree, dict) or not all(
            isinstance(aliases, list) and aliases and all(isinstance(a, str) and a.strip() for a in aliases)
            for aliases in tree.values()
        ):
            raise ValueError(f"{path}: expected a mapping of country to a non-empty list of names")
        return cls(tree)
