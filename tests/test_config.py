import pytest

from alignclf.config import ConfigError, flatten, load_config
from conftest import ROOT


def test_committed_configs_validate():
    for name in ("tfidf", "tiny", "data"):
        load_config(ROOT / "configs" / f"{name}.yaml")


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  tfidf:\n    CC: 3\n")
    with pytest.raises(ConfigError, match=r"model\.tfidf\.CC: unknown key"):
        load_config(path)


def test_wrong_type_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: many\n")
    with pytest.raises(ConfigError, match=r"seed: .*'many'"):
        load_config(path)


def test_overrides_set_nested_keys_with_yaml_types():
    config = load_config(
        ROOT / "configs" / "tfidf.yaml", ["model.tfidf.C=0.5", "tracking.promote=false", "model.tfidf.word_ngrams=[1,3]"]
    )
    assert config.model.tfidf.C == 0.5
    assert config.tracking.promote is False
    assert config.model.tfidf.word_ngrams == (1, 3)


@pytest.mark.parametrize("override", ["model.tfidf.nope=1", "nope=1", "seed"])
def test_bad_overrides_are_refused(override):
    with pytest.raises(ConfigError, match="nope|key=value"):
        load_config(None, [override])


def test_override_is_validated_by_the_schema():
    with pytest.raises(ConfigError, match="model.kind"):
        load_config(None, ["model.kind=forest"])


def test_flatten_gives_dotted_string_params():
    flat = flatten(load_config(None, ["seed=7"]))
    assert flat["seed"] == "7"
    assert flat["model.tfidf.C"] == "4.0"
    assert flat["model.tfidf.max_features"] == "null"


@pytest.mark.parametrize("name", ["..", "", "a/b", ".hidden"])
def test_names_that_are_not_plain_folder_names_are_refused(name):
    with pytest.raises(ConfigError, match="name"):
        load_config(None, [f"name={name}"])


def test_override_under_an_empty_section(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n")
    assert load_config(path, ["data.test_fraction=0.2"]).data.test_fraction == 0.2


def test_thresholds_must_be_ordered():
    with pytest.raises(ConfigError, match="minimum <= default <= maximum"):
        load_config(None, ["thresholds.minimum=0.9"])
