"""Which model: the default-model rule, URIs, and loading once per process."""

import json
import shutil

import pytest

import alignclf
from alignclf import resolve
from alignclf.resolve import NoModelError, default_model, load_model, newest_folder


def test_predict_loads_the_model_once(tiny_run, monkeypatch):
    loads = []
    real = resolve.load_model
    monkeypatch.setattr(resolve, "load_model", lambda spec: loads.append(spec) or real(spec))
    monkeypatch.setattr(resolve, "_LOADED", {})
    folder = str(tiny_run[1].folder)
    first = alignclf.predict(["Police seized heroin at the border."], model=folder)
    alignclf.predict(["Gas exports rose."], model=folder)
    assert loads == [folder]
    assert first[0]["sectors"] == ["drug_trafficking"]


def test_default_model_order(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.delenv("ALIGNCLF_MODEL", raising=False)
    with pytest.raises(NoModelError, match="make run"):
        default_model()
    assert not (tmp_path / "none.db").exists(), "looking for a champion must not create a store"
    shutil.copytree(tiny_run[1].folder, tmp_path / "models" / "mine")
    assert default_model() == "models/mine"
    monkeypatch.setenv("ALIGNCLF_MODEL", "models:/other@x")
    assert default_model() == "models:/other@x"


def test_champion_is_the_default_when_registered(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALIGNCLF_MODEL", raising=False)
    assert default_model() == "models:/alignclf@champion"


def _copy_with_time(source, target, trained_at):
    shutil.copytree(source, target)
    card = json.loads((target / "alignclf.json").read_text())
    card["trained_at"] = trained_at
    (target / "alignclf.json").write_text(json.dumps(card))


def test_newest_folder_follows_the_card_not_file_times_and_skips_partial_folders(tiny_run, tmp_path):
    source = tiny_run[1].folder
    _copy_with_time(source, tmp_path / "b-older", "2026-01-01T00:00:00+00:00")
    _copy_with_time(source, tmp_path / "a-newer", "2026-06-01T00:00:00+00:00")
    _copy_with_time(source, tmp_path / ".a-newer.partial", "2027-01-01T00:00:00+00:00")
    (tmp_path / "b-older" / "alignclf.json").touch()  # a newer file time must not matter
    assert newest_folder(tmp_path).name == "a-newer"
    _copy_with_time(source, tmp_path / "c-same", "2026-06-01T00:00:00+00:00")
    assert newest_folder(tmp_path).name == "c-same", "ties go to the name, the same on every machine"


@pytest.mark.parametrize("uri", ["models:/no-such-model@champion", "runs:/0123456789abcdef/model"])
def test_an_unknown_mlflow_uri_is_a_clear_error(tiny_run, uri):
    with pytest.raises(NoModelError, match="cannot load MLflow model"):
        load_model(uri)


def test_a_folder_that_is_neither_model_nor_uri(tmp_path):
    with pytest.raises(NoModelError, match="neither a model folder nor an MLflow model URI"):
        load_model(str(tmp_path / "missing"))
