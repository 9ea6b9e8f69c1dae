"""The figures a training run logs: per-label P/R/F1 bars and per-label confusion matrices."""

from __future__ import annotations

from typing import Any

import numpy as np

from alignclf.metrics import Report


def f1_bars(report: Report, title: str) -> Any:
    """Precision, recall and F1 per label as grouped bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [item.label for item in report.labels]
    figure, axis = plt.subplots(figsize=(10, 4))
    width = 0.27
    positions = np.arange(len(names))
    for offset, metric in enumerate(("precision", "recall", "f1")):
        axis.bar(positions + (offset - 1) * width, [getattr(i, metric) for i in report.labels], width, label=metric)
    axis.set_xticks(positions, names, rotation=30, ha="right")
    axis.set_ylim(0, 1.18)
    axis.set_title(title)
    axis.legend(loc="upper center", ncol=3, frameon=False)
    figure.tight_layout()
    return figure


def confusion_matrices(y_true: np.ndarray, y_pred: np.ndarray, names: list[str], title: str) -> Any:
    """One 2x2 matrix per label (`multilabel_confusion_matrix`), drawn with `ConfusionMatrixDisplay`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, multilabel_confusion_matrix

    matrices = multilabel_confusion_matrix(y_true, y_pred, labels=list(range(len(names))))
    columns = 5
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows))
    for index, axis in enumerate(np.atleast_1d(axes).ravel()):
        if index >= len(names):
            axis.axis("off")
            continue
        display = ConfusionMatrixDisplay(matrices[index], display_labels=["no", "yes"])
        display.plot(ax=axis, cmap="Blues", colorbar=False)
        axis.set_title(names[index])
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def run_figures(reports: dict[str, Report], confusion: dict[str, tuple[np.ndarray, np.ndarray]], names: list[str]) -> dict:
    """Artifact path -> figure, for every split that has a report and predictions."""
    figures = {}
    for split, report in reports.items():
        if split not in confusion:
            continue
        y_true, y_pred = confusion[split]
        figures[f"plots/{split}_per_label_f1.png"] = f1_bars(report, f"{split}: precision, recall and F1 per label")
        figures[f"plots/{split}_confusion_matrices.png"] = confusion_matrices(
            y_true, y_pred, names, f"{split}: confusion matrix per label"
        )
    return figures
