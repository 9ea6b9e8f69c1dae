"""The training recipe: config -> data -> model -> thresholds -> metrics -> model folder -> MLflow."""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignclf.config import Config, load_config
from alignclf.data import SPLITS
from alignclf.dataset import ProcessedData, load_processed
from alignclf.metrics import Report, apply_thresholds, flat_metrics, score, tune_thresholds
from alignclf.models import Model, ModelCard, create_model
from alignclf.models.base import COUNTRIES_FILE, library_versions
from alignclf.taxonomy import Taxonomy
from alignclf.tracking import TrackedRun, log_run


@dataclass
class TrainResult:
    folder: Path
    reports: dict[str, Report]
    thresholds: dict[str, float]
    data_digest: str
    seconds: float
    tracked: TrackedRun | None


def export(
    model: Model, config: Config, taxonomy: Taxonomy, thresholds: np.ndarray, data_digest: str, reports: dict[str, Report]
) -> Path:
    """Write models/<name>/: weights, alignclf.json, the gazetteer and the resolved config."""
    import yaml

    target = Path(config.output_dir) / config.name
    if target.exists() and not (target / "alignclf.json").is_file():
        raise ValueError(f"{target} exists and is not a model folder; refusing to replace it")
    # Written beside the target and swapped in at the end, so a failure never leaves half a folder.
    folder = target.with_name(f".{config.name}.partial")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model.save(folder)
    ModelCard(
        kind=model.kind,
        name=config.name,
        taxonomy=taxonomy.to_dict(),
        taxonomy_digest=taxonomy.digest,
        thresholds={name: round(float(t), 6) for name, t in zip(taxonomy.names, thresholds)},
        data_digest=data_digest,
        metrics=flat_metrics(reports),
        config=config.model_dump(mode="json"),
        versions=library_versions("scikit-learn", "skops", "torch", "transformers", "onnxruntime"),
    ).write(folder)
    shutil.copyfile(config.countries, folder / COUNTRIES_FILE)
    (folder / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    if target.exists():
        shutil.rmtree(target)
    folder.rename(target)
    return target


def _frames(data: ProcessedData, taxonomy: Taxonomy) -> dict:
    frames = {}
    for split in SPLITS:
        frame = data.dataset[split].to_pandas()
        frame["pillars"] = [[taxonomy.pillars[i] for i in row] for row in frame["pillars"]]
        frame["sectors"] = [[taxonomy.sectors[i] for i in row] for row in frame["sectors"]]
        frames[split] = frame
    return frames


def train(config: Config, config_path: str | None = None) -> TrainResult:
    """Train, tune thresholds on validation, score validation and test, export, track.

    >>> train(load_config("configs/tiny.yaml")).reports["test"].averages  # doctest: +SKIP
    """
    random.seed(config.seed)
    np.random.seed(config.seed)
    taxonomy = Taxonomy.from_yaml(config.taxonomy)
    data = load_processed(config, taxonomy)
    texts = {split: data.texts(split) for split in SPLITS}
    targets = {split: data.targets(split, taxonomy) for split in SPLITS}

    started = time.perf_counter()
    model = create_model(config, len(taxonomy.names))
    model.fit(texts["train"], targets["train"], validation=(texts["validation"], targets["validation"]))
    seconds = time.perf_counter() - started

    scores = {split: model.predict_proba(texts[split]) for split in ("validation", "test")}
    t = config.thresholds
    thresholds = (
        tune_thresholds(scores["validation"], targets["validation"], t.default, t.minimum, t.maximum)
        if t.tune
        else np.full(len(taxonomy.names), t.default)
    )
    predictions = {split: apply_thresholds(scores[split], thresholds) for split in scores}
    reports = {split: score(targets[split], predictions[split], taxonomy) for split in scores}
    confusion = {split: (targets[split], predictions[split]) for split in scores}

    folder = export(model, config, taxonomy, thresholds, data.digest, reports)
    tracked = None
    if config.tracking.enabled:
        series = {**model.training_log(), "train_seconds": [round(seconds, 3)]}
        tracked = log_run(config, config_path, folder, _frames(data, taxonomy), data.digest, reports, confusion, series, taxonomy)
    return TrainResult(folder, reports, dict(zip(taxonomy.names, thresholds.tolist())), data.digest, seconds, tracked)


def main(argv: list[str] | None = None) -> int:
    """`python train.py --config configs/tfidf.yaml [key.sub=value ...]`."""
    parser = argparse.ArgumentParser(prog="train.py", description="Train an alignclf model from a YAML config.")
    parser.add_argument("--config", default="configs/tfidf.yaml", help="YAML config (default: %(default)s)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value", help="override any config key")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
        result = train(config, args.config)
    except (ValueError, OSError) as exc:  # config, data, taxonomy and model-folder errors all derive from these
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"# {config.name} ({config.model.kind}): test split, thresholds tuned on validation\n")
    print(result.reports["test"].table())
    print(f"\nmodel folder: {result.folder}\ndata digest: {result.data_digest}\ntraining time: {result.seconds:.1f} s")
    if result.tracked:
        champion = "now champion" if result.tracked.promoted else "champion unchanged"
        print(f"MLflow run: {result.tracked.run_id}; registered version: {result.tracked.version} ({champion})")
    return 0
