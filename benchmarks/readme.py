"""Copy the benchmark results into the README, so no figure there is typed by hand.

    python benchmarks/readme.py [--check]

The README marks each results block with `<!-- results:NAME -->` ... `<!-- /results:NAME -->`;
the block is replaced by `benchmarks/results/NAME.md` without its heading. `--check` exits 1
when the README is out of date (what a test runs).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.DOTALL)


def body(name: str) -> str:
    """The results file without its `# heading` line, as the README shows it."""
    path = RESULTS / f"{name}.md"
    if not path.is_file():
        raise SystemExit(f"README names results block {name!r} but {path} does not exist: run its benchmark")
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip() + "\n"


def render(readme: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + body(m.group("name")) + m.group(4), readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the README differs from the results")
    args = parser.parse_args()
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    updated = render(current)
    if args.check:
        stale = sorted({m.group("name") for m in BLOCK.finditer(current) if m.group("body") != body(m.group("name"))})
        if stale:
            print(f"README results out of date: {', '.join(stale)}; run python benchmarks/readme.py", file=sys.stderr)
            sys.exit(1)
        return
    path.write_text(updated, encoding="utf-8")
    print(f"README: {len(BLOCK.findall(current))} results blocks written")


if __name__ == "__main__":
    main()
