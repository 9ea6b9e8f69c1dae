"""One contract for every model kind: fit, predict_proba, save/load round trip, folder checks."""

import json
import shutil

import numpy as np
import pytest

from alignclf.config import load_config
from alignclf.context import Unit
from alignclf.models import ModelFolderError, create_model, load_folder
from alignclf.resolve import load_model
from alignclf.taxonomy import Taxonomy

TOY = Taxonomy.from_dict({"pillars": [{"name": "security"}], "sectors": [{"name": "energy"}]})

TEXTS = [
    "Police seized 300 kg of heroin at the border.",
    "Kazakhstan raised gas exports to China by ten percent.",
    "The striker scored twice in the derby.",
    "Narcotics squad arrests couriers carrying opium.",
    "New pipeline will carry gas from Turkmenistan.",
    "Rain is expected across the capital on Sunday.",
] * 3
TARGETS = np.array([[1, 0], [0, 1], [0, 0], [1, 0], [0, 1], [0, 0]] * 3)


def kinds():
    yield pytest.param("tfidf", [], id="tfidf")
    yield pytest.param(
        "transformer",
        ["model.transformer.epochs=1", "model.transformer.max_length=16", "model.transformer.runtime=torch"],
        id="transformer",
        marks=pytest.mark.transformer,
    )


UNITS = [Unit(text, "Match report" if "striker" in text else "") for text in TEXTS]


@pytest.mark.parametrize("kind, overrides", kinds())
def test_contract_fit_predict_save_load(kind, overrides, tmp_path):
    config = load_config(None, [f"model.kind={kind}", *overrides])
    model = create_model(config, TOY)
    assert model.fit(UNITS, TARGETS) is model
    scores = model.predict_proba(UNITS[:6])
    assert scores.shape == (6, 2) and np.all((scores >= 0) & (scores <= 1))
    assert model.predict_proba([]).shape == (0, 2)
    assert model.predict_proba(TEXTS[:2]).shape == (2, 2), "a bare string is a unit without context"
    model.save(tmp_path)
    again = type(model).load(tmp_path)
    np.testing.assert_allclose(again.predict_proba(UNITS[:6]), scores, atol=1e-6)


def test_tfidf_learns_the_toy_task():
    model = create_model(load_config(None), TOY).fit(UNITS, TARGETS)
    assert (model.predict_proba(UNITS[:6]) >= 0.5).astype(int).tolist() == TARGETS[:6].tolist()


def test_tfidf_context_moves_the_score():
    model = create_model(load_config(None), TOY).fit(UNITS, TARGETS)
    plain, in_context = model.predict_proba(
        [Unit("The striker scored twice."), Unit("The striker scored twice.", "Match report")]
    )
    assert not np.allclose(plain, in_context)


def test_tfidf_scores_block_by_block_as_one_feature_matrix_would():
    """Scoring sums each block's product (a context's once); training reads all blocks as one matrix."""
    model = create_model(load_config(None), TOY).fit(UNITS, TARGETS)
    units = [Unit("Gas flows east.", "Pipeline deal"), Unit("Heroin seized.", "Pipeline deal"), Unit("Heroin seized."), *UNITS]
    logits = np.asarray(model._features(units) @ model.coef_.T, dtype=np.float64) + model.intercept_
    np.testing.assert_allclose(model.predict_proba(units), 1 / (1 + np.exp(-logits)), atol=1e-6)


@pytest.fixture
def folder_copy(tiny_run, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(tiny_run[1].folder, target)
    return target


def edit_card(folder, change):
    path = folder / "alignclf.json"
    card = json.loads(path.read_text())
    change(card)
    path.write_text(json.dumps(card))


def test_folder_with_unknown_kind_is_refused(folder_copy):
    edit_card(folder_copy, lambda card: card.update(kind="forest"))
    with pytest.raises(ModelFolderError, match="unknown model kind 'forest'"):
        load_folder(folder_copy)


def test_folder_with_tampered_taxonomy_is_refused(folder_copy):
    edit_card(folder_copy, lambda card: card["taxonomy"]["sectors"].append({"name": "space"}))
    with pytest.raises(ModelFolderError, match="taxonomy does not match"):
        load_model(folder_copy)


def test_folder_whose_weights_disagree_with_the_taxonomy_is_refused(folder_copy, taxonomy):
    def drop_label(card):
        dropped = card["taxonomy"]["sectors"].pop()["name"]
        card["thresholds"].pop(dropped)
        card["article"]["thresholds"].pop(dropped)
        from alignclf.taxonomy import Taxonomy

        card["taxonomy_digest"] = Taxonomy.from_dict(card["taxonomy"]).digest

    edit_card(folder_copy, drop_label)
    n = len(taxonomy.names)
    with pytest.raises(ModelFolderError, match=f"weights score {n} labels but the taxonomy has {n - 1}"):
        load_folder(folder_copy)


def test_folder_with_unknown_format_version_is_refused(folder_copy):
    edit_card(folder_copy, lambda card: card.update(format_version=1))
    with pytest.raises(ModelFolderError, match="format_version 1 is not supported.*retrain"):
        load_folder(folder_copy)


def test_missing_folder_and_missing_card(tmp_path):
    with pytest.raises(ModelFolderError, match="not found"):
        load_folder(tmp_path / "nothing")
    with pytest.raises(ModelFolderError, match="alignclf.json is missing"):
        load_folder(tmp_path)


def test_folder_with_a_broken_gazetteer_is_refused(folder_copy):
    from alignclf.tagger import Tagger

    (folder_copy / "countries.yaml").write_text("China: []\n")
    with pytest.raises(ModelFolderError, match="not a valid gazetteer"):
        Tagger.from_folder(folder_copy)


@pytest.mark.parametrize(
    "analyzer, ngrams",
    [
        ("word", (1, 2)),
        ("word", (1, 3)),
        ("word", (2, 2)),
        ("char_wb", (3, 5)),
        ("char_wb", (1, 3)),
        ("char_wb", (2, 5)),
        ("char_wb", (5, 6)),
        ("char", (1, 4)),
        ("char", (3, 5)),
    ],
)
def test_the_scoring_transform_gives_scikit_learns_numbers(analyzer, ngrams):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from alignclf.models.vectorize import Vectorizer

    train = TEXTS + [
        "Казахстан увеличил экспорт газа в Китай.",
        "哈萨克斯坦对华天然气出口增长。",
        "A  b   c",
        "x",
        "Tab\tand\nnew line, no-break\u00a0space; emoji 🚆 rail 🚆",
        "a an ant ants a a",
    ]
    pattern = r"(?u)\b\w[\w'-]*\b" if analyzer == "word" else None
    fitted = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, token_pattern=pattern, sublinear_tf=True, dtype=np.float32)
    fitted.fit(train)
    probe = [*train, "Unseen words: gas, heroin, GAS!", "", "   ", "\n\t ", "ants\n\nand  🚆🚆 x"]
    expected = fitted.transform(probe).toarray()
    np.testing.assert_allclose(Vectorizer.from_sklearn(fitted).transform(probe).toarray(), expected, atol=1e-6)


def test_loading_a_tfidf_folder_never_imports_scikit_learn(tiny_run):
    import subprocess
    import sys

    code = (
        "import sys, alignclf; "
        f"alignclf.load_model({str(tiny_run[1].folder)!r}).predict(['Gas exports rose.']); "
        "print(any(name == 'sklearn' or name.startswith('sklearn.') for name in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
