"""The command line as a user runs it: help, data build, evaluate, errors without tracebacks."""

import json
import re
import subprocess
import sys

import typer
from typer.testing import CliRunner

from alignclf.cli import app
from conftest import ROOT, project_overrides

runner = CliRunner()


def test_help_lists_every_command_by_name():
    out = subprocess.run([sys.executable, "-m", "alignclf.cli", "--help"], capture_output=True, text=True, check=True)
    listed = set(re.findall(r"^│ ([a-z][\w-]*) ", out.stdout, flags=re.MULTILINE))
    commands = set(typer.main.get_command(app).commands)
    assert commands >= {"data", "train", "evaluate", "tag", "serve"}
    assert listed == commands, out.stdout


def test_train_is_a_subcommand_with_its_own_help():
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output and "KEY.SUB=VALUE" in result.output


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
    assert report["model"] == "tiny" and report["sentences"]["examples"] == 53
    assert set(report["sentences"]["averages"]) == {"pillars", "sectors"}


def test_evaluate_reads_an_article_file_and_prints_both_kinds_of_figures(tiny_run, tmp_path):
    articles = ROOT / "data" / "articles" / "energy.jsonl"
    sample = tmp_path / "articles.jsonl"
    sample.write_text("".join(articles.read_text().splitlines(keepends=True)[:12]))
    table = runner.invoke(app, ["evaluate", "--model", str(tiny_run[1].folder), "--data", str(sample)])
    assert table.exit_code == 0, table.output
    assert ": articles (12)" in table.output and ": sentences in context (" in table.output


def test_evaluate_reports_a_missing_model_without_traceback(tmp_path):
    data = str(ROOT / "data" / "labelled" / "seed.jsonl")
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "nope"), "--data", data])
    assert result.exit_code == 2 and "model not found" in result.output


def test_malformed_taxonomy_yaml_is_one_line_naming_the_file(tmp_path):
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text("pillars:\n  - name: trade\n   bad indent: [\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"taxonomy: {taxonomy}\n")
    result = runner.invoke(app, ["data", "build", "--config", str(config)])
    assert result.exit_code == 2 and f"{taxonomy}:" in result.output and "not valid YAML" in result.output


def test_an_unwritable_processed_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    overrides = dict(item.split("=", 1) for item in project_overrides(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text(
        f"taxonomy: {overrides['taxonomy']}\ndata:\n  labelled_dir: {overrides['data.labelled_dir']}\n"
        f"  articles_dir: {overrides['data.articles_dir']}\n  processed_dir: {blocker / 'processed'}\n"
    )
    result = runner.invoke(app, ["data", "build", "--config", str(config)])
    assert result.exit_code == 2 and "cannot write the processed dataset" in result.output


def test_config_problems_stop_training_before_any_work(tmp_path):
    base = project_overrides(tmp_path)
    bad_countries = runner.invoke(
        app, ["train", "--config", str(ROOT / "configs" / "tiny.yaml"), *base, "countries=/no/such.yaml"]
    )
    assert bad_countries.exit_code == 2 and "countries: file not found" in bad_countries.output
    metric = runner.invoke(
        app, ["train", "--config", str(ROOT / "configs" / "tiny.yaml"), *base, "tracking.champion_metric=test.nope"]
    )
    assert metric.exit_code == 2 and "is not a metric this run logs" in metric.output
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text((ROOT / "configs" / "taxonomy.yaml").read_text().replace("- name: energy", '- name: "energy sector"'))
    label = runner.invoke(app, ["train", "--config", str(ROOT / "configs" / "tiny.yaml"), *base, f"taxonomy={taxonomy}"])
    assert label.exit_code == 2 and "['energy sector'] cannot be metric names" in label.output
    assert not (tmp_path / "processed").exists() and not (tmp_path / "models").exists(), "nothing was built or trained"
