"""Scores a Tagger on any labelled JSONL file, through the same path users tag with."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alignclf.data import label_matrix, read_labelled
from alignclf.metrics import Report, score
from alignclf.tagger import Tagger


def evaluate(tagger: Tagger, path: str | Path) -> Report:
    """Per-label and averaged scores of the tagger's article tags against the file's labels.

    >>> evaluate(load_model("models/tfidf"), "data/labelled/seed.jsonl").averages  # doctest: +SKIP
    """
    examples = read_labelled(path, tagger.taxonomy)
    predictions = tagger.predict([e.text for e in examples])
    column = {name: index for index, name in enumerate(tagger.taxonomy.names)}
    truth = label_matrix(examples, tagger.taxonomy)
    predicted = np.zeros_like(truth)
    for row, prediction in enumerate(predictions):
        for name in prediction.pillars + prediction.sectors:
            predicted[row, column[name]] = 1
    return score(truth, predicted, tagger.taxonomy)
