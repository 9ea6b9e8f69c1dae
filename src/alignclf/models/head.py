"""Multi-label heads over sentence vectors, stored as safetensors: linear (a logistic regression per label) or MLP.

The kinds that embed text (static, multilingual) read a unit as blocks of `emb(text)`,
`emb(context)` and, for some, `emb(text) * emb(context)` (an empty context is a zero vector),
and share these heads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from alignclf.context import Unit
from alignclf.models.base import ModelFolderError

BLOCKS = ("text", "context", "product")  # the sentence's vector, its context's, and how they agree


def embed_distinct(texts: Sequence[str], encode: Callable[[list[str]], np.ndarray], dim: int) -> np.ndarray:
    """Vectors of texts, each distinct text encoded once (an article's title serves all its sentences); "" is zero."""
    distinct = list(dict.fromkeys(t for t in texts if t))
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if distinct:
        vectors = np.asarray(encode(distinct), dtype=np.float32)
        where = {text: i for i, text in enumerate(distinct)}
        rows = [i for i, t in enumerate(texts) if t]
        out[rows] = vectors[[where[texts[i]] for i in rows]]
    return out


def blocks_for(units: Sequence[Unit], blocks: Sequence[str]) -> list[str]:
    """The blocks a head is trained on: without any context in train, only the sentence's (contexts are ignored)."""
    return list(blocks) if any(u.context for u in units) else ["text"]


def unit_features(units: Sequence[Unit], embed: Callable[[list[str]], np.ndarray], blocks: Sequence[str]) -> np.ndarray:
    """The blocks asked for, side by side: `text`, `context`, `product` (where the two agree)."""
    text = embed([u.text for u in units])
    context = embed([u.context for u in units]) if set(blocks) - {"text"} else None
    parts = {"text": lambda: text, "context": lambda: context, "product": lambda: text * context}
    return np.hstack([parts[block]() for block in blocks])


def _read(path: Path, keys: Sequence[str], what: str) -> dict[str, np.ndarray]:
    """A head's tensors from safetensors, refused when the file is missing or lacks one of `keys`."""
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ModelFolderError(f"{path.parent}: {path.name} is missing")
    tensors = load_file(str(path))
    missing = [key for key in keys if key not in tensors]
    if missing:
        raise ModelFolderError(f"{path}: not {what} (missing {', '.join(missing)})")
    return {key: tensors[key] for key in keys}


class LinearHead:
    """Standardised features, one logistic regression per label; the scaling is folded into the weights."""

    def __init__(self, coef: np.ndarray | None = None, intercept: np.ndarray | None = None):
        self.coef_ = coef
        self.intercept_ = intercept

    def fit(self, features: np.ndarray, targets: np.ndarray, C: float, class_weight: str | None, max_iter: int, seed: int):
        from sklearn.linear_model import LogisticRegression

        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale[scale < 1e-6] = 1.0
        standard = (features - mean) / scale
        coefs, intercepts = [], []
        for column in range(targets.shape[1]):
            classifier = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, random_state=seed)
            classifier.fit(standard, targets[:, column])
            coefs.append(classifier.coef_[0] / scale)
            intercepts.append(classifier.intercept_[0] - float(classifier.coef_[0] @ (mean / scale)))
        self.coef_ = np.asarray(coefs, dtype=np.float32)
        self.intercept_ = np.asarray(intercepts, dtype=np.float32)
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        logits = features.astype(np.float64) @ self.coef_.T.astype(np.float64) + self.intercept_
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        save_file({"coef": self.coef_, "intercept": self.intercept_}, str(path))

    @classmethod
    def load(cls, path: Path, labels: int, width: int) -> LinearHead:
        tensors = _read(path, ("coef", "intercept"), "a linear head")
        head = cls(tensors["coef"], tensors["intercept"])
        if head.coef_.shape != (labels, width):
            raise ModelFolderError(f"{path}: coefficients {head.coef_.shape} do not fit {labels} labels of {width} features")
        return head


class MlpHead:
    """One hidden ReLU layer that all labels share, a sigmoid output per label (scikit-learn's `MLPClassifier`).

    A frozen encoder's vectors mix topic and language; a hidden layer can separate what a
    linear head cannot. Training stops early on a seeded tenth of train, so a seed fixes it;
    under `EARLY_STOPPING_MIN` examples that tenth is too small to judge by, and all
    `max_iter` epochs run. With `members` > 1, that many MLPs (seeds `seed`, `seed + 1`, ...)
    are averaged: one MLP's scores move with its seed by a few points of F1, their mean much less.
    Weights are stored with a leading member axis.
    """

    KEYS = ("hidden_weight", "hidden_bias", "output_weight", "output_bias")
    EARLY_STOPPING_MIN = 200

    def __init__(self, weights: dict[str, np.ndarray] | None = None):
        self.weights_ = weights or {}

    def fit(
        self, features: np.ndarray, targets: np.ndarray, hidden: int, alpha: float, max_iter: int, seed: int, members: int = 1
    ):
        from sklearn.neural_network import MLPClassifier

        fitted = []
        for member in range(members):
            mlp = MLPClassifier(
                hidden_layer_sizes=(hidden,),
                alpha=alpha,
                early_stopping=len(features) >= self.EARLY_STOPPING_MIN,
                max_iter=max_iter,
                random_state=seed + member,
            ).fit(features, targets)
            fitted.append((mlp.coefs_[0], mlp.intercepts_[0], mlp.coefs_[1], mlp.intercepts_[1]))
        self.weights_ = {key: np.stack([m[i] for m in fitted]).astype(np.float32) for i, key in enumerate(self.KEYS)}
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        w, features = self.weights_, features.astype(np.float32)
        scores = np.zeros((len(features), w["output_bias"].shape[-1]))
        for member in range(len(w["hidden_weight"])):
            hidden = np.maximum(features @ w["hidden_weight"][member] + w["hidden_bias"][member], 0.0)
            logits = (hidden @ w["output_weight"][member] + w["output_bias"][member]).astype(np.float64)
            scores += 1.0 / (1.0 + np.exp(-logits))
        return scores / len(w["hidden_weight"])

    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        save_file(self.weights_, str(path))

    @classmethod
    def load(cls, path: Path, labels: int, width: int) -> MlpHead:
        tensors = _read(path, cls.KEYS, "an MLP head")
        if tensors["hidden_weight"].ndim == 2:  # written before heads had members: one MLP
            tensors = {key: value[None] for key, value in tensors.items()}
        members, hidden = tensors["hidden_weight"].shape[0], tensors["hidden_weight"].shape[-1]
        shapes = {
            "hidden_weight": (members, width, hidden),
            "hidden_bias": (members, hidden),
            "output_weight": (members, hidden, labels),
            "output_bias": (members, labels),
        }
        for key, shape in shapes.items():
            if tensors[key].shape != shape:
                raise ModelFolderError(
                    f"{path}: {key} is {tensors[key].shape}, but {labels} labels of {width} features need {shape}"
                )
        return cls(tensors)


def log_loss(scores: np.ndarray, truth: np.ndarray) -> float:
    clipped = np.clip(scores, 1e-7, 1 - 1e-7)
    return float(-np.mean(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped)))
