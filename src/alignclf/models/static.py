"""Static token embeddings distilled with model2vec, read with their context, logistic regression per label.

Training distils (and may fine-tune) a table of token vectors from a local encoder; scoring is
a tokenizer, a table look-up, a mean and one matrix product, so a folder loads and predicts with
numpy, tokenizers and safetensors alone: never torch or transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import StaticConfig
from alignclf.context import Unit
from alignclf.models.base import MetricLogger, Model, ModelFolderError
from alignclf.models.head import LinearHead, blocks_for, embed_distinct, log_loss, unit_features

EMBEDDINGS_DIR = "static"
# What model2vec's save_pretrained writes and scoring reads.
VECTOR_FILES = ("model.safetensors", "tokenizer.json", "config.json")
HEAD_FILE = "static-head.safetensors"
SETTINGS_FILE = "static.json"
# Feature blocks, in order: the sentence's vector and its context's (their product measured no better).
BLOCKS = ("text", "context")


def _is_model2vec(folder: Path) -> bool:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type") == "model2vec"
    except (OSError, ValueError):
        return False


def resolve_source(source: str | None) -> tuple[Path, bool]:
    """The local folder `model.static.source` names, and whether it already holds static vectors.

    None is the packaged MiniLM; a trained transformer model folder gives its fine-tuned `hf/` encoder.

    >>> resolve_source(None)[0].name, resolve_source(None)[1]
    ('model', False)
    """
    from alignclf.models.transformer import HF_DIR, resolve_base

    if source is None:
        return resolve_base("all-MiniLM-L6-v2"), False
    path = Path(source).expanduser()
    if (path / HF_DIR / "config.json").is_file():
        path = path / HF_DIR
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path, _is_model2vec(path)
    raise ModelFolderError(
        f"model.static.source {source!r} is not a local model folder: expected a trained transformer model folder "
        "(with hf/), a BERT-style folder (config.json and tokenizer.json) or a model2vec folder. "
        "alignclf never downloads weights; leave source empty to distil the packaged all-MiniLM-L6-v2"
    )


def distil(settings: StaticConfig) -> Any:
    """model2vec vectors of every token of the source's vocabulary (torch and transformers, training time only)."""
    folder, ready = resolve_source(settings.source)
    static = read_vectors(folder) if ready else _distil_folder(folder, settings)
    static.config["max_length"] = settings.max_length  # the setter warns when the two differ
    static.max_length = settings.max_length
    return static


def _distil_folder(folder: Path, settings: StaticConfig) -> Any:
    from model2vec.distill import distill_from_model
    from transformers import AutoModel, AutoTokenizer

    from alignclf.models.transformer import _quiet_transformers

    _quiet_transformers()
    encoder = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, use_fast=True)
    return distill_from_model(encoder, tokenizer, device="cpu", pca_dims=settings.pca_dims)


def finetune(
    static: Any,
    units: list[Unit],
    targets: np.ndarray,
    validation: tuple[list[Unit], np.ndarray] | None,
    settings: StaticConfig,
    seed: int,
) -> Any:
    """Token vectors tuned by model2vec's classifier training on the sentences' labels (its linear head is dropped)."""
    from model2vec.quantization import DType, quantize_embeddings
    from model2vec.train import StaticModelForClassification

    def labels(matrix: np.ndarray) -> list[list[str]]:
        return [[str(column) for column in np.flatnonzero(row)] for row in matrix]

    classifier = StaticModelForClassification.from_static_model(model=static, n_layers=0, out_dim=targets.shape[1])
    extra = {}
    if validation is not None:
        extra = {"X_val": [u.text for u in validation[0]], "y_val": labels(validation[1])}
    classifier.fit(
        [u.text for u in units],
        labels(targets),
        learning_rate=settings.finetune_learning_rate,
        max_epochs=settings.finetune_epochs,
        early_stopping_patience=None,  # its stopping metric (Jaccard at 0.5) stays 0 for long; train the epochs asked
        class_weight=settings.class_weight,
        random_seed=seed,
        device="cpu",
        **extra,
    )
    tuned = classifier.to_static_model()
    tuned.embedding = quantize_embeddings(tuned.embedding, DType.Float16)
    # The distilled config (model type, PCA, pooling) still describes the vectors; a later run can start from them.
    tuned.config = {**static.config, **tuned.config, "finetune_epochs": settings.finetune_epochs}
    return tuned


class StaticModel(Model):
    """Distilled static embeddings: a sentence and its context each become one vector, a linear head scores them.

    The head reads `[emb(text), emb(context)]` (an empty context is a zero vector), so a title
    such as "Film review" moves the scores of every sentence under it.
    Features are standardised on train and the scaling folded into the coefficients.
    """

    kind = "static"

    def __init__(self, settings: StaticConfig, seed: int, labels: list[str]):
        super().__init__(settings, seed, labels)
        self.static_: Any = None  # a model2vec StaticModel
        self.blocks_: list[str] = list(BLOCKS)
        self.head_ = LinearHead()

    def _embed(self, texts: list[str]) -> np.ndarray:
        def encode(distinct: list[str]) -> np.ndarray:
            return self.static_.encode(distinct, use_multiprocessing=False)

        return embed_distinct(texts, encode, self.static_.dim)

    def _fit(
        self,
        units: list[Unit],
        targets: np.ndarray,
        validation: tuple[list[Unit], np.ndarray] | None,
        log: MetricLogger,
        workdir: Path | None,
    ) -> StaticModel:

        s = self.settings
        self.static_ = distil(s)
        if s.finetune_epochs:
            self.static_ = finetune(self.static_, units, targets, validation, s, self.seed)
        self.blocks_ = blocks_for(units, BLOCKS)
        self.head_.fit(unit_features(units, self._embed, self.blocks_), targets, s.C, s.class_weight, s.max_iter, self.seed)
        if validation is not None:
            log({"validation.loss": log_loss(self._predict_proba(validation[0]), validation[1])}, 0)
        return self

    def _predict_proba(self, units: list[Unit]) -> np.ndarray:
        return self.head_.predict_proba(unit_features(units, self._embed, self.blocks_))

    def save(self, directory: Path) -> None:
        self.static_.save_pretrained(directory / EMBEDDINGS_DIR)
        self.head_.save(directory / HEAD_FILE)
        tree = {"settings": self.settings.model_dump(mode="json"), "labels": self.labels, "blocks": self.blocks_}
        (directory / SETTINGS_FILE).write_text(json.dumps(tree, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, **options: Any) -> StaticModel:
        """model2vec's own folder for the vectors, safetensors and JSON for the head; no code is deserialised."""
        from safetensors import SafetensorError

        for name in (SETTINGS_FILE, HEAD_FILE, *(f"{EMBEDDINGS_DIR}/{file}" for file in VECTOR_FILES)):
            if not (directory / name).is_file():
                raise ModelFolderError(f"{directory}: {name} is missing")
        try:
            tree = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
            model = cls(StaticConfig(**tree["settings"]), seed=0, labels=tree["labels"])
            model.blocks_ = list(tree["blocks"])
            model.static_ = read_vectors(directory / EMBEDDINGS_DIR)
            model.head_ = LinearHead.load(directory / HEAD_FILE, len(model.labels), model.static_.dim * len(model.blocks_))
        except (KeyError, TypeError, ValueError, SafetensorError) as exc:
            raise ModelFolderError(f"{directory}: static weights are not valid: {exc}") from None
        return model


def read_vectors(folder: Path) -> Any:
    """A model2vec folder as `model2vec.StaticModel.from_pretrained` reads it, without its hub client.

    `from_pretrained` imports huggingface_hub's HTTP stack for model cards, most of a second;
    these are the same files into the same class.
    """
    from model2vec.model import StaticModel as Vectors
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    tensors = load_file(str(folder / "model.safetensors"))
    return Vectors(
        vectors=tensors["embeddings"],
        tokenizer=Tokenizer.from_file(str(folder / "tokenizer.json")),
        config=config,
        normalize=config.get("normalize", False),
        weights=tensors.get("weights"),
        token_mapping=tensors.get("mapping"),
        max_length=config.get("max_length", 512),
    )
