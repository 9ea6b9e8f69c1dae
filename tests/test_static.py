"""The static kind: distilled from a local encoder, trained with context, saved in safe formats, loaded without torch."""

import json
import subprocess
import sys

import numpy as np
import pytest

from alignclf.config import StaticConfig, load_config
from alignclf.context import Unit
from alignclf.models import ModelFolderError, load_folder
from alignclf.models.static import StaticModel, distil, resolve_source
from alignclf.models.transformer import resolve_base
from conftest import ROOT, assert_thread_safe, project_overrides

pytestmark = [pytest.mark.transformer, pytest.mark.slow]

UNITS = [Unit("Police seized heroin at the border.", "Border news"), Unit("Kazakhstan raised gas exports to China.")]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A randomly initialised one-layer BERT with the packaged vocabulary, saved like a trained transformer's hf/."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-transformer")
    tokenizer = AutoTokenizer.from_pretrained(resolve_base("all-MiniLM-L6-v2"))
    tokenizer.save_pretrained(folder / "hf")
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(folder / "hf")
    return folder


def tiny_config(tmp_path, tiny_data, tiny_bert, *extra):
    overrides = project_overrides(tmp_path, tiny_data / "labelled", tiny_data / "articles")
    return load_config(
        ROOT / "configs" / "tiny-static.yaml", overrides + [f"model.static.source={tiny_bert}", "tracking.enabled=false", *extra]
    )


@pytest.fixture(scope="module")
def static_run(tmp_path_factory, tiny_data, tiny_bert):
    from alignclf.training import train

    config = tiny_config(tmp_path_factory.mktemp("static"), tiny_data, tiny_bert)
    return config, train(config)


def train_units(config):
    from alignclf.dataset import load_processed
    from alignclf.taxonomy import Taxonomy

    taxonomy = Taxonomy.from_yaml(config.taxonomy)
    return taxonomy, *load_processed(config, taxonomy).units("train", taxonomy, config.model.context)


def test_a_source_folder_resolves_offline_and_a_hub_id_fails_clearly(tiny_bert, tmp_path):
    assert resolve_source(str(tiny_bert)) == (tiny_bert / "hf", False), "a trained transformer folder gives its hf/"
    assert resolve_source(str(tiny_bert / "hf")) == (tiny_bert / "hf", False)
    assert resolve_source(None) == (resolve_base("all-MiniLM-L6-v2"), False)
    for source in ("minishlab/potion-base-8M", str(tmp_path / "missing")):
        with pytest.raises(ModelFolderError, match="model.static.source.*never downloads"):
            resolve_source(source)


def test_distilling_a_local_folder_gives_a_vector_per_token(tiny_bert):
    static = distil(StaticConfig(source=str(tiny_bert), pca_dims=8, max_length=32))
    assert static.dim == 8
    assert len(static.tokens) > 20000, "every token of the source's vocabulary gets a vector"
    vectors = static.encode(["Gas exports rose.", "Police seized heroin."])
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=1e-2)


def test_the_recipe_trains_tunes_and_exports_safe_files(static_run):
    from alignclf.resolve import load_model

    config, result = static_run
    folder = result.folder
    card = json.loads((folder / "alignclf.json").read_text())
    assert card["kind"] == "static" and card["context"] == "title"
    for name in (
        "static/model.safetensors",
        "static/tokenizer.json",
        "static/config.json",
        "static-head.safetensors",
        "static.json",
    ):
        assert (folder / name).is_file(), name
    assert not [p for p in folder.rglob("*") if p.suffix in {".bin", ".pt", ".pkl", ".pickle", ".joblib"}]
    assert "article_test.sectors.micro_f1" in card["metrics"]
    prediction = load_model(folder).predict(["Trade Talks\n\nGas exports rose. Police seized heroin at the Tajik border."])[0]
    assert set(prediction.scores) == set(card["thresholds"])


def test_a_fitted_model_scores_the_same_after_save_and_load(static_run, tmp_path):
    config, result = static_run
    settings = config.model.static.model_copy(update={"source": str(result.folder / "static")})
    assert resolve_source(settings.source)[1], "a model2vec folder is used as it is"
    taxonomy, units, targets = train_units(config)
    model = StaticModel(settings, 0, taxonomy.names).fit(units, targets)
    model.save(tmp_path)
    loaded = StaticModel.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(UNITS), model.predict_proba(UNITS), atol=1e-6)
    assert loaded.predict_proba(UNITS).shape == (2, len(taxonomy.names))


def test_the_context_changes_the_scores(static_run):
    model, _, _ = load_folder(static_run[1].folder)
    text = "Police seized heroin at the border."
    alone, football, border = model.predict_proba([Unit(text), Unit(text, "Football results"), Unit(text, "Drug trafficking")])
    assert not np.allclose(alone, football) and not np.allclose(football, border)
    np.testing.assert_allclose(model.predict_proba([Unit(text, "")])[0], alone)


def test_threads_sharing_a_model_get_the_answers_one_thread_gets(static_run):
    """model2vec sets its tokenizer's truncation per call: threads must not see each other's."""
    model, _, _ = load_folder(static_run[1].folder)
    requests = [[Unit("Gas exports rose.", "Energy talks")], [Unit("Police seized heroin at the border, officials said.")]]
    assert_thread_safe(model, requests, repeats=300, atol=1e-6)


def test_loading_and_predicting_never_import_torch(static_run):
    code = (
        "import sys, alignclf; from alignclf.cli import app; "
        f"alignclf.load_model({str(static_run[1].folder)!r}).predict(['Gas exports rose.']); "
        "print('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_folder_missing_its_vectors_is_refused(static_run, tmp_path):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(static_run[1].folder, folder)
    (folder / "static" / "model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="static/model.safetensors is missing"):
        load_folder(folder)


def test_fine_tuning_moves_the_token_vectors(static_run, tmp_path):
    config, result = static_run
    settings = StaticConfig(source=str(result.folder / "static"), finetune_epochs=1, finetune_learning_rate=0.05)
    taxonomy, units, targets = train_units(config)
    model = StaticModel(settings, 0, taxonomy.names).fit(units, targets)
    before = distil(settings).embedding.astype(np.float32)
    assert model.static_.embedding.shape == before.shape
    assert not np.allclose(model.static_.embedding.astype(np.float32), before, atol=1e-3)
    model.save(tmp_path)
    assert resolve_source(str(tmp_path / "static"))[1], "tuned vectors are a model2vec folder a later run can start from"
    np.testing.assert_allclose(StaticModel.load(tmp_path).predict_proba(UNITS), model.predict_proba(UNITS), atol=1e-6)
