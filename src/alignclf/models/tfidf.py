"""TF-IDF baseline: word and character n-grams of the sentence, words of its context, logistic regression per label.

Weights are stored as safetensors (idf vectors, coefficients) plus a JSON vocabulary, so a
folder loads in well under a second and never runs pickle or skops' type walk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import TfidfConfig
from alignclf.context import Unit
from alignclf.models.base import MetricLogger, Model, ModelFolderError
from alignclf.models.vectorize import Vectorizer

WEIGHTS_FILE = "tfidf.safetensors"
VOCABULARY_FILE = "tfidf.json"
_TOKENS = r"(?u)\b\w[\w'-]*\b"


# Block name -> (analyzer, n-gram range) from the settings; the same for scikit-learn and for scoring.
_BLOCKS = {
    "word": lambda s: ("word", tuple(s.word_ngrams)),
    "char": lambda s: (s.char_analyzer, tuple(s.char_ngrams or (1, 1))),
    "context": lambda s: ("word", (1, 1)),
}


def _vectorizers(settings: TfidfConfig) -> dict[str, Any]:
    """scikit-learn's vectorizers for the blocks, to fit; scoring then runs `Vectorizer` on what they learnt."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    blocks = {}
    for name, block in _BLOCKS.items():
        if name == "char" and settings.char_ngrams is None:
            continue
        analyzer, ngrams = block(settings)
        blocks[name] = TfidfVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            token_pattern=_TOKENS if analyzer == "word" else None,
            min_df=settings.min_df if name != "context" else 1,
            sublinear_tf=settings.sublinear_tf,
            lowercase=True,
            dtype=np.float32,
        )
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
        super().__init__(settings, seed, labels)
        self.vectorizers_: dict[str, Any] = {}
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None
        self._weights: dict[str, np.ndarray] | None = None

    def _blocks(self, units: list[Unit], fit: bool = False):
        """(name, features, owner) per block. The context block has a row per distinct context, and `owner`
        gives each unit's row; the other blocks have a row per unit and no `owner`."""
        texts = [u.text for u in units]
        for name, vectorizer in self.vectorizers_.items():
            if name != "context":
                yield name, (vectorizer.fit_transform(texts) if fit else vectorizer.transform(texts)), None
                continue
            # An article's title is the context of all its sentences: vectorise each distinct one once.
            contexts = [u.context for u in units]
            distinct = list(dict.fromkeys(contexts))
            rows = vectorizer.fit_transform(distinct) if fit else vectorizer.transform(distinct)
            where = {context: i for i, context in enumerate(distinct)}
            yield name, rows * self.settings.context_weight, np.fromiter(map(where.__getitem__, contexts), np.int64, len(units))

    def _features(self, units: list[Unit], fit: bool = False):
        from scipy.sparse import hstack

        blocks = [features if owner is None else features[owner] for _, features, owner in self._blocks(units, fit)]
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
        self._weights = None
        # Scoring uses the scikit-learn-free transform, so a trained and a loaded model score alike.
        self.vectorizers_ = {name: Vectorizer.from_sklearn(v) for name, v in self.vectorizers_.items()}
        return self

    def _block_weights(self) -> dict[str, np.ndarray]:
        """Each block's slice of the coefficients, transposed and contiguous: a product with a strided view copies it per call."""
        if self._weights is None:
            bounds = np.cumsum([0] + [len(v.terms) for v in self.vectorizers_.values()])
            self._weights = {
                name: np.ascontiguousarray(self.coef_[:, start:end].T)
                for name, start, end in zip(self.vectorizers_, bounds[:-1], bounds[1:])
            }
        return self._weights

    def _predict_proba(self, units: list[Unit]) -> np.ndarray:
        # Block by block, so no sparse matrix of all blocks is assembled; a context's logits are computed once.
        weights = self._block_weights()
        logits = np.tile(self.intercept_.astype(np.float64), (len(units), 1))
        for name, features, owner in self._blocks(units):
            part = np.asarray(features @ weights[name], dtype=np.float64)
            logits += part if owner is None else part[owner]
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, directory: Path) -> None:
        from safetensors.numpy import save_file

        vocabularies = {}
        tensors = {"coef": self.coef_, "intercept": self.intercept_}
        for name, vectorizer in self.vectorizers_.items():
            vocabularies[name] = vectorizer.terms
            tensors[f"idf.{name}"] = vectorizer.idf
        save_file(tensors, str(directory / WEIGHTS_FILE))
        tree = {"settings": self.settings.model_dump(mode="json"), "labels": self.labels, "vocabularies": vocabularies}
        (directory / VOCABULARY_FILE).write_text(json.dumps(tree, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, **options: Any) -> TfidfModel:
        """Rebuild the vectorizers from their vocabularies and idf weights; no code is deserialised, no scikit-learn imported."""
        from safetensors.numpy import load_file

        weights, vocabulary = directory / WEIGHTS_FILE, directory / VOCABULARY_FILE
        for path in (weights, vocabulary):
            if not path.is_file():
                raise ModelFolderError(f"{directory}: {path.name} is missing")
        try:
            tree = json.loads(vocabulary.read_text(encoding="utf-8"))
            tensors = load_file(str(weights))
            model = cls(TfidfConfig(**tree["settings"]), seed=0, labels=tree["labels"])
            for name, terms in tree["vocabularies"].items():
                analyzer, ngrams = _BLOCKS[name](model.settings)
                model.vectorizers_[name] = Vectorizer(
                    analyzer,
                    ngrams,
                    terms,
                    tensors[f"idf.{name}"],
                    model.settings.sublinear_tf,
                    _TOKENS if analyzer == "word" else None,
                )
            model.coef_, model.intercept_ = tensors["coef"], tensors["intercept"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFolderError(f"{directory}: TF-IDF weights are not valid: {exc}") from None
        width = sum(len(v.terms) for v in model.vectorizers_.values())
        if model.coef_.shape != (len(model.labels), width):
            raise ModelFolderError(f"{directory}: coefficients {model.coef_.shape} do not fit {width} features")
        return model
