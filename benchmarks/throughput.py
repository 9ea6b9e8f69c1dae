"""Sentences per second and peak memory per inference engine, on the same 2,000 sentences.

Each engine runs in its own process so peak RSS is its own. The reference is what a user
would write by hand: `transformers.pipeline("text-classification")` on the fine-tuned
weights with batch_size=32. Quality is the test split's sector macro F1 with the model's
own thresholds, so a faster engine is only kept if it is as good.

    python benchmarks/throughput.py [--tfidf models/tfidf] [--transformer models/minilm] [--out benchmarks/results/throughput.md]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("tfidf", "torch", "onnx-fp32", "onnx-int8", "pipeline")


def sentences(count: int = 2000) -> list[str]:
    """The first `count` labelled texts by id: the same list for every engine and every run."""
    rows = []
    for path in sorted((ROOT / "data" / "labelled").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows.sort(key=lambda row: row["id"])
    return [row["text"] for row in rows[:count]]


def test_split(folder: Path):
    import pandas as pd

    from alignclf.data import Example, label_matrix
    from alignclf.taxonomy import Taxonomy

    card = json.loads((folder / "alignclf.json").read_text())
    taxonomy = Taxonomy.from_dict(card["taxonomy"])
    frame = pd.read_parquet(ROOT / "data" / "processed" / "parquet" / "test.parquet")
    examples = [Example(r.id, r.text, tuple(r.pillars), tuple(r.sectors), r.source) for r in frame.itertuples()]
    thresholds = np.array([card["thresholds"][name] for name in taxonomy.names])
    return list(frame["text"]), label_matrix(examples, taxonomy), thresholds, taxonomy


def scorer(engine: str, folder: Path):
    """A function texts -> scores matrix for the engine."""
    if engine == "pipeline":
        from transformers import pipeline

        classify = pipeline(
            "text-classification", model=str(folder / "hf"), top_k=None, function_to_apply="sigmoid", batch_size=32
        )

        def run(texts: list[str]) -> np.ndarray:
            rows = classify(texts, truncation=True, max_length=64)
            return np.array(
                [[item["score"] for item in sorted(row, key=lambda x: int(x["label"].split("_")[-1]))] for row in rows]
            )

        return run
    from alignclf.models import load_folder

    options = {
        "torch": {"runtime": "torch"},
        "onnx-fp32": {"runtime": "onnx", "quantize": False},
        "onnx-int8": {"runtime": "onnx", "quantize": True},
    }
    model, _, _ = load_folder(folder, **options.get(engine, {}))
    return model.predict_proba


def measure(engine: str, folder: Path) -> dict:
    from alignclf.metrics import apply_thresholds, score

    started = time.perf_counter()
    run = scorer(engine, folder)
    run(["warm up"])
    load_seconds = time.perf_counter() - started
    texts = sentences()
    started = time.perf_counter()
    run(texts)
    seconds = time.perf_counter() - started
    test_texts, truth, thresholds, taxonomy = test_split(folder)
    report = score(truth, apply_thresholds(run(test_texts), thresholds), taxonomy)
    return {
        "engine": engine,
        "sentences": len(texts),
        "sentences_per_s": round(len(texts) / seconds, 1),
        "load_s": round(load_seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "sector_macro_f1": report.averages["sectors"]["macro_f1"],
    }


def table(results: list[dict]) -> str:
    reference = next((r["sentences_per_s"] for r in results if r["engine"] == "pipeline"), None)
    lines = [
        "| engine | sentences/s | vs pipeline | peak RSS (MB) | load (s) | test sector macro F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r['sentences_per_s'] / reference:.2f}x" if reference and r["engine"] != "tfidf" else ""
        cells = [r["engine"], r["sentences_per_s"], ratio, r["peak_rss_mb"], r["load_s"], f"{r['sector_macro_f1']:.4f}"]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfidf", type=Path, default=ROOT / "models" / "tfidf")
    parser.add_argument("--transformer", type=Path, default=ROOT / "models" / "minilm")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "throughput.md")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        folder = args.tfidf if args.engine == "tfidf" else args.transformer
        print(json.dumps(measure(args.engine, folder)))
        return
    results = []
    for engine in ENGINES:
        folder = args.tfidf if engine == "tfidf" else args.transformer
        if not (folder / "alignclf.json").is_file():
            print(f"skipping {engine}: no model folder at {folder}", file=sys.stderr)
            continue
        command = [
            sys.executable,
            __file__,
            "--engine",
            engine,
            "--tfidf",
            str(args.tfidf),
            "--transformer",
            str(args.transformer),
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{engine}: {results[-1]}", file=sys.stderr)
    import os

    cpu = f"{os.cpu_count()} CPU cores, {sys.platform}"
    text = f"Throughput on {results[0]['sentences'] if results else 0} sentences ({cpu}):\n\n{table(results)}\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
