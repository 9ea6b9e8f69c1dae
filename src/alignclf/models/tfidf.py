"""TF-IDF baseline: word and character n-grams, one-vs-rest logistic regression, skops weights."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import Config, TfidfConfig
from alignclf.models.base import Model, ModelFolderError

WEIGHTS_FILE = "model.skops"
_TORCH_SHIM = "sklearn.externals.array_api_compat.torch"


class _HideTorchShim:
    """Import finder that makes sklearn's torch array-API shim unavailable while skops loads."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == _TORCH_SHIM:
            raise ImportError(name)
        return None


def _skops_io():
    """`skops.io`, imported without pulling in torch.

    skops builds its trusted-type list with sklearn's `all_estimators`, whose package walk
    imports the torch shim (and so torch, ~3 s) whenever torch is installed. The walk
    skips packages that fail to import, so the shim is hidden for that one import.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    finder = _HideTorchShim()
    sys.meta_path.insert(0, finder)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(finder)
    return skops.io


class TfidfModel(Model):
    """A strong linear baseline; character n-grams carry it across spelling and inflection.

    >>> model = TfidfModel(TfidfConfig(), seed=0).fit(["oil deal", "goal scored"], np.array([[1, 0], [0, 1]]))
    >>> model.predict_proba(["oil exports"]).shape
    (1, 2)
    """

    kind = "tfidf"

    def __init__(self, settings: TfidfConfig, seed: int):
        self.settings = settings
        self.seed = seed
        self.pipeline_ = None

    @classmethod
    def from_config(cls, config: Config, n_labels: int) -> TfidfModel:
        return cls(config.model.tfidf, config.seed)

    @property
    def n_labels(self) -> int:
        return len(self.pipeline_.steps[-1][1].estimators_)

    def _build(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import Pipeline, make_union

        s = self.settings
        common = {"sublinear_tf": s.sublinear_tf, "min_df": s.min_df, "max_features": s.max_features, "lowercase": True}
        features = make_union(
            TfidfVectorizer(analyzer="word", ngram_range=tuple(s.word_ngrams), token_pattern=r"(?u)\b\w[\w'-]*\b", **common),
            TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(s.char_ngrams), **common),
        )
        classifier = LogisticRegression(
            C=s.C, class_weight=s.class_weight, solver="liblinear", max_iter=s.max_iter, random_state=self.seed
        )
        return Pipeline([("features", features), ("classifier", OneVsRestClassifier(classifier))])

    def _fit(self, texts: list[str], targets: np.ndarray, validation: Any = None) -> TfidfModel:
        self.pipeline_ = self._build().fit(texts, targets)
        return self

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        scores = self.pipeline_.predict_proba(texts)
        return np.asarray(scores, dtype=np.float64).reshape(len(texts), -1)

    def save(self, directory: Path) -> None:
        _skops_io().dump(self.pipeline_, directory / WEIGHTS_FILE)

    @classmethod
    def load(cls, directory: Path, **options: Any) -> TfidfModel:
        """Load with skops, refusing any type outside scikit-learn's and numpy's trusted set."""
        sio = _skops_io()
        path = directory / WEIGHTS_FILE
        if not path.is_file():
            raise ModelFolderError(f"{directory}: {WEIGHTS_FILE} is missing")
        untrusted = sio.get_untrusted_types(file=path)
        if untrusted:
            raise ModelFolderError(f"{path} holds types that are not trusted, refusing to load: {untrusted}")
        model = cls(TfidfConfig(), seed=0)
        model.pipeline_ = sio.load(path)
        return model
