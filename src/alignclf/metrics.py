"""Multi-label metrics and per-label thresholds: computed here once for training, evaluate and tests."""

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
    """Per-label scores and micro/macro F1 per level; `flat()` gives MLflow metric names."""

    labels: list[LabelScore]
    averages: dict[str, dict[str, float]]  # level -> {"micro_f1", "macro_f1"}
    examples: int

    def flat(self, prefix: str = "") -> dict[str, float]:
        """Metric names as MLflow stores them: `{prefix}{level}.macro_f1`, `{prefix}{label}.f1`."""
        out: dict[str, float] = {}
        for level, values in self.averages.items():
            for name, value in values.items():
                out[f"{prefix}{level}.{name}"] = value
        for item in self.labels:
            for name in ("precision", "recall", "f1"):
                out[f"{prefix}{item.label}.{name}"] = getattr(item, name)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "averages": self.averages, "labels": [asdict(item) for item in self.labels]}

    def table(self) -> str:
        """A markdown table: per label P/R/F1/support, then micro and macro F1 per level."""
        lines = ["| level | label | precision | recall | f1 | support |", "|---|---|---:|---:|---:|---:|"]
        for item in self.labels:
            lines.append(
                f"| {item.level} | {item.label} | {item.precision:.3f} | {item.recall:.3f} | {item.f1:.3f} | {item.support} |"
            )
        for level, values in self.averages.items():
            lines.append(f"| {level} | micro avg | | | {values['micro_f1']:.3f} | |")
            lines.append(f"| {level} | macro avg | | | {values['macro_f1']:.3f} | |")
        return "\n".join(lines)


def flat_metrics(reports: dict[str, Report]) -> dict[str, float]:
    """Every split's report under one dict of MLflow metric names: `test.sectors.macro_f1`, ..."""
    metrics: dict[str, float] = {}
    for split, report in reports.items():
        metrics.update(report.flat(prefix=f"{split}."))
    return metrics


def precision_recall_f1(true: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum((true == 1) & (pred == 1)))
    fp = float(np.sum((true == 0) & (pred == 1)))
    fn = float(np.sum((true == 1) & (pred == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score(y_true: np.ndarray, y_pred: np.ndarray, taxonomy: Taxonomy) -> Report:
    """Precision, recall and F1 per label; micro and macro F1 over each level.

    Columns follow `taxonomy.names`. A label with no support and no prediction scores 0.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.shape[1:] != (len(taxonomy.names),):
        raise ValueError(f"shape mismatch: truth {y_true.shape}, predictions {y_pred.shape}, labels {len(taxonomy.names)}")
    labels, averages = [], {}
    for level in LEVELS:
        columns = [taxonomy.names.index(name) for name in taxonomy.level(level)]
        f1s = []
        for column in columns:
            precision, recall, f1 = precision_recall_f1(y_true[:, column], y_pred[:, column])
            f1s.append(f1)
            labels.append(
                LabelScore(
                    taxonomy.names[column],
                    level,
                    round(precision, 6),
                    round(recall, 6),
                    round(f1, 6),
                    int(y_true[:, column].sum()),
                    int(y_pred[:, column].sum()),
                )
            )
        micro = precision_recall_f1(y_true[:, columns].ravel(), y_pred[:, columns].ravel())[2]
        averages[level] = {"micro_f1": round(micro, 6), "macro_f1": round(float(np.mean(f1s)), 6)}
    return Report(labels, averages, int(y_true.shape[0]))


def apply_thresholds(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """A label is on when its score reaches its threshold."""
    return (np.asarray(scores) >= np.asarray(thresholds)[None, :]).astype(np.int64)


def tune_thresholds(
    scores: np.ndarray, y_true: np.ndarray, default: float = 0.5, minimum: float = 0.05, maximum: float = 0.95
) -> np.ndarray:
    """Per label, the threshold in [minimum, maximum] that maximises that label's F1.

    Candidates are midpoints between neighbouring scores, so the choice sits between
    examples rather than on one. Ties go to the candidate nearest `default`; a label
    without positives keeps `default`.

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
        values = np.unique(scores[:, column])
        candidates = np.concatenate([(values[:-1] + values[1:]) / 2, [default]])
        candidates = np.unique(np.clip(candidates, minimum, maximum))
        best, best_f1 = default, -1.0
        for candidate in candidates:
            f1 = precision_recall_f1(truth, (scores[:, column] >= candidate).astype(np.int64))[2]
            closer = abs(candidate - default) < abs(best - default)
            if f1 > best_f1 + 1e-12 or (abs(f1 - best_f1) <= 1e-12 and closer):
                best, best_f1 = float(candidate), f1
        thresholds[column] = best
    return thresholds
