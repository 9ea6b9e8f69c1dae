"""Sentence splitters on news text: exact sentences recovered on hand-checked cases, and speed.

    python benchmarks/splitter.py

Compares pysbd and blingfire as they come with alignclf's splitter (line structure
read first, blingfire inside paragraphs). Correctness counts expected sentences that
a splitter returns exactly (after trimming whitespace and bullet markers).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "data" / "seed" / "000_995e68c812e6e5ae.txt").read_text()

CASES = [
    (
        "Trade Ministers Meet In Astana\nThe U.S. envoy arrived on Dec. 5 in Tashkent. Talks began at 9 a.m. sharp.",
        ["Trade Ministers Meet In Astana", "The U.S. envoy arrived on Dec. 5 in Tashkent.", "Talks began at 9 a.m. sharp."],
    ),
    (
        "Key points:\n- Energy: a new gas pipeline\n- Grain exports to rise\n* Customs posts to merge",
        ["Key points:", "Energy: a new gas pipeline", "Grain exports to rise", "Customs posts to merge"],
    ),
    (
        "| Sector | Goal |\n|---|---|\n| Cyber | Joint defence |\n| Energy | New grid link |",
        ["| Sector | Goal |", "| Cyber | Joint defence |", "| Energy | New grid link |"],
    ),
    (
        '"We will expand rail links," said Mr. Karimov. "The corridor opens in May."',
        ['"We will expand rail links," said Mr. Karimov.', '"The corridor opens in May."'],
    ),
    (
        "The minister said the corridor would\ncut transit times by half. Freight rose 12 pct.\nOfficials\nwelcomed the news.",
        [
            "The minister said the corridor would\ncut transit times by half.",
            "Freight rose 12 pct.",
            "Officials\nwelcomed the news.",
        ],
    ),
    (
        "Border Security Tightened\n\nGuards seized 40 kg of heroin, the agency said on Jan. 3. Two couriers were held.",
        ["Border Security Tightened", "Guards seized 40 kg of heroin, the agency said on Jan. 3.", "Two couriers were held."],
    ),
]

_BULLET = re.compile(r"^\s*[-*•]\s+")


def clean(text: str) -> str:
    return _BULLET.sub("", text.strip()).strip()


def pysbd_splitter():
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return lambda text: [clean(span.sent) for span in segmenter.segment(text)]


def blingfire_splitter():
    import blingfire

    return lambda text: [clean(text[a:b]) for a, b in blingfire.text_to_sentences_and_offsets(text)[1]]


def alignclf_splitter():
    from alignclf.text import split_sentences

    return lambda text: [s.text for s in split_sentences(text)]


def main() -> None:
    splitters = {
        "pysbd 0.3": pysbd_splitter(),
        "blingfire": blingfire_splitter(),
        "alignclf (lines + blingfire)": alignclf_splitter(),
    }
    expected = sum(len(sentences) for _, sentences in CASES)
    rows = []
    for name, split in splitters.items():
        found = sum(sum(sentence in split(text) for sentence in sentences) for text, sentences in CASES)
        text = SEED * 20
        started = time.perf_counter()
        split(text)
        seconds = time.perf_counter() - started
        rows.append((name, found, len(split(SEED)), len(text) / seconds / 1000))
    lines = [
        "# Sentence splitting",
        "",
        f"`python benchmarks/splitter.py`: {expected} hand-checked sentences in {len(CASES)} snippets; "
        "speed on the seed document repeated 20 times.",
        "",
        "| splitter | exact sentences | sentences in seed | speed (k chars/s) |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {found}/{expected} | {seed_count} | {speed:.0f} |" for name, found, seed_count, speed in rows),
    ]
    out = Path(__file__).parent / "results" / "splitter.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
