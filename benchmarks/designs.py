"""Context designs compared on the article splits: what a sentence is scored with, and how articles are decided.

    python benchmarks/designs.py --config configs/tfidf.yaml      # seconds per design
    python benchmarks/designs.py --config configs/minilm.yaml     # about 12 minutes per design

Every design trains the config's model kind on the committed data with tracking off, tunes
the article decision on article validation, and is scored through the Tagger on the article
and sentence test splits. "before" is the recipe without articles: sentences alone, trained
on the sentence corpus, an article tagged with what its best sentence carries.
Writes benchmarks/results/designs-<name>.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from alignclf.config import load_config
from alignclf.training import train

DESIGNS = {
    "before": ["data.train_on=[sentences]", "model.context=none", "article.tune=false"],
    "sentence alone": ["model.context=none"],
    "title + sentence": ["model.context=title"],
    "window (title, neighbours)": ["model.context=window"],
}
RESULTS = Path(__file__).parent / "results"


def card_row(name: str, card: dict) -> str:
    """A design's row from a trained folder's card (its figures were measured by its own training)."""
    m = card["metrics"]
    cells = [
        f"{name} (`{card['name']}`)",
        card["article"]["aggregate"],
        *(f"{m[key]:.3f}" for key in (
            "article_validation.sectors.micro_f1", "article_validation.pillars.micro_f1", "article_validation.false_alarm_rate",
            "article_test.sectors.micro_f1", "article_test.pillars.micro_f1", "article_test.false_alarm_rate",
            "test.sectors.macro_f1",
        )),
        "",
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def row(name: str, result, seconds: float) -> str:
    av, at, st = result.reports["article_validation"], result.reports["article_test"], result.reports["test"]
    cells = [
        name,
        result.decision["aggregate"] if name != "before" else "best sentence",
        f"{av.averages['sectors']['micro_f1']:.3f}",
        f"{av.averages['pillars']['micro_f1']:.3f}",
        f"{av.false_alarm_rate:.3f}",
        f"{at.averages['sectors']['micro_f1']:.3f}",
        f"{at.averages['pillars']['micro_f1']:.3f}",
        f"{at.false_alarm_rate:.3f}",
        f"{st.averages['sectors']['macro_f1']:.3f}",
        f"{seconds:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/tfidf.yaml")
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS), help="a subset of: " + ", ".join(DESIGNS))
    parser.add_argument(
        "--before",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="overrides for the 'before' design only: the settings the recipe had before articles (e.g. its epochs)",
    )
    parser.add_argument(
        "--trained",
        nargs="*",
        default=[],
        metavar="DESIGN=FOLDER",
        help="take a design's row from a folder already trained with it (the production model), instead of training again",
    )
    parser.add_argument("overrides", nargs="*", help="extra key.sub=value overrides for every design")
    args = parser.parse_args()
    base = load_config(args.config, args.overrides)
    header = (
        "| design | article decision | val sector micro-F1 | val pillar micro-F1 | val off-topic tagged | "
        "test sector micro-F1 | test pillar micro-F1 | test off-topic tagged | sentence test sector macro-F1 | seconds |"
    )
    lines = [header, "|---|---|" + "---:|" * 8]
    candidates = {}
    trained = dict(item.split("=", 1) for item in args.trained)
    with tempfile.TemporaryDirectory(prefix="alignclf-designs-") as scratch:
        for name in args.designs:
            if name in trained:
                card = json.loads((Path(trained[name]) / "alignclf.json").read_text())
                lines.append(card_row(name, card))
                candidates[name] = card["article"].get("candidates", {})
                continue
            overrides = [*args.overrides, *DESIGNS[name], "tracking.enabled=false", f"output_dir={scratch}"]
            overrides += args.before if name == "before" else []
            config = load_config(args.config, overrides)
            started = time.perf_counter()
            result = train(config)
            lines.append(row(name, result, time.perf_counter() - started))
            candidates[name] = result.candidates
            print(lines[-1], flush=True)
    decisions = ["", "Article decisions compared on article validation (micro-F1 over all labels / off-topic tagged):", ""]
    names = sorted({d for c in candidates.values() for d in c})
    decisions += ["| design | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for design, found in candidates.items():
        if found:
            cells = [f"{found[d]['micro_f1']:.3f} / {found[d]['false_alarm_rate']:.3f}" if d in found else "" for d in names]
            decisions.append(f"| {design} | " + " | ".join(cells) + " |")
    text = "\n".join(
        [
            f"# Context designs: {base.name} ({base.model.kind})",
            "",
            f"`python benchmarks/designs.py {' '.join(sys.argv[1:])}`",
            "",
        ]
        + lines
        + decisions
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"designs-{base.name}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
