"""The one module that talks to MLflow: runs, datasets, plots, the registry and the champion alias."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import Config, flatten
from alignclf.metrics import Report, flat_metrics
from alignclf.taxonomy import Taxonomy

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# Models-from-code entry point, logged by path so this layer never imports the tagger.
PYFUNC_ENTRY = Path(__file__).with_name("mlflow_model.py")
_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "pyyaml", "pydantic", "blingfire")


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


@dataclass
class TrackedRun:
    run_id: str
    model_uri: str
    version: str | None
    promoted: bool


def _pip_requirements(kind: str) -> list[str]:
    """Pinned from what is installed, so MLflow never resolves packages over the network."""
    names = list(_REQUIREMENTS) + (["torch", "transformers", "safetensors", "onnxruntime"] if kind == "transformer" else [])
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, DataType, Map, Object, Property, Schema

    inputs = Schema(
        [
            ColSpec(DataType.string, "text"),
            ColSpec(DataType.string, "id", required=False),
            ColSpec(DataType.string, "title", required=False),
        ]
    )
    strings = Array(DataType.string)
    evidence = Object(
        [
            Property("start", DataType.long),
            Property("end", DataType.long),
            Property("text", DataType.string),
            Property("pillars", strings),
            Property("sectors", strings),
        ]
    )
    outputs = Schema(
        [
            ColSpec(DataType.string, "id", required=False),
            ColSpec(strings, "pillars"),
            ColSpec(strings, "sectors"),
            ColSpec(Map(DataType.double), "scores"),
            ColSpec(Array(evidence), "evidence"),
            ColSpec(strings, "countries"),
            ColSpec(DataType.string, "model"),
            ColSpec(DataType.string, "error", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def _figures(reports: dict[str, Report], confusion: dict[str, tuple[np.ndarray, np.ndarray]], taxonomy: Taxonomy):
    """Per-label P/R/F1 bars and per-label 2x2 confusion matrices on the test split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = reports["test"]
    names = [item.label for item in report.labels]
    bars, axis = plt.subplots(figsize=(10, 4))
    width = 0.27
    positions = np.arange(len(names))
    for offset, metric in enumerate(("precision", "recall", "f1")):
        axis.bar(positions + (offset - 1) * width, [getattr(i, metric) for i in report.labels], width, label=metric)
    axis.set_xticks(positions, names, rotation=30, ha="right")
    axis.set_ylim(0, 1.18)
    axis.set_title("Test split: precision, recall and F1 per label")
    axis.legend(loc="upper center", ncol=3, frameon=False)
    bars.tight_layout()

    y_true, y_pred = confusion["test"]
    columns = 5
    rows = -(-len(names) // columns)
    grid, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows))
    for index, ax in enumerate(np.atleast_1d(axes).ravel()):
        if index >= len(names):
            ax.axis("off")
            continue
        t, p = y_true[:, index], y_pred[:, index]
        matrix = np.array(
            [
                [np.sum((t == 0) & (p == 0)), np.sum((t == 0) & (p == 1))],
                [np.sum((t == 1) & (p == 0)), np.sum((t == 1) & (p == 1))],
            ]
        )
        ax.imshow(matrix, cmap="Blues")
        for (r, c), value in np.ndenumerate(matrix):
            ax.text(c, r, str(value), ha="center", va="center", color="white" if value > matrix.max() / 2 else "black")
        ax.set_title(names[index])
        ax.set_xticks([0, 1], ["pred 0", "pred 1"])
        ax.set_yticks([0, 1], ["true 0", "true 1"])
    grid.suptitle("Test split: confusion matrix per label")
    grid.tight_layout()
    return {"plots/per_label_f1.png": bars, "plots/confusion_matrices.png": grid}


def _champion_score(client, config: Config) -> float | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(config.tracking.registered_model, config.tracking.champion_alias)
    except MlflowException:
        return None
    run = client.get_run(version.run_id)
    return run.data.metrics.get(config.tracking.champion_metric)


def log_run(
    config: Config,
    config_path: str | None,
    folder: Path,
    splits: dict[str, Any],
    data_digest: str,
    reports: dict[str, Report],
    confusion: dict[str, tuple[np.ndarray, np.ndarray]],
    series: dict[str, list[float]],
    taxonomy: Taxonomy,
) -> TrackedRun:
    """Log one training run, register its model and move the champion alias if it wins.

    `splits` maps split name to a pandas DataFrame (id, text, pillars, sectors, source).
    """
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    metrics = flat_metrics(reports)
    if config.tracking.promote and config.tracking.champion_metric not in metrics:
        raise ValueError(
            f"tracking.champion_metric {config.tracking.champion_metric!r} is not a metric (e.g. test.sectors.macro_f1)"
        )
    uri = configure()
    if mlflow.get_experiment_by_name(config.tracking.experiment) is None:
        mlflow.create_experiment(config.tracking.experiment, artifact_location=_artifact_location(uri))
    mlflow.set_experiment(config.tracking.experiment)
    client = MlflowClient()
    with mlflow.start_run(run_name=config.name) as run:
        mlflow.set_tags(
            {"alignclf.kind": config.model.kind, "alignclf.data_digest": data_digest, "alignclf.taxonomy_digest": taxonomy.digest}
        )
        mlflow.log_params(flatten(config))
        for name, frame in splits.items():
            source = str(Path(config.data.processed_dir).resolve() / "parquet" / f"{name}.parquet")
            with warnings.catch_warnings():  # a local path matches several equivalent source types
                warnings.simplefilter("ignore", UserWarning)
                dataset = mlflow.data.from_pandas(frame, source=source, name=f"alignclf-{name}", digest=data_digest)
            mlflow.log_input(dataset, context=name)
        for key, values in series.items():
            for step, value in enumerate(values):
                mlflow.log_metric(key, value, step=step)
        mlflow.log_metrics(metrics)
        import matplotlib.pyplot as plt

        for path, figure in _figures(reports, confusion, taxonomy).items():
            mlflow.log_figure(figure, path)
            plt.close(figure)
        mlflow.log_dict({split: report.to_dict() for split, report in reports.items()}, "classification_report.json")
        with tempfile.TemporaryDirectory() as scratch:
            resolved = Path(scratch) / "config.resolved.yaml"
            import yaml

            resolved.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
            mlflow.log_artifact(str(resolved), "config")
        if config_path:
            mlflow.log_artifact(config_path, "config")
        example = pd.DataFrame(
            {"id": ["example-1"], "text": ["Kazakhstan raised gas exports to China by 10% this year."], "title": [""]}
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_ENTRY),
            artifacts={"model_dir": str(folder)},
            signature=_signature(),
            input_example=example,
            pip_requirements=_pip_requirements(config.model.kind),
            registered_model_name=config.tracking.registered_model if config.tracking.register_model else None,
        )
        version = str(info.registered_model_version) if config.tracking.register_model and info.registered_model_version else None
        promoted = False
        if version and config.tracking.promote:
            current = _champion_score(client, config)
            challenger = metrics[config.tracking.champion_metric]
            if current is None or challenger > current:
                client.set_registered_model_alias(config.tracking.registered_model, config.tracking.champion_alias, version)
                promoted = True
        mlflow.set_tag("alignclf.champion", str(promoted).lower())
        (folder / "mlflow.json").write_text(
            json.dumps({"run_id": run.info.run_id, "model_uri": info.model_uri, "version": version}) + "\n"
        )
        return TrackedRun(run.info.run_id, info.model_uri, version, promoted)


def save_pyfunc(folder: Path, path: Path, kind: str) -> Path:
    """Wrap a model folder as an MLflow pyfunc model on disk (for serving a folder that was never logged)."""
    import mlflow

    configure()
    mlflow.pyfunc.save_model(
        path=str(path),
        python_model=str(PYFUNC_ENTRY),
        artifacts={"model_dir": str(folder)},
        signature=_signature(),
        pip_requirements=_pip_requirements(kind),
    )
    return path


def champion_uri(config: Config | None = None) -> str | None:
    """`models:/<name>@<alias>` when the tracking store has a champion, else None."""
    config = config or Config()
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None  # no store yet: neither create one nor pay for importing mlflow just to look
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    configure()
    try:
        MlflowClient().get_model_version_by_alias(config.tracking.registered_model, config.tracking.champion_alias)
    except MlflowException:
        return None
    return f"models:/{config.tracking.registered_model}@{config.tracking.champion_alias}"


def load_python_model(uri: str) -> Any:
    """The alignclf pyfunc object behind any MLflow model URI (models:/, runs:/, a path)."""
    import mlflow

    configure()
    return mlflow.pyfunc.load_model(uri).unwrap_python_model()
