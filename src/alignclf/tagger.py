"""Text in, tags out: sentences -> scores in context -> article decision -> tags, evidence and countries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from alignclf.context import Document, Piece, Unit, pieces, units
from alignclf.decision import NEEDS_GATE, ArticleDecision
from alignclf.language import detect
from alignclf.models import Model, ModelFolderError, load_folder, load_gate
from alignclf.models.base import COUNTRIES_FILE
from alignclf.taxonomy import Taxonomy
from alignclf.text import Gazetteer

# Whole articles per gate call: an article is many sentences long, and its n-gram arrays grow with it.
GATE_BATCH = 256


@dataclass
class Prediction:
    """Tags of one text. Labels keep taxonomy order; each evidence item's offsets index its `field`.

    `language` is the text's ISO 639-1 code; `warning` says why a text got no tags although it
    has some (a language the model does not cover); `model` names the model that tagged it.
    """

    pillars: list[str]
    sectors: list[str]
    scores: dict[str, float]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    language: str | None = None
    warning: str | None = None
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "pillars": list(self.pillars),
            "sectors": list(self.sectors),
            "scores": dict(self.scores),
            "evidence": [dict(item) for item in self.evidence],
            "countries": list(self.countries),
            "model": self.model,
            "warning": self.warning,
        }


def document_text(document: Document) -> str:
    """Title and text as one string (language and countries are read from both)."""
    return f"{document.title}\n{document.text}" if document.title else document.text


class Tagger:
    """Tags articles or sentences with one loaded model.

    Each sentence is scored with its article's context (the title, and for some models its
    neighbours); the article decision turns the sentence scores into the article's tags.

    >>> tagger = Tagger.from_folder(tiny_model_folder)
    >>> tagger.predict(["Police seized 300 kg of heroin at the Tajik border."])[0].sectors
    ['drug_trafficking']
    """

    def __init__(
        self,
        model: Model,
        taxonomy: Taxonomy,
        decision: ArticleDecision,
        gazetteer: Gazetteer,
        name: str = "model",
        context: str = "none",
        batch_size: int = 2048,
        gate: Model | None = None,
        languages: Sequence[str] = ("en",),
    ):
        self.model = model
        self.gate = gate
        self.languages = list(languages)
        self.taxonomy = taxonomy
        self.names = taxonomy.names  # taxonomy.names builds a list; this runs per article
        self.decision = decision
        self.gazetteer = gazetteer
        self.name = name
        self.context = context
        self.batch_size = batch_size
        self._pillars = set(taxonomy.pillars)

    @property
    def model_names(self) -> set[str]:
        """The names a `model` field of this tagger's output can carry."""
        return {self.name}

    @property
    def thresholds(self) -> np.ndarray:
        """Sentence thresholds: they decide which sentences are evidence."""
        return self.decision.sentence_thresholds

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
        gate = load_gate(directory)
        decision = card.decision(taxonomy)
        return cls(model, taxonomy, decision, gazetteer, card.name, card.context, gate=gate, languages=card.languages)

    def warm_up(self) -> None:
        """Do a first text's one-off work now (the language model, the vocabularies' hash tables).

        Worker processes forked afterwards share it instead of each doing it again.
        """
        detect("Warm-up.")
        self.predict_documents([Document("Trade rose.", "Trade")], [self.languages[0]])

    def sentence_scores(self, batch: list[Unit | str]) -> np.ndarray:
        """Model scores for units (or bare sentences), scored in batches so memory stays bounded."""
        parts = [self.model.predict_proba(batch[i : i + self.batch_size]) for i in range(0, len(batch), self.batch_size)]
        return np.vstack(parts) if parts else np.zeros((0, len(self.names)))

    def _labels(self, on: np.ndarray) -> tuple[list[str], list[str]]:
        names = [name for name, flag in zip(self.names, on) if flag]
        return [n for n in names if n in self._pillars], [n for n in names if n not in self._pillars]

    def predict(self, texts: Iterable[str]) -> list[Prediction]:
        """One Prediction per text, in order. A text without sentences gets empty labels.

        A text's first line serves as its title when it is a headline standing above the body.
        """
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts, not a single string: use predict([text])")
        texts = list(texts)  # a generator would be spent by the type check below
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text at position {position} is {type(text).__name__}, not str")
        return self.predict_documents([Document(text) for text in texts])

    def score_documents(self, documents: list[Document]) -> list[tuple[list[Piece], np.ndarray, np.ndarray | None]]:
        """Per document: its sentences (title first), their scores in context, and the gate's article score."""
        found = [pieces(document) for document in documents]
        batch = [
            unit
            for group, title in found
            for unit in units([p.text for p in group], title, self.context, sum(p.field == "title" for p in group))
        ]
        scores = self.sentence_scores(batch)
        gates = self.gate_scores(documents) if self.decision.aggregate in NEEDS_GATE else [None] * len(documents)
        out, cursor = [], 0
        for (group, _), gate in zip(found, gates):
            out.append((group, scores[cursor : cursor + len(group)], gate))
            cursor += len(group)
        return out

    def gate_scores(self, documents: list[Document]) -> np.ndarray:
        """The article gate's scores of whole documents (text read with its title)."""
        if self.gate is None:
            raise ModelFolderError(f"{self.name}: the {self.decision.aggregate!r} article decision needs a gate/ folder")
        doc_units = [Unit(d.text, d.title or "") for d in documents]
        parts = [self.gate.predict_proba(doc_units[i : i + GATE_BATCH]) for i in range(0, len(doc_units), GATE_BATCH)]
        return np.vstack(parts) if parts else np.zeros((0, len(self.names)))

    def predict_documents(self, documents: Iterable[Document], languages: Sequence[str | None] | None = None) -> list[Prediction]:
        """One Prediction per document (text and optional title); evidence offsets index the field they come from.

        A document in a language the model does not cover gets no tags and a warning naming the
        language. `languages` passes languages already detected (a router does).
        """
        documents = list(documents)
        texts = [document_text(d) for d in documents]
        languages = list(languages) if languages is not None else [detect(text) for text in texts]
        covered = [i for i, language in enumerate(languages) if language is None or language in self.languages]
        scored = dict(zip(covered, self.score_documents([documents[i] for i in covered])))
        predictions = []
        for index, (text, language) in enumerate(zip(texts, languages)):
            countries = self.gazetteer.find(text)
            if index not in scored:
                warning = f"language {language!r} is not covered by model {self.name!r} (it covers {', '.join(self.languages)})"
                predictions.append(Prediction([], [], {}, [], countries, language, warning, self.name))
                continue
            group, block, gate = scored[index]
            predictions.append(self._prediction(group, block, gate, countries, language))
        return predictions

    def _prediction(self, group: list[Piece], block: np.ndarray, gate, countries: list[str], language: str | None) -> Prediction:
        if len(group):
            article, on, carried = self.decision.decide(block, gate)
        else:
            article, on, carried = (
                np.zeros(len(self.names)),
                np.zeros(len(self.names), dtype=bool),
                np.zeros((0, len(self.names))),
            )
        pillars, sectors = self._labels(on)
        evidence = []
        for piece, flags in zip(group, carried):
            s_pillars, s_sectors = self._labels(flags)
            if s_pillars or s_sectors:
                evidence.append(
                    {
                        "field": piece.field,
                        "start": piece.start,
                        "end": piece.end,
                        "text": piece.text,
                        "pillars": s_pillars,
                        "sectors": s_sectors,
                    }
                )
        scores = {name: round(float(value), 6) for name, value in zip(self.names, article)}
        return Prediction(pillars, sectors, scores, evidence, countries, language, None, self.name)
