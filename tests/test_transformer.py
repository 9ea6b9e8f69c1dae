"""The MiniLM model kind: offline base weights, tiny end-to-end run, reload and ONNX agreement."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, project_overrides

from alignclf.config import load_config
from alignclf.models import ModelFolderError, load_folder
from alignclf.models.transformer import resolve_base
from alignclf.training import train

pytestmark = [pytest.mark.transformer, pytest.mark.slow]


def test_packaged_base_resolves_to_local_weights():
    folder = resolve_base("sentence-transformers/all-MiniLM-L6-v2")
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


@pytest.mark.parametrize("base", ["bert-base-uncased", "someone/some-model", "/nonexistent/folder"])
def test_hub_ids_without_local_weights_fail_clearly(base):
    with pytest.raises(ModelFolderError, match="not a local model folder.*never downloads weights"):
        resolve_base(base)


@pytest.fixture(scope="module")
def tiny_labelled(tmp_path_factory):
    """Sixty sentences from the committed data, a mix of every label and none."""
    folder = tmp_path_factory.mktemp("labelled")
    lines = (ROOT / "data" / "labelled" / "authored.jsonl").read_text().splitlines()
    picked = lines[::38][:60]
    (folder / "tiny.jsonl").write_text("\n".join(picked) + "\n")
    return folder


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory, tiny_labelled, mlflow_store):
    workdir = tmp_path_factory.mktemp("minilm")
    config = load_config(ROOT / "configs" / "tiny-minilm.yaml", project_overrides(workdir, tiny_labelled))
    return train(config)


def test_tiny_run_trains_tracks_and_exports(minilm_run):
    from mlflow import MlflowClient

    folder = minilm_run.folder
    card = json.loads((folder / "alignclf.json").read_text())
    assert card["kind"] == "transformer"
    assert (folder / "hf" / "model.safetensors").is_file() and (folder / "model.int8.onnx").is_file()
    assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pt"))
    run = MlflowClient().get_run(minilm_run.tracked.run_id)
    assert run.data.params["model.transformer.max_length"] == "16"
    history = MlflowClient().get_metric_history(run.info.run_id, "train.loss")
    assert len(history) == 3  # 40-odd train sentences in batches of 16
    assert "test.sectors.macro_f1" in run.data.metrics


TEXTS = ["Police seized heroin at the border.", "Kazakhstan raised gas exports to China.", "The match ended in a draw."]


def test_reloaded_and_onnx_models_agree_with_pytorch(minilm_run):
    torch_model, _, _ = load_folder(minilm_run.folder, runtime="torch")
    onnx_model, _, _ = load_folder(minilm_run.folder, runtime="onnx", quantize=False)
    int8_model, _, _ = load_folder(minilm_run.folder, runtime="onnx", quantize=True)
    reference = torch_model.predict_proba(TEXTS)
    np.testing.assert_allclose(onnx_model.predict_proba(TEXTS), reference, atol=1e-4)
    np.testing.assert_allclose(int8_model.predict_proba(TEXTS), reference, atol=0.05)


def test_tagger_works_the_same_over_both_kinds(minilm_run):
    from alignclf.tagger import load_model

    prediction = load_model(minilm_run.folder).predict(["Trade Talks\n\nGas exports rose. Police seized heroin."])[0]
    assert set(prediction.scores) == set(json.loads(Path(minilm_run.folder / "alignclf.json").read_text())["thresholds"])
    assert prediction.countries == []
