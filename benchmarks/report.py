"""Time and peak memory of `build_report` on a generated tagged file: 10,000 and 100,000 lines, each in its own process.

python benchmarks/report.py [--lines 10000 100000] [--out benchmarks/results/report.md]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LEVELS = ("pillars", "sectors")


def write_tagged(path: Path, count: int, seed: int = 0) -> None:
    """Tag output lines as `alignclf tag --keep text` writes them, from the labelled sentences (their labels as the tags).

    Articles of 3-5 sentences, published over 90 days, countries from the gazetteer's names, a score for every label,
    one evidence item per labelled sentence; about 1% error records and 0.1% malformed lines.
    """
    rng = random.Random(seed)
    sentences = []
    for file in sorted((ROOT / "data" / "labelled").glob("*.jsonl")):
        sentences += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    taxonomy = yaml.safe_load((ROOT / "configs" / "taxonomy.yaml").read_text())
    names = [label["name"] for level in LEVELS for label in taxonomy[level]]
    countries = list(yaml.safe_load((ROOT / "configs" / "countries.yaml").read_text()))
    start = datetime(2026, 1, 5, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            if rng.random() < 0.001:
                handle.write(f'{{"id": "cut-{n}", "title": "A line cut short\n')
                continue
            published = (start + timedelta(minutes=rng.randrange(90 * 24 * 60))).isoformat().replace("+00:00", "Z")
            line = {
                "id": f"article-{n}",
                "title": f"Article {n}",
                "url": f"https://news.example.org/{n}",
                "published": published,
                "source": f"wire-{n % 4}.jsonl",
                "model": "tfidf",
                "warning": None,
                "error": None,
            }
            if rng.random() < 0.01:
                kinds = ["field 'text' is missing", f"malformed JSON (Expecting value at column {rng.randrange(90)})"]
                kind = rng.choice(kinds)
                line |= {"pillars": [], "sectors": [], "scores": {}, "evidence": [], "countries": [], "text": None}
                handle.write(json.dumps(line | {"error": f"feeds/day-{n % 9}.jsonl:{n}: {kind}"}) + "\n")
                continue
            picked = [sentences[rng.randrange(len(sentences))] for _ in range(rng.randint(3, 5))]
            text, evidence, tags = "", [], {level: set() for level in LEVELS}
            for sentence in picked:
                begin = len(text) + (1 if text else 0)
                text = f"{text} {sentence['text']}" if text else sentence["text"]
                if sentence["pillars"] or sentence["sectors"]:
                    carried = {level: sentence[level] for level in LEVELS}
                    evidence.append({"field": "text", "start": begin, "end": len(text), "text": sentence["text"], **carried})
                    for level in LEVELS:
                        tags[level].update(sentence[level])
            chosen = set().union(*tags.values())
            scores = {k: round(rng.uniform(0.5, 1.0) if k in chosen else rng.uniform(0.0, 0.4), 6) for k in names}
            mentioned = [c for c in countries if c in text] or rng.sample(countries, rng.randint(0, 2))
            line |= {level: [k for k in names if k in tags[level]] for level in LEVELS}
            line |= {"scores": scores, "evidence": evidence, "countries": mentioned, "text": text}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")


def measure(tagged: Path, output: Path) -> dict:
    """Run in a fresh process: import, build the report, and report wall time and this process's peak RSS."""
    from alignclf.report import build_report

    started = time.perf_counter()
    summary = build_report([tagged], output, csv_dir=output.parent / "csv")
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "seconds": seconds,
        "peak_mb": peak_mb,
        "articles": summary.articles,
        "errors": summary.errors,
        "malformed": summary.input_problems,
        "report_mb": output.stat().st_size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "report.md")
    parser.add_argument("--measure", nargs=2, type=Path, metavar=("TAGGED", "HTML"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in args.lines:
            tagged = Path(scratch) / f"tagged-{count}.jsonl"
            write_tagged(tagged, count)
            command = [sys.executable, __file__, "--measure", str(tagged), str(Path(scratch) / f"report-{count}.html")]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            rows.append((count, tagged.stat().st_size / 2**20, result))
            print(f"{count} lines: {result['seconds']:.1f} s, peak RSS {result['peak_mb']:.0f} MB", file=sys.stderr)
    lines = [
        f"`python benchmarks/report.py --lines {' '.join(map(str, args.lines))}`: `build_report` on generated tag output "
        f"(`--keep text`, 3-5 sentences an article, 90 days, ~1% errors, ~0.1% malformed lines), CSVs included; "
        f"each size in a fresh process, {os.cpu_count()} CPU cores. Peak RSS is the whole process, Python and Plotly included.",
        "",
        "| lines | input MB | seconds | lines/s | peak RSS MB | report MB | errors | malformed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {count:,} | {size:.0f} | {r['seconds']:.1f} | {count / r['seconds']:,.0f} | {r['peak_mb']:.0f} | "
            f"{r['report_mb']:.1f} | {r['errors']} | {r['malformed']} |"
            for count, size, r in rows
        ],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
