"""Training runs timed end to end: `python train.py --config X` per config, wall time and peak RSS.

    python benchmarks/training.py configs/tfidf.yaml configs/minilm.yaml [configs/static.yaml ...]

Each config trains for real (the model folder, the MLflow run and the registry are the
usual ones), so this is also how the README's models are made. The fit time is the model's
own; the wall time covers the whole command: data, fit, tuning, scoring, export and MLflow.
Writes benchmarks/results/training.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PEAK = (
    "import resource, sys\n"
    "from alignclf.training import main\n"
    "code = main(sys.argv[1:])\n"
    "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+")
    args = parser.parse_args()
    rows = ["| config | model | wall time | fit | peak RSS (MB) |", "|---|---|---:|---:|---:|"]
    earlier = {}  # rows of configs measured by an earlier run and not rerun now are kept
    if (RESULTS / "training.md").is_file():
        for line in (RESULTS / "training.md").read_text().splitlines():
            if line.startswith("| `"):
                earlier[line.split("`")[1]] = line
    for config in args.configs:
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", PEAK, "--config", config], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"{config} failed:\n{run.stderr[-3000:]}")
        folder = ROOT / next(line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("model folder: "))
        card = json.loads((folder / "alignclf.json").read_text())
        fit = next(
            float(line.split(": ")[1].split()[0]) for line in run.stdout.splitlines() if line.startswith("training time: ")
        )
        peak = int(run.stderr.rsplit("PEAK", 1)[1].split()[0]) / 1024
        rows.append(
            f"| `{config}` | {card['name']} ({card['kind']}) | {wall // 60:.0f} min {wall % 60:.0f} s | {fit:.0f} s "
            f"| {peak:.0f} |"
        )
        print(rows[-1], flush=True)
    measured = {row.split("`")[1] for row in rows[2:]}
    rows += [row for config, row in earlier.items() if config not in measured]
    text = "\n".join(["# Training runs", "", "`python benchmarks/training.py CONFIG...` (2 CPU cores, no GPU)", "", *rows])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
