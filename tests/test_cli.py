"""The command line as a user runs it: help, data build, evaluate, errors without tracebacks."""

import json
import subprocess
import sys
import time

from conftest import ROOT, project_overrides
from typer.testing import CliRunner

from alignclf.cli import app

runner = CliRunner()


def test_help_lists_every_command_quickly():
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "alignclf.cli", "--help"], capture_output=True, text=True, check=True)
    for command in ("data", "train", "evaluate", "tag", "serve"):
        assert command in out.stdout
    assert time.perf_counter() - started < 20


def test_data_build_prints_the_counts_table(tmp_path):
    config = tmp_path / "data.yaml"
    overrides = dict(item.split("=", 1) for item in project_overrides(tmp_path))
    config.write_text(
        f"taxonomy: {overrides['taxonomy']}\ndata:\n  labelled_dir: {overrides['data.labelled_dir']}\n"
        f"  processed_dir: {overrides['data.processed_dir']}\n"
    )
    result = runner.invoke(app, ["data", "build", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "| sectors | drug_trafficking |" in result.output and "digest" in result.output


def test_data_build_names_file_line_and_field_of_bad_data(tmp_path):
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    (labelled / "x.jsonl").write_text('{"id": "1", "text": "t", "pillars": ["war"], "sectors": [], "source": "s"}\n')
    config = tmp_path / "c.yaml"
    config.write_text(f"taxonomy: {ROOT / 'configs' / 'taxonomy.yaml'}\ndata:\n  labelled_dir: {labelled}\n")
    result = runner.invoke(app, ["data", "build", "--config", str(config)])
    assert result.exit_code == 2
    assert "x.jsonl:1: field 'pillars': unknown label 'war'" in result.output


def test_evaluate_prints_a_table_or_json(tiny_run):
    folder = str(tiny_run[1].folder)
    data = str(ROOT / "data" / "labelled" / "seed.jsonl")
    table = runner.invoke(app, ["evaluate", "--model", folder, "--data", data])
    assert table.exit_code == 0 and "| sectors | macro avg |" in table.output
    report = json.loads(runner.invoke(app, ["evaluate", "--model", folder, "--data", data, "--json"]).output)
    assert report["examples"] == 53 and report["model"] == "tiny"
    assert set(report["averages"]) == {"pillars", "sectors"}


def test_evaluate_reports_a_missing_model_without_traceback(tmp_path):
    data = str(ROOT / "data" / "labelled" / "seed.jsonl")
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "nope"), "--data", data])
    assert result.exit_code == 2 and "model not found" in result.output
