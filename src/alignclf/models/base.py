"""The contract every model kind honours, and the alignclf.json that describes a model folder."""

from __future__ import annotations

import json
import platform
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from alignclf.config import Config
from alignclf.context import Unit
from alignclf.decision import ArticleDecision
from alignclf.errors import AlignclfError
from alignclf.taxonomy import Taxonomy
from alignclf.text import normalise

METADATA_FILE = "alignclf.json"
COUNTRIES_FILE = "countries.yaml"
FORMAT_VERSION = 2


class ModelFolderError(AlignclfError, ValueError):
    """A model folder that cannot be loaded; the message says why."""


MetricLogger = Callable[[dict[str, float], int], None]
"""Receives metrics as a model trains (name -> value, step); the training recipe points it at MLflow."""


def as_units(items: Sequence[Unit | str]) -> list[Unit]:
    """Units in the form every model sees: normalised text and context (a plain string has no context)."""
    contexts: dict[str, str] = {}  # an article's sentences share its title: normalise it once
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(Unit(normalise(item), ""))
            continue
        context = contexts.get(item.context)
        if context is None:
            context = contexts[item.context] = normalise(item.context)
        out.append(Unit(normalise(item.text), context))
    return out


class Model(ABC):
    """Scores sentences, each read in its context, for every label; thresholds and aggregation live outside.

    Subclasses implement the underscored methods on normalised units; callers use the
    public ones, so training and tagging always feed a model the same form of text.
    """

    kind: ClassVar[str]  # also the key of the kind's settings under `model` in the config

    def __init__(self, settings: Any, seed: int, labels: Sequence[str]):
        self.settings = settings
        self.seed = seed
        self.labels = list(labels)

    @classmethod
    def from_config(cls, config: Config, taxonomy: Taxonomy) -> Model:
        return cls(getattr(config.model, cls.kind), config.seed, taxonomy.names)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def fit(
        self,
        units: Sequence[Unit | str],
        targets: np.ndarray,
        validation: tuple[Sequence[Unit | str], np.ndarray] | None = None,
        log: MetricLogger | None = None,
        workdir: Path | None = None,
    ) -> Model:
        """Learn from units and a 0/1 matrix (columns: taxonomy labels); returns self.

        `log` receives per-step and per-epoch metrics while training runs. `workdir` is a folder
        the kind may keep checkpoints in: a rerun with the same folder resumes where it stopped.
        """
        if validation is not None:
            validation = (as_units(validation[0]), np.asarray(validation[1]))
        return self._fit(as_units(units), np.asarray(targets), validation, log or (lambda metrics, step: None), workdir)

    def predict_proba(self, units: Sequence[Unit | str]) -> np.ndarray:
        """Scores in [0, 1], one row per unit and one column per label."""
        if not units:
            return np.zeros((0, self.n_labels))
        return self._predict_proba(as_units(units))

    @abstractmethod
    def _fit(
        self,
        units: list[Unit],
        targets: np.ndarray,
        validation: tuple[list[Unit], np.ndarray] | None,
        log: MetricLogger,
        workdir: Path | None,
    ) -> Model: ...

    @abstractmethod
    def _predict_proba(self, units: list[Unit]) -> np.ndarray: ...

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the weights (safe formats only) into an existing folder."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, **options: Any) -> Model: ...


def library_versions(*packages: str) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("alignclf", "numpy", *packages):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


@dataclass
class ModelCard:
    """What alignclf.json holds: enough to predict and to know where the model came from.

    `thresholds` are per-label sentence thresholds (they decide evidence); `article` holds the
    article decision (aggregation and article thresholds); `context` says what a sentence is scored with.
    """

    kind: str
    name: str
    taxonomy: dict[str, Any]
    taxonomy_digest: str
    thresholds: dict[str, float]
    data_digest: str
    context: str = "none"
    languages: list[str] = field(default_factory=lambda: ["en"])
    article: dict[str, Any] = field(default_factory=dict)
    trained_at: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def decision(self, taxonomy: Taxonomy) -> ArticleDecision:
        """The article decision; a card without one decides articles by their best sentence."""
        tree = self.article or {"aggregate": "max", "thresholds": self.thresholds}
        return ArticleDecision.from_dict(tree, taxonomy.names, self.thresholds)

    def write(self, directory: Path) -> None:
        (directory / METADATA_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=False) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, known_kinds: set[str]) -> tuple[ModelCard, Taxonomy]:
        """Read and check alignclf.json; refuse unknown kinds and taxonomies that do not match."""
        path = directory / METADATA_FILE
        if not path.is_file():
            raise ModelFolderError(f"{directory} is not a model folder: {METADATA_FILE} is missing")
        try:
            tree = json.loads(path.read_text(encoding="utf-8"))
            card = cls(**tree)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ModelFolderError(f"{path} is not a valid model description: {exc}") from None
        if card.format_version != FORMAT_VERSION:
            raise ModelFolderError(
                f"{path}: format_version {card.format_version} is not supported (expected {FORMAT_VERSION}); "
                "retrain the model with this version of alignclf"
            )
        if card.kind not in known_kinds:
            raise ModelFolderError(f"{path}: unknown model kind {card.kind!r} (known: {', '.join(sorted(known_kinds))})")
        try:
            taxonomy = Taxonomy.from_dict(card.taxonomy, source=str(path))
        except ValueError as exc:
            raise ModelFolderError(f"{path}: taxonomy is not valid: {exc}") from None
        if taxonomy.digest != card.taxonomy_digest:
            raise ModelFolderError(
                f"{path}: taxonomy does not match the one the model was trained with "
                f"(digest {taxonomy.digest}, recorded {card.taxonomy_digest})"
            )
        if set(card.thresholds) != set(taxonomy.names):
            raise ModelFolderError(f"{path}: thresholds must name exactly the taxonomy's labels")
        if card.article and set(card.article.get("thresholds", {})) != set(taxonomy.names):
            raise ModelFolderError(f"{path}: article thresholds must name exactly the taxonomy's labels")
        return card, taxonomy
