"""TF-IDF baseline: word and character n-grams of the sentence, words of its context, logistic regression per label.

Weights are stored as safetensors (idf vectors, coefficients) plus a JSON vocabulary, so a
folder loads in well under a second and never runs pickle or skops' type walk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import Config, TfidfConfig
from alignclf.context import Unit
from alignclf.models.base import MetricLogger, Model, ModelFolderError
from alignclf.taxonomy import Taxonomy

WEIGHTS_FILE = "tfidf.safetensors"
VOCABULARY_FILE = "tfidf.json"
_TOKENS = r"(?u)\b\w[\w'-]*\b"


def _vectorizers(settings: TfidfConfig) -> dict[str, Any]:
    """The three feature blocks: the sentence's words and characters, and the words of its context."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    common = {"sublinear_tf": settings.sublinear_tf, "lowercase": True, "dtype": np.float32}
    blocks = {
        "word": TfidfVectorizer(
            analyzer="word", ngram_range=tuple(settings.word_ngrams), token_pattern=_TOKENS, min_df=settings.min_df, **common
        ),
        "char": TfidfVectorizer(
            analyzer="char_wb", ngram_range=tuple(settings.char_ngrams or (1, 1)), min_df=settings.min_df, **common
        ),
        "context": TfidfVectorizer(analyzer="word", ngram_range=(1, 1), token_pattern=_TOKENS, **common),
    }
    if settings.char_ngrams is None:
        del blocks["char"]
    return blocks


class TfidfModel(Model):
    """A strong linear baseline; character n-grams carry it across spelling and inflection.

    The context block is weighted by `context_weight`: a title such as "Film review" pulls
    every sentence of the piece towards no label.

    >>> model = TfidfModel(TfidfConfig(), seed=0, labels=["a", "b"])
    >>> model = model.fit(["oil deal", Unit("goal scored", "Cup final")], np.array([[1, 0], [0, 1]]))
    >>> model.predict_proba(["oil exports"]).shape
    (1, 2)
    """

    kind = "tfidf"

    def __init__(self, settings: TfidfConfig, seed: int, labels: list[str]):
        self.settings = settings
        self.seed = seed
        self.labels = list(labels)
        self.vectorizers_: dict[str, Any] = {}
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None

    @classmethod
    def from_config(cls, config: Config, taxonomy: Taxonomy) -> TfidfModel:
        return cls(config.model.tfidf, config.seed, taxonomy.names)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def _features(self, units: list[Unit], fit: bool = False):
        from scipy.sparse import hstack

        texts = [u.text for u in units]
        blocks = []
        for name, vectorizer in self.vectorizers_.items():
            column = [u.context for u in units] if name == "context" else texts
            matrix = vectorizer.fit_transform(column) if fit else vectorizer.transform(column)
            blocks.append(matrix * self.settings.context_weight if name == "context" else matrix)
        return hstack(blocks, format="csr", dtype=np.float32)

    def _fit(
        self,
        units: list[Unit],
        targets: np.ndarray,
        validation: tuple[list[Unit], np.ndarray] | None,
        log: MetricLogger,
        workdir: Path | None,
    ) -> TfidfModel:
        from sklearn.linear_model import LogisticRegression

        self.vectorizers_ = _vectorizers(self.settings)
        if not any(u.context for u in units):
            del self.vectorizers_["context"]  # trained without context: contexts are ignored when scoring
        features = self._features(units, fit=True)
        s = self.settings
        coefs, intercepts = [], []
        for column in range(targets.shape[1]):
            classifier = LogisticRegression(
                C=s.C, class_weight=s.class_weight, solver="liblinear", max_iter=s.max_iter, random_state=self.seed
            ).fit(features, targets[:, column])
            coefs.append(classifier.coef_[0])
            intercepts.append(classifier.intercept_[0])
        self.coef_ = np.asarray(coefs, dtype=np.float32)
        self.intercept_ = np.asarray(intercepts, dtype=np.float32)
        return self

    def _predict_proba(self, units: list[Unit]) -> np.ndarray:
        logits = np.asarray(self._features(units) @ self.coef_.T, dtype=np.float64) + self.intercept_
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, directory: Path) -> None:
        from safetensors.numpy import save_file

        vocabularies = {}
        tensors = {"coef": self.coef_, "intercept": self.intercept_}
        for name, vectorizer in self.vectorizers_.items():
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
            vocabularies[name] = terms
            tensors[f"idf.{name}"] = vectorizer.idf_.astype(np.float32)
        save_file(tensors, str(directory / WEIGHTS_FILE))
        tree = {"settings": self.settings.model_dump(mode="json"), "labels": self.labels, "vocabularies": vocabularies}
        (directory / VOCABULARY_FILE).write_text(json.dumps(tree, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, **options: Any) -> TfidfModel:
        """Rebuild the vectorizers from their vocabularies and idf weights; no code is deserialised."""
        from safetensors.numpy import load_file

        weights, vocabulary = directory / WEIGHTS_FILE, directory / VOCABULARY_FILE
        for path in (weights, vocabulary):
            if not path.is_file():
                raise ModelFolderError(f"{directory}: {path.name} is missing")
        try:
            tree = json.loads(vocabulary.read_text(encoding="utf-8"))
            tensors = load_file(str(weights))
            model = cls(TfidfConfig(**tree["settings"]), seed=0, labels=tree["labels"])
            fresh = _vectorizers(model.settings)
            for name, terms in tree["vocabularies"].items():
                vectorizer = fresh[name].set_params(vocabulary=terms)
                vectorizer.idf_ = tensors[f"idf.{name}"]
                model.vectorizers_[name] = vectorizer
            model.coef_, model.intercept_ = tensors["coef"], tensors["intercept"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFolderError(f"{directory}: TF-IDF weights are not valid: {exc}") from None
        width = sum(len(v.vocabulary) for v in model.vectorizers_.values())
        if model.coef_.shape != (len(model.labels), width):
            raise ModelFolderError(f"{directory}: coefficients {model.coef_.shape} do not fit {width} features")
        return model
