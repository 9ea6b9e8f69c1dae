"""Scores a Tagger on labelled sentences or articles, through the same path users tag with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignclf.articles import Article, is_article_file, read_articles
from alignclf.context import Document
from alignclf.data import Example, label_matrix, read_labelled
from alignclf.metrics import Report, apply_thresholds, score
from alignclf.tagger import Prediction, Tagger


@dataclass
class Scored:
    """A report with the matrices it came from (for confusion matrices and further breakdowns)."""

    report: Report
    truth: np.ndarray
    predicted: np.ndarray


def _predicted(tagger: Tagger, predictions: list[Prediction]) -> np.ndarray:
    column = {name: index for index, name in enumerate(tagger.names)}
    matrix = np.zeros((len(predictions), len(column)), dtype=np.int64)
    for row, prediction in enumerate(predictions):
        matrix[row, [column[name] for name in prediction.pillars + prediction.sectors]] = 1
    return matrix


def score_sentences(tagger: Tagger, examples: list[Example]) -> Scored:
    """Each sentence tagged alone, as a user's one-sentence text is."""
    truth = label_matrix(examples, tagger.taxonomy)
    predicted = _predicted(tagger, tagger.predict([e.text for e in examples]))
    return Scored(score(truth, predicted, tagger.taxonomy), truth, predicted)


def score_articles(tagger: Tagger, articles: list[Article]) -> Scored:
    """Each article tagged whole, title and body, against the union of its labels."""
    truth = label_matrix(articles, tagger.taxonomy)
    predicted = _predicted(tagger, tagger.predict_documents([Document(a.text, a.title.text) for a in articles]))
    return Scored(score(truth, predicted, tagger.taxonomy), truth, predicted)


def score_evidence(tagger: Tagger, articles: list[Article]) -> Scored:
    """Each labelled title and sentence scored in its article's context against the sentence thresholds."""
    parts = [part for a in articles for part in a.parts]
    truth = label_matrix(parts, tagger.taxonomy)
    units = [u for a in articles for u in a.units(tagger.context)]
    predicted = apply_thresholds(tagger.sentence_scores(units), tagger.thresholds)
    return Scored(score(truth, predicted, tagger.taxonomy), truth, predicted)


def evaluate(tagger: Tagger, path: str | Path) -> dict[str, Report]:
    """Reports for a labelled file: `sentences` for a sentence file; `articles` and `sentences in context` for an article file.

    >>> sorted(evaluate(load_model(tiny_model_folder), "data/labelled/seed.jsonl"))
    ['sentences']
    """
    if is_article_file(path):
        articles = read_articles(path, tagger.taxonomy)
        return {
            "articles": score_articles(tagger, articles).report,
            "sentences in context": score_evidence(tagger, articles).report,
        }
    return {"sentences": score_sentences(tagger, read_labelled(path, tagger.taxonomy)).report}
