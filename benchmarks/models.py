"""The model table: each model folder's figures on the test splits, the challenge set and per language, and its load time.

    python benchmarks/models.py models/tfidf models/static models/minilm [models/multilingual]

Test figures are the folder's own (`alignclf.json`, measured at training through the Tagger
with the folder's default runtime); the challenge set (`data/eval/challenge.jsonl`, never
trained on) is scored here the same way. Load time is a fresh process importing alignclf and
loading the folder. Writes benchmarks/results/models.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LOAD = (
    "import sys, time\n"
    "started = time.perf_counter()\n"
    "import alignclf\n"
    "alignclf.load_model(sys.argv[1]).predict(['Gas exports rose.'])\n"
    "print(round(time.perf_counter() - started, 2))\n"
)


def load_seconds(folder: Path) -> float:
    runs = [float(subprocess.run([sys.executable, "-c", LOAD, str(folder)], capture_output=True, text=True, check=True).stdout)
            for _ in range(3)]  # fmt: skip
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    from alignclf.evaluate import evaluate
    from alignclf.resolve import load_model

    head = (
        "| model | kind | context / decision | sentence test sector macro-F1 | pillar macro-F1 | article test sector micro-F1 "
        "| pillar micro-F1 | off-topic tagged | challenge sector macro-F1 | challenge pillar macro-F1 "
        "| start: import, load, first text (s) |"
    )
    rows = [head, "|---|---|---|" + "---:|" * 8]
    languages = []
    for folder in args.folders:
        card = json.loads((folder / "alignclf.json").read_text())
        m = card["metrics"]
        challenge = evaluate(load_model(folder), ROOT / "data" / "eval" / "challenge.jsonl")["sentences"].averages
        rows.append(
            f"| {card['name']} | {card['kind']} | {card['context']} / {card['article'].get('aggregate', 'max')} | "
            f"{m['test.sectors.macro_f1']:.3f} | {m['test.pillars.macro_f1']:.3f} | {m['article_test.sectors.micro_f1']:.3f} | "
            f"{m['article_test.pillars.micro_f1']:.3f} | {m['article_test.false_alarm_rate']:.3f} | "
            f"{challenge['sectors']['macro_f1']:.3f} | {challenge['pillars']['macro_f1']:.3f} | {load_seconds(folder):.2f} |"
        )
        print(rows[-1], flush=True)
        for language in card.get("languages", ["en"]):
            if f"test.{language}.sectors.macro_f1" in m:
                languages.append(
                    f"| {card['name']} | {language} | {m[f'test.{language}.sectors.macro_f1']:.3f} | "
                    f"{m[f'test.{language}.pillars.macro_f1']:.3f} | {m[f'test.{language}.false_alarm_rate']:.3f} |"
                )
    text = ["# Models", "", f"`python benchmarks/models.py {' '.join(map(str, args.folders))}`", "", *rows]
    if languages:
        head = "| model | language | sector macro-F1 | pillar macro-F1 | unlabelled given a label |"
        text += ["", "Per language, sentence test split:", "", head, "|---|---|---:|---:|---:|", *languages]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "models.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
