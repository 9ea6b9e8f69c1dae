"""Articles per second: the local engine against Spark on local[2], on the same 20,000-article feed.

python benchmarks/engines.py [--model models/tfidf] [--articles 20000] [--out benchmarks/results/engines.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_feed(path: Path, count: int) -> None:
    """Articles of three to five sentences built from the labelled sentences, deterministic."""
    texts = []
    for file in sorted((ROOT / "data" / "labelled").glob("*.jsonl")):
        rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts += [row["text"] for row in rows if row.get("lang", "en") == "en"]
    with path.open("w") as handle:
        for n in range(count):
            body = " ".join(texts[(n * 7 + k * 13) % len(texts)] for k in range(3 + n % 3))
            handle.write(json.dumps({"id": f"article-{n}", "title": f"Article {n}", "text": body}) + "\n")


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "tfidf"))
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engines.md")
    args = parser.parse_args()
    alignclf = [sys.executable, "-m", "alignclf.cli", "tag"]
    with tempfile.TemporaryDirectory() as scratch:
        feed = Path(scratch) / "feed.jsonl"
        write_feed(feed, args.articles)
        rows = []
        for engine, extra in (("local", []), ("spark local[2]", ["--engine", "spark", "--master", "local[2]"])):
            out = Path(scratch) / ("out.jsonl" if engine == "local" else "spark-out.jsonl")
            seconds = timed([*alignclf, str(feed), "-o", str(out), "--model", args.model, *extra])
            rows.append((engine, seconds, args.articles / seconds))
            print(f"{engine}: {seconds:.1f} s", file=sys.stderr)
    name = json.loads((Path(args.model) / "alignclf.json").read_text())["name"]
    lines = [
        f"{args.articles} articles (3-5 sentences each), model `{name}`, {os.cpu_count()} CPU cores; "
        "wall time includes start-up:",
        "",
        "| engine | seconds | articles/s |",
        "|---|---:|---:|",
        *[f"| {engine} | {seconds:.1f} | {rate:.0f} |" for engine, seconds, rate in rows],
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
