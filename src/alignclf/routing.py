"""A router: one Tagger per language, picked per document by its detected language, behind one `load_model` call.

A router folder holds `router.json`: `{"name": ..., "routes": ["<model>", ...]}`, each route a
model folder (relative to the router folder) or an MLflow model URI. A document goes to the
first route whose model covers its language (`languages` in the model's card); a language no
route covers gets no tags and a warning naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alignclf.context import Document
from alignclf.errors import AlignclfError
from alignclf.language import detect
from alignclf.tagger import Prediction, Tagger, document_text

ROUTER_FILE = "router.json"


class RouterError(AlignclfError, ValueError):
    """A router folder that cannot be used; the message says why."""


class Router:
    """Tags each document with the model of its language; the same calls as a Tagger.

    >>> router = Router([load_model(tiny_model_folder)], name="router")
    >>> router.predict(["Police seized 300 kg of heroin at the border.", "Die Polizei beschlagnahmte 300 kg Heroin."])[1].warning
    "language 'de' is not covered by any model of router 'router' (they cover en)"
    """

    def __init__(self, taggers: Sequence[Tagger], name: str = "router"):
        if not taggers:
            raise RouterError("a router needs at least one model")
        digests = {t.taxonomy.digest for t in taggers}
        if len(digests) > 1:
            raise RouterError(f"router {name!r}: its models were trained with different taxonomies")
        self.taggers = list(taggers)
        self.name = name
        self.taxonomy = taggers[0].taxonomy
        self.names = taggers[0].names
        self.languages = list(dict.fromkeys(language for t in taggers for language in t.languages))

    @property
    def model_names(self) -> set[str]:
        """Its own name (texts no model covers) and its models' (each text's language picks one)."""
        return {self.name, *(t.name for t in self.taggers)}

    def route(self, language: str | None) -> Tagger | None:
        """The first model covering `language`; a text without letters goes to the first model."""
        if language is None:
            return self.taggers[0]
        return next((t for t in self.taggers if language in t.languages), None)

    def warm_up(self) -> None:
        """A first text's one-off work for every model, before worker processes fork."""
        for tagger in self.taggers:
            tagger.warm_up()

    def predict(self, texts: Iterable[str]) -> list[Prediction]:
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts, not a single string: use predict([text])")
        texts = list(texts)
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text at position {position} is {type(text).__name__}, not str")
        return self.predict_documents([Document(text) for text in texts])

    def predict_documents(self, documents: Iterable[Document]) -> list[Prediction]:
        documents = list(documents)
        languages = [detect(document_text(d)) for d in documents]
        out: list[Prediction | None] = [None] * len(documents)
        by_tagger: dict[int, list[int]] = {}
        for index, language in enumerate(languages):
            tagger = self.route(language)
            if tagger is None:
                covered = ", ".join(self.languages)
                warning = f"language {language!r} is not covered by any model of router {self.name!r} (they cover {covered})"
                out[index] = Prediction([], [], {}, [], [], language, warning, self.name)
            else:
                by_tagger.setdefault(self.taggers.index(tagger), []).append(index)
        for position, indices in by_tagger.items():
            tagged = self.taggers[position].predict_documents([documents[i] for i in indices], [languages[i] for i in indices])
            for index, prediction in zip(indices, tagged):
                out[index] = prediction
        return out  # type: ignore[return-value]


def is_router(folder: str | Path) -> bool:
    return (Path(folder) / ROUTER_FILE).is_file()


def read_router(folder: str | Path) -> tuple[str, list[str]]:
    """The router's name and its routes as loadable specs (folders resolved against the router folder)."""
    path = Path(folder) / ROUTER_FILE
    try:
        tree: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RouterError(f"{path}: not a readable router description ({exc})") from None
    routes = tree.get("routes") if isinstance(tree, dict) else None
    if not isinstance(routes, list) or not routes or not all(isinstance(r, str) and r for r in routes):
        raise RouterError(f"{path}: field 'routes' must be a non-empty list of model folders or MLflow URIs")
    specs = [route if ":/" in route else str((Path(folder) / route).resolve()) for route in routes]
    return str(tree.get("name") or Path(folder).name), specs


def write_router(folder: str | Path, routes: Sequence[str], name: str = "router") -> Path:
    """Write a router folder; folder routes are stored relative to it, so the folders can move together."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stored = [route if ":/" in route else os.path.relpath(Path(route).resolve(), folder.resolve()) for route in routes]
    (folder / ROUTER_FILE).write_text(json.dumps({"name": name, "routes": stored}, indent=2) + "\n", encoding="utf-8")
    return folder
