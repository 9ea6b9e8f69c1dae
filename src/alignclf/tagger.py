"""Text in, tags out: sentences -> sentence scores -> article tags with evidence and countries."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from alignclf.models import Model, ModelFolderError, load_folder
from alignclf.models.base import COUNTRIES_FILE
from alignclf.taxonomy import Taxonomy
from alignclf.text import Gazetteer, Sentence, split_sentences

MODEL_ENV = "ALIGNCLF_MODEL"


class NoModelError(RuntimeError):
    """No model was named and none could be found."""


@dataclass
class Prediction:
    """Tags of one text. Labels keep taxonomy order; `evidence` offsets index the input text."""

    pillars: list[str]
    sectors: list[str]
    scores: dict[str, float]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pillars": list(self.pillars),
            "sectors": list(self.sectors),
            "scores": dict(self.scores),
            "evidence": [dict(item) for item in self.evidence],
            "countries": list(self.countries),
        }


def max_over_sentences(sentence_scores: np.ndarray) -> np.ndarray:
    """Article score per label: its strongest sentence. The one place aggregation is decided."""
    return sentence_scores.max(axis=0)


class Tagger:
    """Tags articles or sentences with one loaded model.

    >>> tagger = load_model("models/tfidf")  # doctest: +SKIP
    >>> tagger.predict(["Police seized 300 kg of heroin."])[0].sectors  # doctest: +SKIP
    ['drug_trafficking']
    """

    def __init__(
        self,
        model: Model,
        taxonomy: Taxonomy,
        thresholds: dict[str, float],
        gazetteer: Gazetteer,
        name: str = "model",
        aggregate: Callable[[np.ndarray], np.ndarray] = max_over_sentences,
        batch_size: int = 256,
    ):
        self.model = model
        self.taxonomy = taxonomy
        self.names = taxonomy.names  # taxonomy.names builds a list; this runs per sentence
        self.thresholds = np.array([thresholds[label] for label in self.names])
        self.gazetteer = gazetteer
        self.name = name
        self.aggregate = aggregate
        self.batch_size = batch_size
        self._pillars = set(taxonomy.pillars)

    @classmethod
    def from_folder(cls, directory: str | Path, **options: Any) -> Tagger:
        """The Tagger of a model folder; `options` reach the model kind's loader (e.g. `runtime="torch"`)."""
        directory = Path(directory)
        model, card, taxonomy = load_folder(directory, **options)
        countries = directory / COUNTRIES_FILE
        try:
            gazetteer = Gazetteer.from_yaml(countries) if countries.is_file() else Gazetteer({})
        except (ValueError, yaml.YAMLError) as exc:
            raise ModelFolderError(f"{countries} is not a valid gazetteer: {exc}") from None
        return cls(model, taxonomy, card.thresholds, gazetteer, name=card.name)

    def sentence_scores(self, sentences: list[str]) -> np.ndarray:
        """Model scores for sentences, scored in batches so memory stays bounded."""
        parts = [self.model.predict_proba(sentences[i : i + self.batch_size]) for i in range(0, len(sentences), self.batch_size)]
        return np.vstack(parts) if parts else np.zeros((0, len(self.names)))

    def _labels(self, on: np.ndarray) -> tuple[list[str], list[str]]:
        names = [name for name, flag in zip(self.names, on) if flag]
        return [n for n in names if n in self._pillars], [n for n in names if n not in self._pillars]

    def predict(self, texts: Iterable[str]) -> list[Prediction]:
        """One Prediction per text, in order. A text without sentences gets empty labels."""
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts, not a single string: use predict([text])")
        texts = list(texts)  # a generator would be spent by the type check below
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text at position {position} is {type(text).__name__}, not str")
        sentences: list[list[Sentence]] = [split_sentences(text) for text in texts]
        flat = [s.text for group in sentences for s in group]
        scores = self.sentence_scores(flat)
        predictions, cursor = [], 0
        zeros = np.zeros(len(self.names))
        for text, group in zip(texts, sentences):
            block = scores[cursor : cursor + len(group)]
            cursor += len(group)
            article = self.aggregate(block) if len(group) else zeros
            pillars, sectors = self._labels(article >= self.thresholds)
            evidence = []
            for sentence, row in zip(group, block):
                s_pillars, s_sectors = self._labels(row >= self.thresholds)
                if s_pillars or s_sectors:
                    evidence.append(
                        {
                            "start": sentence.start,
                            "end": sentence.end,
                            "text": sentence.text,
                            "pillars": s_pillars,
                            "sectors": s_sectors,
                        }
                    )
            predictions.append(
                Prediction(
                    pillars=pillars,
                    sectors=sectors,
                    scores={name: round(float(value), 6) for name, value in zip(self.names, article)},
                    evidence=evidence,
                    countries=self.gazetteer.find(text),
                )
            )
        return predictions


OUTPUT_FIELDS = ("id", "pillars", "sectors", "scores", "evidence", "countries", "model", "error")


def record_id(raw: object, fallback: str) -> str:
    """An input's id as text: a non-empty string or an integer, else the positional fallback."""
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, bool):
        return str(raw)
    return fallback  # missing ids arrive as None, "" or NaN


def article_text(title: object, text: str) -> str:
    """The text to tag: a non-empty title is its first line, so it can carry labels and evidence."""
    return f"{title.strip()}\n\n{text}" if isinstance(title, str) and title.strip() else text


@dataclass(frozen=True)
class Record:
    """One input record: its id, and either its text or why it has none."""

    id: str
    text: str | None
    error: str | None = None


def tag_records(tagger: Tagger, records: Sequence[Record], max_chars: int = 200_000) -> list[dict[str, Any]]:
    """Tag records into output lines of the design's format; a bad record gets `error`, never drops."""
    usable = []
    for record in records:
        if record.error is None and not isinstance(record.text, str):
            record = Record(record.id, None, f"text is {type(record.text).__name__}, not a string")
        elif record.error is None and len(record.text) > max_chars:
            record = Record(record.id, None, f"text has {len(record.text)} characters, over the limit of {max_chars}")
        usable.append(record)
    predictions = iter(tagger.predict([r.text for r in usable if r.error is None]))
    empty = {"pillars": [], "sectors": [], "scores": {}, "evidence": [], "countries": []}
    lines = []
    for record in usable:
        body = empty if record.error is not None else next(predictions).to_dict()
        lines.append({"id": record.id, **body, "model": tagger.name, "error": record.error})
    return lines


def _newest_folder(root: Path) -> Path | None:
    folders = [p for p in root.glob("*/alignclf.json")] if root.is_dir() else []
    return max(folders, key=lambda p: p.stat().st_mtime).parent if folders else None


def default_model() -> str:
    """`$ALIGNCLF_MODEL`, else the registry's champion, else the newest folder under models/."""
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    from alignclf.tracking import champion_uri

    uri = champion_uri()
    if uri:
        return uri
    newest = _newest_folder(Path("models"))
    if newest:
        return str(newest)
    raise NoModelError(
        f"no model found: set {MODEL_ENV}, pass --model, or train one with `make run` "
        "(or `python train.py --config configs/tfidf.yaml`)"
    )


def load_model(model: str | Path | None = None, **options: Any) -> Tagger:
    """A Tagger from a model folder or any MLflow model URI (`models:/alignclf@champion`, `runs:/...`).

    >>> tagger = load_model("models/tfidf")  # doctest: +SKIP
    """
    spec = str(model) if model is not None else default_model()
    if Path(spec).is_dir():
        return Tagger.from_folder(spec, **options)
    if ":/" in spec:
        from alignclf.tracking import load_python_model

        return load_python_model(spec).tagger
    raise NoModelError(f"model not found: {spec!r} is neither a model folder nor an MLflow model URI")


_LOADED: dict[str | None, Tagger] = {}


def predict(texts: Sequence[str], model: str | Path | None = None) -> list[dict[str, Any]]:
    """Tag texts with `model` (default: see `default_model`), loading it once per process.

    >>> predict(["Kazakhstan raised gas exports to China."])[0]["sectors"]  # doctest: +SKIP
    ['energy']
    """
    key = str(model) if model is not None else None  # the default is resolved once, like the model
    if key not in _LOADED:
        _LOADED[key] = load_model(key)
    return [p.to_dict() for p in _LOADED[key].predict(texts)]
