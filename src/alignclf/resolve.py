"""Which model: the default-model rule, model folders, `models:/` and `runs:/` URIs, and the per-process cache."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignclf.config import TrackingConfig
from alignclf.errors import AlignclfError
from alignclf.models.base import METADATA_FILE
from alignclf.routing import Router, is_router, read_router
from alignclf.tagger import Tagger
from alignclf.tracking import DEFAULT_TRACKING_URI, configure

MODEL_ENV = "ALIGNCLF_MODEL"


class NoModelError(AlignclfError, RuntimeError):
    """No model was named and none could be found, or a named one does not exist."""


def newest_folder(root: Path) -> Path | None:
    """The model folder under `root` trained last (`trained_at` in its card), ties broken by name.

    Half-written (`.name.partial`) and other hidden folders never count. File times are not
    used: `git clone`, `cp` and `rsync` change them.
    """
    found = []
    for card in sorted(root.glob(f"*/{METADATA_FILE}")) if root.is_dir() else []:
        if card.parent.name.startswith("."):
            continue
        try:
            trained_at = str(json.loads(card.read_text(encoding="utf-8")).get("trained_at", ""))
        except (OSError, ValueError):
            continue  # not readable as a card: loading it would fail anyway
        found.append((trained_at, card.parent.name, card.parent))
    return max(found)[2] if found else None


def champion_uri(tracking: TrackingConfig | None = None) -> str | None:
    """`models:/<name>@<alias>` when the tracking store has a champion, else None."""
    tracking = tracking or TrackingConfig()
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None  # no store yet: neither create one nor pay for importing mlflow just to look
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    configure()
    try:
        MlflowClient().get_model_version_by_alias(tracking.registered_model, tracking.champion_alias)
    except MlflowException:
        return None
    return f"models:/{tracking.registered_model}@{tracking.champion_alias}"


ROUTER = Path("models") / "router"


def default_model() -> str:
    """`$ALIGNCLF_MODEL`, else `models/router/` (one model per language), else the registry's champion,
    else the newest folder under models/."""
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    if is_router(ROUTER):
        return str(ROUTER)
    uri = champion_uri()
    if uri:
        return uri
    newest = newest_folder(Path("models"))
    if newest:
        return str(newest)
    raise NoModelError(
        f"no model found: set {MODEL_ENV}, pass --model, or train one with `make run` "
        "(or `python train.py --config configs/tfidf.yaml`)"
    )


def _from_uri(uri: str, **options: Any) -> Tagger:
    """The Tagger inside a logged alignclf model; an unknown URI or a foreign model is a NoModelError."""
    import mlflow
    from mlflow.exceptions import MlflowException

    configure()
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NoModelError(f"cannot load MLflow model {uri!r}: {first}") from None
    inner = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else None
    tagger = getattr(inner, "tagger", None)
    if not isinstance(tagger, Tagger):
        raise NoModelError(f"MLflow model {uri!r} is not an alignclf model")
    if options:
        tagger = Tagger.from_folder(inner.folder, **options)
    return tagger


def load_model(model: str | Path | None = None, **options: Any) -> Tagger | Router:
    """A Tagger from a model folder or any MLflow model URI (`models:/alignclf@champion`, `runs:/...`),
    or a Router from a router folder (one model per language).

    `options` reach the model kind's loader, e.g. `runtime="torch"` for a transformer.

    >>> load_model(tiny_model_folder).predict(["Police seized 300 kg of heroin at the border."])[0].sectors
    ['drug_trafficking']
    """
    spec = str(model) if model is not None else default_model()
    if is_router(spec):
        name, routes = read_router(spec)
        return Router([load_model(route, **options) for route in routes], name)
    if Path(spec).is_dir():
        return Tagger.from_folder(spec, **options)
    if ":/" in spec:
        return _from_uri(spec, **options)
    raise NoModelError(f"model not found: {spec!r} is neither a model folder nor an MLflow model URI")


_LOADED: dict[str | None, Tagger] = {}


def predict(texts: Sequence[str], model: str | Path | None = None) -> list[dict[str, Any]]:
    """Tag texts with `model` (default: see `default_model`), loading it once per process.

    >>> predict(["Police seized 300 kg of heroin at the border."], model=tiny_model_folder)[0]["pillars"]
    ['security']
    """
    key = str(model) if model is not None else None  # the default is resolved once, like the model
    if key not in _LOADED:
        _LOADED[key] = load_model(key)
    return [p.to_dict() for p in _LOADED[key].predict(texts)]
