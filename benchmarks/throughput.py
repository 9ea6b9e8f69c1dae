"""Sentences per second, load time and peak memory per model and runtime, on the same 2,000 sentences, in one run.

    python benchmarks/throughput.py --folders models/tfidf models/static models/minilm [models/multilingual]

Each engine runs in its own process, so load time and peak RSS are its own. A transformer
folder is measured with PyTorch, ONNX fp32, ONNX int8 (its default) and, as the reference a
user would write by hand, `transformers.pipeline("text-classification", batch_size=32)` on
its weights. Quality is the sentence test split's sector macro-F1 through the Tagger with
that runtime, so a faster engine is only kept if it is as good. Writes
benchmarks/results/throughput.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = {"torch": {"runtime": "torch"}, "onnx-fp32": {"runtime": "onnx", "quantize": False}, "onnx-int8": {}}


def sentences(count: int = 2000) -> list[str]:
    """The first `count` English labelled sentences by id: the same list for every engine and every run."""
    rows = []
    for path in sorted((ROOT / "data" / "labelled").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = sorted((r for r in rows if r.get("lang", "en") == "en"), key=lambda r: r["id"])
    return [r["text"] for r in rows[:count]]


def test_examples(folder: Path):
    """The sentence test split (English) the folder was trained with."""
    from alignclf.config import Config
    from alignclf.dataset import load_processed
    from alignclf.taxonomy import Taxonomy

    card = json.loads((folder / "alignclf.json").read_text())
    config = Config.model_validate(card["config"])
    taxonomy = Taxonomy.from_dict(card["taxonomy"])
    return load_processed(config, taxonomy).examples("test", taxonomy, ["en"])


def pipeline_scorer(folder: Path):
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(folder / "hf"), top_k=None, function_to_apply="sigmoid", batch_size=32)
    names = json.loads((folder / "hf" / "config.json").read_text())["id2label"]
    order = [names[str(i)] for i in range(len(names))]

    def run(texts: list[str]) -> np.ndarray:
        rows = classify(texts, truncation=True, max_length=64)
        return np.array([[{item["label"]: item["score"] for item in row}[name] for name in order] for row in rows])

    return run


def measure(engine: str, folder: Path) -> dict:
    from alignclf.evaluate import score_sentences
    from alignclf.resolve import load_model

    started = time.perf_counter()
    if engine == "pipeline":
        run = pipeline_scorer(folder)
        tagger = None
    else:
        tagger = load_model(folder, **RUNTIMES.get(engine, {}))
        run = tagger.model.predict_proba
    run(["warm up"])
    load_seconds = time.perf_counter() - started
    texts = sentences()
    started = time.perf_counter()
    run(texts)
    seconds = time.perf_counter() - started
    f1 = score_sentences(tagger, test_examples(folder)).report.averages["sectors"]["macro_f1"] if tagger else None
    return {
        "engine": f"{folder.name} ({engine})",
        "sentences": len(texts),
        "sentences_per_s": round(len(texts) / seconds, 1),
        "load_s": round(load_seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "sector_macro_f1": f1,
    }


def engines(folder: Path) -> list[str]:
    kind = json.loads((folder / "alignclf.json").read_text())["kind"]
    return ["onnx-int8", "onnx-fp32", "torch", "pipeline"] if kind == "transformer" else [kind]


def table(results: list[dict]) -> str:
    reference = next((r["sentences_per_s"] for r in results if r["engine"].endswith("(onnx-int8)")), None)
    lines = [
        "| model (runtime) | sentences/s | vs int8 ONNX transformer | peak RSS (MB) | load (s) | test sector macro-F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r['sentences_per_s'] / reference:.1f}x" if reference else ""
        f1 = f"{r['sector_macro_f1']:.3f}" if r["sector_macro_f1"] is not None else "(same weights as torch)"
        lines.append(
            f"| {r['engine']} | {r['sentences_per_s']:.0f} | {ratio} | {r['peak_rss_mb']:.0f} | {r['load_s']:.2f} | {f1} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folders", nargs="+", type=Path, default=[ROOT / "models" / "tfidf"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "throughput.md")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(measure(args.engine, args.folders[0])))
        return
    results = []
    for folder in args.folders:
        if not (folder / "alignclf.json").is_file():
            print(f"skipping {folder}: not a model folder", file=sys.stderr)
            continue
        for engine in engines(folder):
            command = [sys.executable, __file__, "--engine", engine, "--folders", str(folder)]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(results[-1], file=sys.stderr, flush=True)
    count = results[0]["sentences"] if results else 0
    command = f"python benchmarks/throughput.py {' '.join(sys.argv[1:])}"
    text = f"# Throughput\n\n`{command}`: {count} English sentences, one process per engine, {os.cpu_count()} CPU cores.\n\n"
    text += table(results) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
