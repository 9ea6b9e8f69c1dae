"""The contract every model kind honours, and the alignclf.json that describes a model folder."""

from __future__ import annotations

import json
import platform
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from alignclf.config import Config
from alignclf.taxonomy import Taxonomy
from alignclf.text import normalise

METADATA_FILE = "alignclf.json"
COUNTRIES_FILE = "countries.yaml"
FORMAT_VERSION = 1


class ModelFolderError(ValueError):
    """A model folder that cannot be loaded; the message says why."""


class Model(ABC):
    """Scores sentences for every label; thresholds and aggregation live outside.

    Subclasses implement the underscored methods on normalised text; callers use the
    public ones, so training and tagging always feed a model the same form of text.
    """

    kind: ClassVar[str]

    def fit(self, texts: list[str], targets: np.ndarray, validation: tuple[list[str], np.ndarray] | None = None) -> Model:
        """Learn from texts and a 0/1 matrix (columns: taxonomy labels); returns self."""
        if validation is not None:
            validation = ([normalise(t) for t in validation[0]], validation[1])
        return self._fit([normalise(t) for t in texts], np.asarray(targets), validation)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Scores in [0, 1], one row per text and one column per label."""
        if not texts:
            return np.zeros((0, self.n_labels))
        return self._predict_proba([normalise(t) for t in texts])

    @property
    @abstractmethod
    def n_labels(self) -> int: ...

    @abstractmethod
    def _fit(self, texts: list[str], targets: np.ndarray, validation: tuple[list[str], np.ndarray] | None) -> Model: ...

    @abstractmethod
    def _predict_proba(self, texts: list[str]) -> np.ndarray: ...

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the weights (safe formats only) into an existing folder."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, **options: Any) -> Model: ...

    @classmethod
    @abstractmethod
    def from_config(cls, config: Config, n_labels: int) -> Model: ...

    def training_log(self) -> dict[str, list[float]]:
        """Per-step or per-epoch series the tracker should log; empty when there are none."""
        return {}


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
    """What alignclf.json holds: enough to predict and to know where the model came from."""

    kind: str
    name: str
    taxonomy: dict[str, Any]
    taxonomy_digest: str
    thresholds: dict[str, float]
    data_digest: str
    metrics: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

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
            raise ModelFolderError(f"{path}: format_version {card.format_version} is not supported (expected {FORMAT_VERSION})")
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
        return card, taxonomy
