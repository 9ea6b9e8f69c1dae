"""Multi-label metrics (scikit-learn) and per-label thresholds: one place for training, evaluate and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from alignclf.taxonomy import LEVELS, Taxonomy


@dataclass(frozen=True)
class LabelScore:
    label: str
    level: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True)
class Report:
    """Per-label scores, micro/macro F1 per level, and how often an unlabelled example got a label.

    `false_alarm_rate` is the share of examples with no true label that were given at least one:
    off-topic articles that get tagged, or neutral sentences that fire.
    """

    labels: list[LabelScore]
    averages: dict[str, dict[str, float]]  # level -> {"micro_f1", "macro_f1"}
    examples: int
    unlabelled: int = 0
    false_alarm_rate: float = 0.0

    def flat(self, prefix: str = "") -> dict[str, float]:
        """Metric names as MLflow stores them: `{prefix}{level}.macro_f1`, `{prefix}{label}.f1`, ..."""
        out: dict[str, float] = {}
        for level, values in self.averages.items():
            for name, value in values.items():
                out[f"{prefix}{level}.{name}"] = value
        for item in self.labels:
            for name in ("precision", "recall", "f1"):
                out[f"{prefix}{item.label}.{name}"] = getattr(item, name)
        out[f"{prefix}false_alarm_rate"] = self.false_alarm_rate
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "unlabelled": self.unlabelled,
            "false_alarm_rate": self.false_alarm_rate,
            "averages": self.averages,
            "labels": [asdict(item) for item in self.labels],
        }

    def table(self) -> str:
        """A markdown table: per label P/R/F1/support, micro and macro F1 per level, then false alarms."""
        lines = ["| level | label | precision | recall | f1 | support |", "|---|---|---:|---:|---:|---:|"]
        for item in self.labels:
            lines.append(
                f"| {item.level} | {item.label} | {item.precision:.3f} | {item.recall:.3f} | {item.f1:.3f} | {item.support} |"
            )
        for level, values in self.averages.items():
            lines.append(f"| {level} | micro avg | | | {values['micro_f1']:.3f} | |")
            lines.append(f"| {level} | macro avg | | | {values['macro_f1']:.3f} | |")
        lines.append(f"| - | unlabelled given a label | | | {self.false_alarm_rate:.3f} | {self.unlabelled} |")
        return "\n".join(lines)


def flat_metrics(reports: dict[str, Report]) -> dict[str, float]:
    """Every split's report under one dict of MLflow metric names: `test.sectors.macro_f1`, ..."""
    metrics: dict[str, float] = {}
    for split, report in reports.items():
        metrics.update(report.flat(prefix=f"{split}."))
    return metrics


def score(y_true: np.ndarray, y_pred: np.ndarray, taxonomy: Taxonomy) -> Report:
    """Precision, recall and F1 per label; micro and macro F1 over each level; the false-alarm rate.

    Columns follow `taxonomy.names`. A label with no support and no prediction scores 0.

    >>> t = Taxonomy.from_dict({"pillars": [{"name": "p"}], "sectors": [{"name": "s"}]})
    >>> score(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 1]]), t).false_alarm_rate
    1.0
    """
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.ndim != 2 or y_true.shape != y_pred.shape or y_true.shape[1] != len(taxonomy.names):
        raise ValueError(f"shape mismatch: truth {y_true.shape}, predictions {y_pred.shape}, labels {len(taxonomy.names)}")
    labels, averages = [], {}
    names = taxonomy.names
    for level in LEVELS:
        f1s = []
        for column in (names.index(name) for name in taxonomy.level(level)):
            # Label by label as binary problems: a one-column matrix would otherwise read as multiclass.
            truth, pred = y_true[:, column], y_pred[:, column]
            precision, recall, f1, _ = precision_recall_fscore_support(
                truth, pred, average="binary", pos_label=1, zero_division=0
            )
            f1s.append(f1)
            labels.append(
                LabelScore(
                    names[column], level, round(float(precision), 6), round(float(recall), 6), round(float(f1), 6),
                    int(truth.sum()), int(pred.sum()),
                )
            )  # fmt: skip
        columns = [names.index(name) for name in taxonomy.level(level)]
        micro = f1_score(y_true[:, columns].ravel(), y_pred[:, columns].ravel(), average="binary", zero_division=0)
        averages[level] = {"micro_f1": round(float(micro), 6), "macro_f1": round(float(np.mean(f1s)), 6)}
    unlabelled = y_true.sum(axis=1) == 0
    flagged = float(np.mean(y_pred[unlabelled].sum(axis=1) > 0)) if unlabelled.any() else 0.0
    return Report(labels, averages, int(y_true.shape[0]), int(unlabelled.sum()), round(flagged, 6))


def apply_thresholds(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """A label is on when its score reaches its threshold."""
    return (np.asarray(scores) >= np.asarray(thresholds)[None, :]).astype(np.int64)


def f1_by_threshold(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 of `scores >= cut` for every distinct score `cut`, from one sort (`precision_recall_curve`).

    Returns (cuts ascending, f1 per cut). A cut above every score predicts nothing and scores 0.
    """
    from sklearn.metrics import precision_recall_curve

    precision, recall, cuts = precision_recall_curve(truth, scores, drop_intermediate=False)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no cut
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return cuts, f1


def tune_thresholds(
    scores: np.ndarray, y_true: np.ndarray, default: float = 0.5, minimum: float = 0.05, maximum: float = 0.95
) -> np.ndarray:
    """Per label, the threshold in [minimum, maximum] that maximises that label's F1.

    Candidates are midpoints between neighbouring scores, so the choice sits between
    examples rather than on one, plus the range's ends and `default`. Ties go to the
    candidate nearest `default`; a label without positives keeps `default`.

    >>> tune_thresholds(np.array([[0.2], [0.4], [0.9]]), np.array([[0], [1], [1]])).round(2).tolist()
    [0.3]
    """
    scores = np.asarray(scores, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    thresholds = np.full(scores.shape[1], default)
    for column in range(scores.shape[1]):
        truth = y_true[:, column]
        if truth.sum() == 0:
            continue
        cuts, f1 = f1_by_threshold(truth, scores[:, column])
        # A midpoint below cut k predicts exactly what cut k predicts.
        midpoints = (cuts[:-1] + cuts[1:]) / 2
        candidates = np.unique(np.clip(np.concatenate([midpoints, [default]]), minimum, maximum))
        index = np.searchsorted(cuts, candidates, side="left")  # first cut at or above the candidate
        values = np.where(index < len(cuts), f1[np.minimum(index, len(f1) - 1)], 0.0)
        best = values.max()
        tied = candidates[values >= best - 1e-12]
        thresholds[column] = float(tied[np.argmin(np.abs(tied - default))])
    return thresholds
