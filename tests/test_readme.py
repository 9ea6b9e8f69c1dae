"""The README's results tables are the benchmark files, copied by `make results`, never typed by hand."""

import subprocess
import sys

from conftest import ROOT


def test_every_results_block_matches_its_benchmark_file():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "readme.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_every_benchmark_table_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        assert f"<!-- results:{path.stem} -->" in readme, f"{path.name} is not shown in the README"
