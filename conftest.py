"""Shared fixtures for tests and docstring examples: the taxonomy, a temporary MLflow store, a tiny trained model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def taxonomy():
    from alignclf.taxonomy import Taxonomy

    return Taxonomy.from_yaml(ROOT / "configs" / "taxonomy.yaml")


def project_overrides(workdir: Path, labelled: Path | None = None, articles: Path | None = None) -> list[str]:
    """Overrides that keep every output of a run inside `workdir`."""
    return [
        f"taxonomy={ROOT / 'configs' / 'taxonomy.yaml'}",
        f"countries={ROOT / 'configs' / 'countries.yaml'}",
        f"data.labelled_dir={labelled or ROOT / 'data' / 'labelled'}",
        f"data.articles_dir={articles or ROOT / 'data' / 'articles'}",
        f"data.processed_dir={workdir / 'processed'}",
        f"output_dir={workdir / 'models'}",
    ]


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """A private SQLite tracking store for the whole session."""
    store = tmp_path_factory.mktemp("mlflow")
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlflow.db'}"
    yield store
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Sixty sentences and thirty articles from the committed data, a mix of every label and none."""
    folder = tmp_path_factory.mktemp("tiny-data")
    (folder / "labelled").mkdir()
    (folder / "articles").mkdir()
    lines = (ROOT / "data" / "labelled" / "authored.jsonl").read_text().splitlines()
    (folder / "labelled" / "tiny.jsonl").write_text("\n".join(lines[::38][:60]) + "\n")
    articles = [line for path in sorted((ROOT / "data" / "articles").glob("*.jsonl")) for line in path.read_text().splitlines()]
    (folder / "articles" / "tiny.jsonl").write_text("\n".join(articles[::31][:30]) + "\n")
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mlflow_store):
    """The tiny TF-IDF config trained once on the committed data, tracked in the private store."""
    from alignclf.config import load_config
    from alignclf.training import train

    workdir = tmp_path_factory.mktemp("tiny")
    config = load_config(ROOT / "configs" / "tiny.yaml", project_overrides(workdir))
    return config, train(config, str(ROOT / "configs" / "tiny.yaml"))


@pytest.fixture(scope="session")
def tiny_tagger(tiny_run):
    from alignclf.resolve import load_model

    return load_model(tiny_run[1].folder)


@pytest.fixture(autouse=True)
def _doctest_names(request):
    """Docstring examples run against the tiny model, so every `>>>` line in the package really runs."""
    if isinstance(request.node, pytest.DoctestItem):
        namespace = request.getfixturevalue("doctest_namespace")
        namespace["tiny_model_folder"] = str(request.getfixturevalue("tiny_run")[1].folder)
        namespace["load_model"] = __import__("alignclf").load_model
        request.getfixturevalue("monkeypatch").chdir(ROOT)


FEED_TOPICS = [
    "Kazakhstan raised gas exports to China by {n} percent.",
    "Police seized {n} kg of heroin near the Tajik border.\n\nThree couriers were held.",
    "The striker scored {n} goals this season.",
    "A consortium won a concession to run the Almaty toll road for {n} years.",
    "Hackers breached the railway operator's ticketing system, officials in Bishkek said.",
]


def write_feed(path: Path, count: int) -> Path:
    """A JSONL feed of `count` short articles with ids and titles, on and off topic."""
    import json

    with path.open("w") as handle:
        for n in range(count):
            text = FEED_TOPICS[n % len(FEED_TOPICS)].format(n=n)
            handle.write(json.dumps({"id": f"art-{n}", "title": f"Story {n}", "text": text}) + "\n")
    return path


def assert_thread_safe(model, requests: list, repeats: int, atol: float) -> None:
    """Each request (a list of units), sent `repeats` times from 8 threads, gets the scores one thread gets.

    A model server scores requests in threads; no per-call state may leak between them.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    expected = [model.predict_proba(units) for units in requests]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(model.predict_proba, requests * repeats))
    for index, answer in enumerate(answers):
        np.testing.assert_allclose(answer, expected[index % len(requests)], atol=atol)
