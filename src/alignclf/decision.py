"""The article decision: sentence scores -> article scores -> article tags, tuned on article validation.

Sentence thresholds decide evidence; an aggregation of the sentence scores and per-label
article thresholds decide the article's tags. An article tag always has a sentence that
carries it, and evidence never carries a label the article lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alignclf.metrics import apply_thresholds, tune_thresholds


def _top(block: np.ndarray, k: int) -> np.ndarray:
    """Mean of the k highest scores per label (all of them when the article is shorter)."""
    k = min(k, len(block))
    return np.sort(block, axis=0)[-k:].mean(axis=0)


AGGREGATES: dict[str, Callable[[np.ndarray, np.ndarray | None], np.ndarray]] = {
    "max": lambda block, gate: block.max(axis=0),
    "top2": lambda block, gate: _top(block, 2),
    "top3": lambda block, gate: _top(block, 3),
    # The article gate's score of the whole article; sentences still have to carry the label.
    "gate": lambda block, gate: gate,
    "blend": lambda block, gate: (block.max(axis=0) + gate) / 2,
}
NEEDS_GATE = {"gate", "blend"}


@dataclass(frozen=True)
class ArticleDecision:
    """How one article's sentence scores become its tags.

    A text of one sentence is decided by that sentence alone: it is a bare sentence, an
    article with no other context. Longer texts use the aggregation and article thresholds.

    >>> d = ArticleDecision("max", np.array([0.5, 0.5]), np.array([0.7, 0.7]))
    >>> scores, on, evidence = d.decide(np.array([[0.6, 0.1], [0.8, 0.2]]))
    >>> on.tolist(), evidence.tolist()
    ([True, False], [[True, False], [True, False]])
    """

    aggregate: str
    sentence_thresholds: np.ndarray
    thresholds: np.ndarray

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"unknown aggregate {self.aggregate!r} (known: {', '.join(AGGREGATES)})")

    def scores(self, block: np.ndarray, gate: np.ndarray | None = None) -> np.ndarray:
        """Article score per label (a one-sentence text scores as its sentence)."""
        if len(block) == 1:
            return block[0]
        if self.aggregate in NEEDS_GATE and gate is None:
            raise ValueError(f"the {self.aggregate!r} article decision needs the article gate's scores")
        return AGGREGATES[self.aggregate](block, gate)

    def decide(self, block: np.ndarray, gate: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(article scores, article tags, evidence mask per sentence) for one article's sentence scores.

        `gate` is the article gate's score of the whole article, for the decisions that read it.
        """
        sentence_on = block >= self.sentence_thresholds[None, :]
        article = self.scores(block, gate)
        cut = self.thresholds if len(block) > 1 else self.sentence_thresholds
        article_on = (article >= cut) & sentence_on.any(axis=0)
        return article, article_on, sentence_on & article_on[None, :]

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {"aggregate": self.aggregate, "thresholds": {n: round(float(t), 6) for n, t in zip(names, self.thresholds)}}

    @classmethod
    def from_dict(cls, tree: dict[str, Any], names: Sequence[str], sentence_thresholds: dict[str, float]) -> ArticleDecision:
        return cls(
            tree["aggregate"],
            np.array([sentence_thresholds[n] for n in names]),
            np.array([tree["thresholds"][n] for n in names]),
        )


def article_matrix(decision: ArticleDecision, blocks: Sequence[np.ndarray], gates: Sequence[np.ndarray] | None) -> np.ndarray:
    """0/1 article tags for many articles' sentence-score blocks (and gate scores)."""
    width = len(decision.thresholds)
    gates = gates if gates is not None else [None] * len(blocks)
    rows = [decision.decide(b, g)[1] if len(b) else np.zeros(width, dtype=bool) for b, g in zip(blocks, gates)]
    return np.array(rows, dtype=np.int64).reshape(len(blocks), width)


@dataclass(frozen=True)
class Tuned:
    decision: ArticleDecision
    micro_f1: float
    false_alarm_rate: float

    def figures(self) -> dict[str, float]:
        """What the model card's `article.candidates` records of this result."""
        return {"micro_f1": self.micro_f1, "false_alarm_rate": self.false_alarm_rate}


def preferred(results: Sequence[Tuned], budget: float, tie_margin: float) -> Tuned:
    """The first result, in order of preference, whose micro-F1 is within `tie_margin` of the best.

    Only results within the false-alarm budget compete when there are any. A validation split
    of a few hundred articles cannot tell apart choices a label or two apart, so such ties go
    to the earlier, preferred candidate instead of to noise.
    """
    pool = [r for r in results if r.false_alarm_rate <= budget] or list(results)
    top = max(r.micro_f1 for r in pool)
    return next(r for r in pool if r.micro_f1 >= top - tie_margin - 1e-9)


def _micro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(truth & predicted))
    fp = float(np.sum(~truth & predicted))
    fn = float(np.sum(truth & ~predicted))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _false_alarms(truth: np.ndarray, predicted: np.ndarray) -> float:
    off_topic = truth.sum(axis=1) == 0
    return float(np.mean(predicted[off_topic].any(axis=1))) if off_topic.any() else 0.0


def tune_decision(
    blocks: Sequence[np.ndarray],
    gates: Sequence[np.ndarray] | None,
    truth: np.ndarray,
    sentence_thresholds: np.ndarray,
    aggregates: Sequence[str] = tuple(AGGREGATES),
    false_alarm_budget: float = 0.05,
    minimum: float = 0.05,
    maximum: float = 0.95,
    tie_margin: float = 0.0,
) -> tuple[Tuned, dict[str, Tuned]]:
    """Choose the aggregation and per-label article thresholds for article micro-F1 on validation articles.

    Per label, the threshold maximises that label's F1 over scores that count only when some
    sentence carries the label. Then, while the share of off-topic articles with any tag is
    over `false_alarm_budget`, the threshold whose raise removes the most false alarms for the
    least lost F1 goes up. Decisions that read the gate are skipped without `gates`. Returns
    the `preferred` one (`aggregates` in order of preference) and every candidate's result.
    """
    truth = np.asarray(truth, dtype=bool)
    results = {}
    for name in aggregates:
        if name in NEEDS_GATE and gates is None:
            continue
        probe = ArticleDecision(name, sentence_thresholds, np.zeros_like(sentence_thresholds))
        scores = np.zeros(truth.shape)
        for row, block in enumerate(blocks):
            if len(block) > 1:
                carried = (block >= sentence_thresholds[None, :]).any(axis=0)
                scores[row] = np.where(carried, probe.scores(block, gates[row] if gates is not None else None), 0.0)
        thresholds = tune_thresholds(scores, truth, minimum=minimum, maximum=maximum)
        thresholds = _hold_down_false_alarms(scores, truth, thresholds, false_alarm_budget, maximum)
        decision = ArticleDecision(name, sentence_thresholds, thresholds)
        predicted = article_matrix(decision, blocks, gates).astype(bool)
        results[name] = Tuned(decision, round(_micro_f1(truth, predicted), 6), round(_false_alarms(truth, predicted), 6))
    return preferred(list(results.values()), false_alarm_budget, tie_margin), results


def _hold_down_false_alarms(
    scores: np.ndarray, truth: np.ndarray, thresholds: np.ndarray, budget: float, maximum: float
) -> np.ndarray:
    """Raise thresholds, cheapest first, until off-topic articles with a tag are within the budget.

    Each step lifts one label just above its weakest off-topic firing, so every step removes
    at least one (article, label) alarm and the loop ends. A threshold never passes `maximum`.
    """
    thresholds = thresholds.copy()
    off_topic = truth.sum(axis=1) == 0
    while off_topic.any():
        predicted = apply_thresholds(scores, thresholds).astype(bool)
        alarms = predicted[off_topic].any(axis=1).sum()
        if alarms / off_topic.sum() <= budget:
            break
        options = []
        for label in range(scores.shape[1]):
            firing = scores[off_topic & predicted[:, label], label]
            raised = float(firing.min()) + 1e-6 if len(firing) else None
            if raised is None or raised > maximum:
                continue
            trial = thresholds.copy()
            trial[label] = raised
            after = apply_thresholds(scores, trial).astype(bool)
            removed = alarms - after[off_topic].any(axis=1).sum()
            lost = _micro_f1(truth, predicted) - _micro_f1(truth, after)
            options.append((lost / removed if removed else np.inf, lost, label, raised))
        if not options:
            break
        _, _, label, raised = min(options)
        thresholds[label] = raised
    return thresholds
