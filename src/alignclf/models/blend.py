"""Averaging a model's scores with a lexical (TF-IDF) model's: the weight is chosen on validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from alignclf.context import Unit
from alignclf.models.tfidf import TfidfModel

# The lexical model's subfolder in a model folder.
LEXICAL_DIR = "lexical"


def choose_weight(encoded: np.ndarray, lexical: np.ndarray, truth: np.ndarray, weights: list[float]) -> float:
    """The encoder's weight (against the lexical scores) with the best macro-F1 at thresholds tuned on the
    same scores; ties go to the first in `weights`."""
    from sklearn.metrics import f1_score

    from alignclf.metrics import apply_thresholds, tune_thresholds

    best, best_f1 = weights[0], -1.0
    for weight in weights:
        scores = weight * encoded + (1 - weight) * lexical
        f1 = f1_score(truth, apply_thresholds(scores, tune_thresholds(scores, truth)), average="macro", zero_division=0)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = weight, f1
    return float(best)


class LexicalBlend:
    """A model scored as `weight_ * own + (1 - weight_) * lexical`, `own` being the kind's `_own_proba`.

    The kind picks a first weight on validation sentences; the training recipe may then pick
    again on validation articles, since the article tags are what users read. Scores are linear
    in the weight, so two passes (weight 1 and 0) give every candidate's scores.
    """

    settings_file: ClassVar[str]  # the kind's JSON file in a model folder, which holds "weight"
    settings: Any
    seed: int
    labels: list[str]
    lexical_: TfidfModel | None = None
    weight_: float = 1.0  # of the kind's own scores against the lexical model's

    def _own_proba(self, units: list[Unit]) -> np.ndarray:
        raise NotImplementedError

    def _predict_proba(self, units: list[Unit]) -> np.ndarray:
        """Only the parts the weight needs are computed."""
        if self.lexical_ is None or self.weight_ >= 1:
            return self._own_proba(units)
        lexical = self.lexical_._predict_proba(units)
        return lexical if self.weight_ <= 0 else self.weight_ * self._own_proba(units) + (1 - self.weight_) * lexical

    def _fit_lexical(
        self,
        units: list[Unit],
        targets: np.ndarray,
        log: Any,
        workdir: Path | None,
        validation: tuple[list[Unit], np.ndarray] | None,
        own: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """The lexical model on the kind's units and, with validation, the weight for sentence macro-F1.

        Returns the blended validation scores (None without validation); `own` passes the
        kind's validation scores when it has them already.
        """
        self.lexical_ = TfidfModel(self.settings.lexical, self.seed, self.labels)._fit(units, targets, None, log, workdir)
        self.weight_ = 0.5
        if validation is None:
            return None
        val_units, truth = validation
        own = self._own_proba(val_units) if own is None else own
        lexical = self.lexical_._predict_proba(val_units)
        self.weight_ = choose_weight(own, lexical, truth, self.settings.weights)
        return self.weight_ * own + (1 - self.weight_) * lexical

    def _save_lexical(self, directory: Path) -> None:
        if self.lexical_ is not None:
            (directory / LEXICAL_DIR).mkdir(exist_ok=True)
            self.lexical_.save(directory / LEXICAL_DIR)

    def _load_lexical(self, directory: Path) -> None:
        """Folders without `lexical/` score with the kind's own scores alone."""
        if (directory / LEXICAL_DIR).is_dir():
            self.lexical_ = TfidfModel.load(directory / LEXICAL_DIR)

    def blend_weights(self) -> list[float]:
        """The candidates, the current weight first (it wins ties); none without a lexical model."""
        if self.lexical_ is None:
            return []
        return [self.weight_] + [float(w) for w in self.settings.weights if w != self.weight_]

    def keep_weight(self, directory: Path, weight: float) -> None:
        """Score with `weight` from now on, and write it into the model folder at `directory`."""
        self.weight_ = float(weight)
        path = directory / self.settings_file
        tree = json.loads(path.read_text(encoding="utf-8"))
        tree["weight"] = self.weight_
        path.write_text(json.dumps(tree, indent=2) + "\n", encoding="utf-8")
