"""The transformer kind: offline base weights, Trainer run with live metrics, reload and ONNX agreement, other bases."""

import json

import numpy as np
import pytest

from alignclf.config import load_config
from alignclf.context import Unit
from alignclf.models import ModelFolderError, load_folder
from alignclf.models.transformer import resolve_base
from alignclf.training import train
from conftest import ROOT, assert_thread_safe, project_overrides

pytestmark = [pytest.mark.transformer, pytest.mark.slow]


def test_packaged_base_resolves_to_local_weights():
    folder = resolve_base("sentence-transformers/all-MiniLM-L6-v2")
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


@pytest.mark.parametrize("base", ["bert-base-uncased", "someone/some-model", "/nonexistent/folder"])
def test_hub_ids_without_local_weights_fail_clearly(base):
    with pytest.raises(ModelFolderError, match="not a local model folder.*never downloads weights"):
        resolve_base(base)


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory, tiny_data, mlflow_store):
    workdir = tmp_path_factory.mktemp("minilm")
    overrides = project_overrides(workdir, tiny_data / "labelled", tiny_data / "articles")
    config = load_config(ROOT / "configs" / "tiny-minilm.yaml", overrides)
    return config, train(config)


def test_tiny_run_trains_tracks_and_exports(minilm_run, taxonomy):
    from mlflow import MlflowClient

    from alignclf.dataset import load_processed

    config, result = minilm_run
    folder = result.folder
    card = json.loads((folder / "alignclf.json").read_text())
    assert card["kind"] == "transformer"
    assert (folder / "hf" / "model.safetensors").is_file() and (folder / "model.int8.onnx").is_file()
    assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pt"))
    hf_config = json.loads((folder / "hf" / "config.json").read_text())
    assert list(hf_config["id2label"].values()) == taxonomy.names, "a transformers pipeline on hf/ names the labels"
    run = MlflowClient().get_run(result.run_id)
    assert run.data.params["model.transformer.max_length"] == "16"
    history = MlflowClient().get_metric_history(run.info.run_id, "train.loss")
    units, _ = load_processed(config, taxonomy).units("train", taxonomy, config.model.context)
    assert len(history) == -(-len(units) // 16), "one loss point per optimizer step"
    assert MlflowClient().get_metric_history(run.info.run_id, "validation.epoch_sectors_macro_f1")
    assert "article_test.sectors.micro_f1" in run.data.metrics
    assert not (folder.parent / ".tiny-minilm.checkpoints").exists() or not any(
        (folder.parent / ".tiny-minilm.checkpoints").iterdir()
    )


TEXTS = ["Police seized heroin at the border.", "Kazakhstan raised gas exports to China.", "The match ended in a draw."]
UNITS = [Unit(TEXTS[0], "Border news"), Unit(TEXTS[1]), Unit(TEXTS[2], "Football")]


def test_reloaded_and_onnx_models_agree_with_pytorch(minilm_run):
    folder = minilm_run[1].folder
    torch_model, _, _ = load_folder(folder, runtime="torch")
    onnx_model, _, _ = load_folder(folder, runtime="onnx", quantize=False)
    int8_model, _, _ = load_folder(folder, runtime="onnx", quantize=True)
    reference = torch_model.predict_proba(UNITS)
    np.testing.assert_allclose(onnx_model.predict_proba(UNITS), reference, atol=1e-4)
    np.testing.assert_allclose(int8_model.predict_proba(UNITS), reference, atol=0.05)


def test_the_network_and_the_lexical_model_are_averaged_with_the_weight_chosen_on_validation(minilm_run):
    model, _, _ = load_folder(minilm_run[1].folder)
    assert model.lexical_ is not None and model.weight_ in (0.5, 0.8)
    network, lexical = model._own_proba(UNITS), model.lexical_.predict_proba(UNITS)
    assert not np.allclose(network, lexical)
    np.testing.assert_allclose(model.predict_proba(UNITS), model.weight_ * network + (1 - model.weight_) * lexical)


def test_the_blend_weight_is_chosen_again_on_validation_articles_and_kept_in_the_folder(minilm_run, taxonomy):
    from alignclf.dataset import load_processed
    from alignclf.evaluate import score_articles
    from alignclf.tagger import Tagger

    config, result = minilm_run
    candidates = json.loads((result.folder / "alignclf.json").read_text())["article"]["candidates"]
    by_weight = {float(k.split()[1]): v for k, v in candidates.items() if k.startswith("weight ")}
    assert set(by_weight) == {0.5, 0.8}
    budget, margin = config.article.false_alarm_budget, config.article.tie_margin
    pool = [r for r in by_weight.values() if r["false_alarm_rate"] <= budget] or list(by_weight.values())
    top = max(r["micro_f1"] for r in pool)
    best = next(r for r in pool if r["micro_f1"] >= top - margin - 1e-9)  # the first (sentence-chosen) wins ties
    kept = json.loads((result.folder / "transformer.json").read_text())["weight"]
    assert by_weight[kept] == best
    articles = load_processed(config, taxonomy).article_list("validation", taxonomy, config.model.languages)
    scored = score_articles(Tagger.from_folder(result.folder), articles)
    truth, predicted = scored.truth.astype(bool), scored.predicted.astype(bool)
    tp, wrong = np.sum(truth & predicted), np.sum(truth ^ predicted)
    assert best["micro_f1"] == pytest.approx(2 * tp / (2 * tp + wrong) if tp else 0.0, abs=1e-6), "the figure is the folder's"


def test_an_onnx_loaded_folder_can_be_saved_again(minilm_run, tmp_path):
    onnx_model, _, _ = load_folder(minilm_run[1].folder)
    onnx_model.save(tmp_path)
    again = type(onnx_model).load(tmp_path)
    np.testing.assert_allclose(again.predict_proba(UNITS), onnx_model.predict_proba(UNITS), atol=1e-9)


def test_weights_load_only_from_safetensors(minilm_run, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(minilm_run[1].folder, folder)
    weights = folder / "hf" / "model.safetensors"
    torch.save(load_file(weights), folder / "hf" / "pytorch_model.bin")
    weights.unlink()
    with pytest.raises(Exception, match="safetensors|model.safetensors"):
        load_folder(folder, runtime="torch")


def test_the_tagger_gives_the_same_shape_of_answer_for_both_kinds(minilm_run, tiny_tagger):
    from alignclf.resolve import load_model

    text = ["Trade Talks\n\nGas exports rose. Police seized heroin at the Tajik border."]
    transformer, tfidf = load_model(minilm_run[1].folder).predict(text)[0], tiny_tagger.predict(text)[0]
    assert list(transformer.scores) == list(tfidf.scores)
    assert transformer.countries == tfidf.countries == ["Tajikistan"]
    for prediction in (transformer, tfidf):
        carried = {label for item in prediction.evidence for label in item["pillars"] + item["sectors"]}
        assert carried == set(prediction.pillars + prediction.sectors)
        assert all(text[0][e["start"] : e["end"]] == e["text"] for e in prediction.evidence)


def test_a_sentence_longer_than_max_length_is_scored_in_windows(minilm_run):
    model, _, _ = load_folder(minilm_run[1].folder, runtime="torch")
    model.settings = model.settings.model_copy(update={"max_length": 16, "window_stride": 4})
    encoder = model.encoder
    long = "Police seized heroin at the border. " * 3 + "Then gas exports to China rose sharply this year."
    pieces, owner = encoder.windows([Unit(long, "A title"), Unit("Short one.")])
    windows = [p.text for p, o in zip(pieces, owner) if o == 0]
    assert len(windows) >= 2 and owner.tolist().count(1) == 1
    assert windows[0].startswith("Police") and long.endswith(windows[-1])
    assert any("gas exports" in w for w in windows), "overlapping windows: no phrase is lost at a cut"
    assert all(len(model.tokenizer_(w, "A title")["input_ids"]) <= 16 for w in windows)
    scores = model._own_proba([Unit(long, "A title")])
    window_scores = model._own_proba([p for p, o in zip(pieces, owner) if o == 0])
    np.testing.assert_allclose(scores[0], window_scores.max(axis=0), atol=1e-6)


@pytest.fixture(scope="module")
def distilbert_base(tmp_path_factory):
    """A randomly initialised DistilBERT-style model (no token_type_ids), built offline from the packaged vocabulary."""
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizer

    folder = tmp_path_factory.mktemp("distilbert")
    tokenizer = DistilBertTokenizer.from_pretrained(resolve_base("all-MiniLM-L6-v2"))
    tokenizer.save_pretrained(folder)
    config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=1, n_heads=2, hidden_dim=64)
    DistilBertModel(config).save_pretrained(folder)
    return folder


def test_a_base_without_token_type_ids_trains_and_exports(distilbert_base, tiny_data, tmp_path):
    overrides = project_overrides(tmp_path, tiny_data / "labelled", tiny_data / "articles")
    config = load_config(
        ROOT / "configs" / "tiny-minilm.yaml", overrides + [f"model.transformer.base={distilbert_base}", "tracking.enabled=false"]
    )
    result = train(config)
    model, _, _ = load_folder(result.folder)
    assert {i.name for i in model.session_.get_inputs()} == {"input_ids", "attention_mask"}
    assert model.predict_proba(UNITS).shape == (3, len(json.loads((result.folder / "alignclf.json").read_text())["thresholds"]))


SETTINGS_PROBE = (
    "import os, sys, torch\n"
    "before = (dict(os.environ), torch.get_num_threads())\n"
    "from alignclf.models import load_folder\n"
    "for runtime in ('torch', 'onnx'):\n"
    "    load_folder(sys.argv[1], runtime=runtime)[0].predict_proba(['Gas exports rose.'])\n"
    "print(before == (dict(os.environ), torch.get_num_threads()))\n"
)


def test_loading_a_transformer_leaves_process_settings_alone(minilm_run):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    out = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE, str(minilm_run[1].folder)], capture_output=True, text=True, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]


def test_threads_sharing_a_model_get_the_answers_one_thread_gets(minilm_run):
    """A fast tokenizer sets truncation and padding on itself per call: threads must not see each other's."""
    model, _, _ = load_folder(minilm_run[1].folder)
    requests = [
        [Unit("Gas exports rose.", "Energy talks")],
        [Unit("Police seized heroin at the border, officials in Dushanbe said on Monday.")],
        [Unit("Hackers hit the grid."), Unit("A new rail link opens.", "Transport")],
    ]
    assert_thread_safe(model, requests, repeats=150, atol=1e-5)
