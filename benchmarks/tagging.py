"""End-to-end `alignclf tag` on a 10,000-article JSONL feed: articles/s and peak RSS per model, and a kill-and-resume.

    python benchmarks/tagging.py --models models/tfidf models/tfidf@2 models/minilm [--resume-check models/tfidf]

A model written `FOLDER@N` runs with `--workers N`.

The feed is built from the labelled data (fixed seed): each article has a real title from
the article corpus and 3-5 sentences. Each model runs `alignclf tag` in its own process,
timed from start to exit (model loading included). The resume check kills a run with
SIGKILL part-way, reruns it with --resume, and compares the file with an uninterrupted run.
Writes benchmarks/results/tagging.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def build_feed(path: Path, count: int, seed: int = 7) -> None:
    """Titles from the article corpus, bodies of 3-5 labelled sentences (English only)."""
    rng = random.Random(seed)
    sentences, titles = [], []
    for file in sorted((ROOT / "data" / "labelled").glob("*.jsonl")):
        rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        sentences += [r["text"] for r in rows if r.get("lang", "en") == "en"]
    for file in sorted((ROOT / "data" / "articles").glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            article = json.loads(line)
            if article.get("lang", "en") == "en":
                titles.append(article["title"])
                sentences += [s["text"] for s in article["sentences"]]
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            body = " ".join(rng.sample(sentences, rng.randint(3, 5)))
            handle.write(json.dumps({"id": f"a{n}", "title": rng.choice(titles), "text": body}) + "\n")


PEAK = (
    "import resource, sys\n"
    "from alignclf.cli import app\n"
    "try:\n"
    "    app(sys.argv[1:], prog_name='alignclf')\n"
    "finally:\n"
    "    usage = [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
    "    print('PEAK', sum(usage), file=sys.stderr)\n"
)


def timed_tag(feed: Path, out: Path, model: str, workers: int) -> tuple[float, float, str]:
    """(seconds, peak RSS MB, summary line) of one `alignclf tag` process."""
    started = time.perf_counter()
    command = [sys.executable, "-c", PEAK, "tag", str(feed), "-o", str(out), "--model", model, "--workers", str(workers)]
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if "records read" not in run.stderr:
        raise SystemExit(f"alignclf tag failed for {model}:\n{run.stderr[-2000:]}")
    peak = int(run.stderr.rsplit("PEAK", 1)[1]) / 1024
    return seconds, peak, next(line for line in run.stderr.splitlines() if line.startswith("records read"))


def resume_check(feed: Path, model: str, scratch: Path) -> str:
    reference = scratch / "reference.jsonl"
    subprocess.run([sys.executable, "-m", "alignclf.cli", "tag", str(feed), "-o", str(reference), "--model", model], check=True,
                   capture_output=True)  # fmt: skip
    out = scratch / "killed.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "alignclf.cli", "tag", str(feed), "-o", str(out), "--model", model],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = reference.stat().st_size // 2
    while process.poll() is None and (not out.exists() or out.stat().st_size < target):
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = len(out.read_bytes().split(b"\n")) - 1
    subprocess.run([sys.executable, "-m", "alignclf.cli", "tag", str(feed), "-o", str(out), "--model", model, "--resume"],
                   check=True, capture_output=True)  # fmt: skip
    lines = out.read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    same = out.read_bytes() == reference.read_bytes()
    return (
        f"Killed with SIGKILL after {killed_at} complete lines, resumed with `--resume`: {len(lines)} lines, "
        f"{len(ids) - len(set(ids))} duplicate ids, {'byte-identical to' if same else 'DIFFERENT from'} an uninterrupted run "
        f"(model `{Path(model).name}`)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["models/tfidf"], help="model folders; FOLDER@N: with --workers N")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--resume-check", default=None, help="a model folder to run the kill-and-resume check with")
    args = parser.parse_args()
    lines = [
        f"`alignclf tag` on a {args.articles:,}-article JSONL feed (3-5 sentences and a title each), 2 CPU cores, "
        "one process per model, model loading included:",
        "",
        "| model | seconds | articles/s | peak RSS (MB), main process + largest worker |",
        "|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="alignclf-tagging-") as scratch:
        scratch = Path(scratch)
        feed = scratch / "feed.jsonl"
        build_feed(feed, args.articles)
        for spec in args.models:
            model, _, workers = spec.partition("@")
            seconds, peak, summary = timed_tag(feed, scratch / "out.jsonl", model, int(workers or 1))
            name = Path(model).name + (f" ({workers} workers)" if workers else "")
            lines.append(f"| {name} | {seconds:.1f} | {args.articles / seconds:.0f} | {peak:.0f} |")
            print(lines[-1], "  ", summary, flush=True)
        if args.resume_check:
            lines += ["", resume_check(feed, args.resume_check, scratch)]
    text = "\n".join(["# Batch tagging", "", f"`python benchmarks/tagging.py {' '.join(sys.argv[1:])}`", "", *lines])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tagging.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
