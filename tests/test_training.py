"""The tiny config end to end: train, export, track, register, reload from folder and registry."""

import json
import sys

import pytest

from alignclf.config import load_config
from alignclf.training import main, train
from conftest import ROOT, project_overrides

pytestmark = pytest.mark.slow


def test_tiny_run_clears_a_metric_floor(tiny_run, taxonomy):
    _, result = tiny_run
    assert result.reports["test"].averages["pillars"]["macro_f1"] >= 0.75
    assert result.reports["test"].averages["sectors"]["macro_f1"] >= 0.70
    assert result.reports["article_test"].averages["sectors"]["micro_f1"] >= 0.75
    assert result.reports["article_test"].false_alarm_rate <= 0.15
    assert set(result.thresholds) == set(taxonomy.names) == set(result.decision["thresholds"])


def test_model_folder_is_self_describing(tiny_run):
    config, result = tiny_run
    card = json.loads((result.folder / "alignclf.json").read_text())
    assert card["kind"] == "tfidf" and card["name"] == "tiny"
    assert card["data_digest"] == result.data_digest
    assert card["config"]["model"]["tfidf"]["char_ngrams"] == [3, 4]
    assert card["metrics"]["test.sectors.macro_f1"] == result.reports["test"].averages["sectors"]["macro_f1"]
    assert card["metrics"]["article_test.sectors.micro_f1"] == result.reports["article_test"].averages["sectors"]["micro_f1"]
    assert card["context"] == config.model.context and card["article"]["aggregate"] in config.article.aggregates
    assert card["trained_at"]
    assert {"tfidf.safetensors", "tfidf.json", "countries.yaml", "config.yaml"} <= {p.name for p in result.folder.iterdir()}
    assert not list(result.folder.glob("*.pkl")) and not list(result.folder.glob("*.skops"))


def test_run_is_tracked_registered_and_promoted(tiny_run):
    from mlflow import MlflowClient

    config, result = tiny_run
    client = MlflowClient()
    run = client.get_run(result.run_id)
    assert run.data.params["model.tfidf.char_ngrams"] == "[3, 4]"
    assert run.data.params["seed"] == "13"
    assert run.data.metrics["test.sectors.macro_f1"] == result.reports["test"].averages["sectors"]["macro_f1"]
    assert run.data.metrics["validation.cyber.f1"] > 0
    assert run.data.metrics["article_test.false_alarm_rate"] == result.reports["article_test"].false_alarm_rate
    assert run.data.tags["alignclf.data_digest"] == result.data_digest
    inputs = {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}
    splits = ("train", "validation", "test", "article_train", "article_validation", "article_test")
    assert inputs == {f"alignclf-{s}": result.data_digest for s in splits}
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)} | {
        a.path for folder in ("plots", "config") for a in client.list_artifacts(run.info.run_id, folder)
    }
    assert {
        "classification_report.json",
        "article_decision.json",
        "plots/article_test_per_label_f1.png",
        "plots/article_test_confusion_matrices.png",
        "plots/test_per_label_f1.png",
        "config/tiny.yaml",
        "config/config.resolved.yaml",
    } <= artifacts
    assert run.info.status == "FINISHED" and run.info.end_time - run.info.start_time >= 1000 * result.seconds
    version = client.get_model_version_by_alias("alignclf", "champion")
    assert str(version.version) == result.version and version.run_id == run.info.run_id


def test_reloading_from_folder_and_registry_gives_identical_tags(tiny_run, tiny_tagger):
    from alignclf.resolve import load_model

    texts = [
        "Hackers breached the railway ticketing system.",
        "Wheat exports through the border crossing doubled this year. The striker's late goal sealed the championship.",
    ]
    expected = [p.to_dict() for p in tiny_tagger.predict(texts)]
    for uri in ("models:/alignclf@champion", f"runs:/{tiny_run[1].run_id}/model"):
        assert [p.to_dict() for p in load_model(uri).predict(texts)] == expected


def test_same_config_and_data_give_the_same_metrics(tiny_run, tmp_path):
    config, result = tiny_run
    again = train(
        config.model_copy(
            update={"output_dir": str(tmp_path / "models"), "tracking": config.tracking.model_copy(update={"enabled": False})}
        )
    )
    assert again.reports["test"].flat() == result.reports["test"].flat()
    assert again.thresholds == result.thresholds


def test_a_worse_run_does_not_take_the_champion_alias(tiny_run, tmp_path):
    from mlflow import MlflowClient

    config = load_config(
        ROOT / "configs" / "tiny.yaml",
        project_overrides(tmp_path) + ["name=weak", "model.tfidf.C=0.0001", "thresholds.tune=false", "article.gate.C=0.0001"],
    )
    weak = train(config)
    assert weak.promoted is False
    assert str(MlflowClient().get_model_version_by_alias("alignclf", "champion").version) == tiny_run[1].version


def test_tfidf_load_and_predict_never_import_torch(tiny_run):
    import subprocess

    code = (
        "import sys, alignclf; from alignclf.cli import app; "
        f"alignclf.load_model({str(tiny_run[1].folder)!r}).predict(['Gas exports rose.']); "
        "print('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_main_reports_config_errors_without_traceback(capsys):
    assert main(["--config", str(ROOT / "configs" / "tiny.yaml"), "model.tfidf.nope=1"]) == 2
    assert "unknown key 'model.tfidf.nope'" in capsys.readouterr().err


def test_a_crash_ends_the_run_as_failed_with_what_was_logged(tiny_run, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from alignclf.models.tfidf import TfidfModel

    def crash(self, units, targets, validation, log, workdir):
        log({"train.loss": 0.5}, 0)
        raise RuntimeError("the machine fell over")

    monkeypatch.setattr(TfidfModel, "_fit", crash)
    config = load_config(ROOT / "configs" / "tiny.yaml", project_overrides(tmp_path) + ["name=crashing"])
    with pytest.raises(RuntimeError, match="fell over"):
        train(config)
    experiment = MlflowClient().get_experiment_by_name("alignclf")
    (run,) = MlflowClient().search_runs([experiment.experiment_id], "attributes.run_name = 'crashing'")
    assert run.info.status == "FAILED" and run.data.metrics["train.loss"] == 0.5
    assert run.data.params["name"] == "crashing"


def test_an_exported_folder_that_does_not_load_is_never_registered(tiny_run, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from alignclf.models import ModelFolderError
    from alignclf.training import Tagger

    def refuse(folder, **options):
        raise ModelFolderError(f"{folder}: cannot be loaded")

    monkeypatch.setattr(Tagger, "from_folder", staticmethod(refuse))
    before = {v.version for v in MlflowClient().search_model_versions("name = 'alignclf'")}
    config = load_config(ROOT / "configs" / "tiny.yaml", project_overrides(tmp_path) + ["name=unloadable"])
    with pytest.raises(ModelFolderError, match="cannot be loaded"):
        train(config)
    assert {v.version for v in MlflowClient().search_model_versions("name = 'alignclf'")} == before
    assert not (tmp_path / "models" / "unloadable").exists()


def test_a_label_without_examples_is_refused_before_fitting(tmp_path, taxonomy):
    from alignclf.data import LabelledDataError

    labelled, articles = tmp_path / "labelled", tmp_path / "articles"
    labelled.mkdir()
    articles.mkdir()
    dropped = taxonomy.sectors[-1]
    lines = [
        line for line in (ROOT / "data" / "labelled" / "authored.jsonl").read_text().splitlines() if f'"{dropped}"' not in line
    ]
    (labelled / "x.jsonl").write_text("\n".join(lines) + "\n")
    config = load_config(
        ROOT / "configs" / "tiny.yaml", project_overrides(tmp_path, labelled, articles) + ["tracking.enabled=false"]
    )
    with pytest.raises(LabelledDataError, match=rf"\['{dropped}'\] are never on in the train split"):
        train(config)
    assert not (tmp_path / "models").exists()
