"""The dataset's counts, per label, split and language, as `alignclf data build` makes them.

    python benchmarks/data.py [--config configs/data.yaml]

Writes benchmarks/results/data.md.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from alignclf.config import load_config
from alignclf.data import SPLITS, counts_table, format_counts
from alignclf.dataset import build_dataset
from alignclf.taxonomy import Taxonomy

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/data.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    taxonomy = Taxonomy.from_yaml(config.taxonomy)
    result = build_dataset(config)
    languages = sorted({e.lang for rows in result.splits.values() for e in rows})
    lines = ["# Data", "", f"`python benchmarks/data.py --config {args.config}` (content digest `{result.digest}`)", ""]
    lines += ["Examples per language and split:", "", "| corpus | language | " + " | ".join(SPLITS) + " | total |",
              "|---|---|" + "---:|" * (len(SPLITS) + 1)]  # fmt: skip
    for corpus, splits in (("sentences", result.splits), ("articles", result.articles)):
        for language in languages:
            counts = Counter({split: sum(1 for e in rows if e.lang == language) for split, rows in splits.items()})
            if sum(counts.values()):
                lines.append(
                    f"| {corpus} | {language} | " + " | ".join(str(counts[s]) for s in SPLITS) + f" | {sum(counts.values())} |"
                )
    english = {split: [e for e in rows if e.lang == "en"] for split, rows in result.splits.items()}
    articles = {split: [a for a in rows if a.lang == "en"] for split, rows in result.articles.items()}
    lines += ["", "English sentences per label:", "", format_counts(counts_table(english, taxonomy))]
    lines += ["", "English articles per label (an article's labels are the union of its title's and sentences'):", "",
              format_counts(counts_table(articles, taxonomy))]  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "data.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
