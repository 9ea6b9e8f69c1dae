"""Model kinds by name, and loading a model folder without asking which kind it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alignclf.config import Config
from alignclf.models.base import Model, ModelCard, ModelFolderError
from alignclf.models.multilingual import MultilingualModel
from alignclf.models.static import StaticModel
from alignclf.models.tfidf import TfidfModel
from alignclf.models.transformer import TransformerModel
from alignclf.taxonomy import Taxonomy

# Kind name -> class. Each kind imports its heavy libraries (torch, transformers) inside its methods,
# so importing this registry stays fast and the TF-IDF and static paths never load torch.
KINDS: dict[str, type[Model]] = {
    TfidfModel.kind: TfidfModel,
    TransformerModel.kind: TransformerModel,
    StaticModel.kind: StaticModel,
    MultilingualModel.kind: MultilingualModel,
}


def model_class(kind: str) -> type[Model]:
    if kind not in KINDS:
        raise ModelFolderError(f"unknown model kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    return KINDS[kind]


def create_model(config: Config, taxonomy: Taxonomy) -> Model:
    """A new, unfitted model of the kind the config names."""
    return model_class(config.model.kind).from_config(config, taxonomy)


def load_folder(directory: str | Path, **options: Any) -> tuple[Model, ModelCard, Taxonomy]:
    """Model, card and taxonomy of a folder; refuses unknown kinds and mismatched taxonomies."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFolderError(f"model folder not found: {directory}")
    card, taxonomy = ModelCard.read(directory, set(KINDS))
    model = model_class(card.kind).load(directory, **options)
    if model.n_labels != len(taxonomy.names):
        raise ModelFolderError(f"{directory}: weights score {model.n_labels} labels but the taxonomy has {len(taxonomy.names)}")
    return model, card, taxonomy


GATE_DIR = "gate"


def load_gate(directory: str | Path) -> Model | None:
    """The article gate saved in a model folder's `gate/`, or None when the folder has none."""
    folder = Path(directory) / GATE_DIR
    return TfidfModel.load(folder) if folder.is_dir() else None


__all__ = [
    "GATE_DIR",
    "KINDS",
    "Model",
    "ModelCard",
    "ModelFolderError",
    "create_model",
    "load_folder",
    "load_gate",
    "model_class",
]
