"""Scores a Tagger on any labelled JSONL file, through the same path users tag with."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from alignclf.data import label_matrix, read_labelled
from alignclf.metrics import Report, score
from alignclf.tagger import Tagger


def evaluate(tagger: Tagger, path: str | Path) -> Report:
    """Per-label and averaged scores of the tagger's article tags against the file's labels.

    >>> evaluate(load_model("models/tfidf"), "data/labelled/seed.jsonl").averages  # doctest: +SKIP
    """
    examples = read_labelled(path, tagger.taxonomy)
    predictions = tagger.predict([e.text for e in examples])
    tagged = [replace(e, pillars=tuple(p.pillars), sectors=tuple(p.sectors)) for e, p in zip(examples, predictions)]
    return score(label_matrix(examples, tagger.taxonomy), label_matrix(tagged, tagger.taxonomy), tagger.taxonomy)
