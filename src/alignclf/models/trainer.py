"""Fine-tuning with `transformers.Trainer`: weighted multi-label loss, a faster head, early stopping, resumable checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from alignclf.config import TransformerConfig
from alignclf.models.base import MetricLogger

BEST_METRIC = "sectors_macro_f1"


def _dataset(features: list[dict[str, list[int]]], targets: np.ndarray):
    from datasets import Dataset

    columns: dict[str, list] = {name: [row[name] for row in features] for name in features[0]}
    columns["labels"] = targets.astype(np.float32).tolist()
    columns["length"] = [len(row["input_ids"]) for row in features]
    return Dataset.from_dict(columns)


def _trainer_class():
    import torch
    from transformers import Trainer

    class WeightedTrainer(Trainer):
        """Trainer with per-label positive weights and a learning-rate multiplier for the new head."""

        def __init__(self, *args: Any, pos_weight: np.ndarray, head_multiplier: float, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(pos_weight))
            self.head_multiplier = head_multiplier

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = self.loss_fn(outputs.logits, labels.to(outputs.logits.dtype))
            return (loss, outputs) if return_outputs else loss

        def create_optimizer(self, model=None):
            """AdamW; no decay on biases and norms; the fresh head gets `head_multiplier` times the rate."""
            if self.optimizer is None:
                model = model or self.model
                decay = set(self.get_decay_parameter_names(model))
                groups: dict[tuple[bool, bool], list] = {}
                for name, parameter in model.named_parameters():
                    if parameter.requires_grad:
                        head = name.startswith(("classifier", "pre_classifier"))
                        groups.setdefault((head, name in decay), []).append(parameter)
                rate = self.args.learning_rate
                self.optimizer = torch.optim.AdamW(
                    [
                        {
                            "params": params,
                            "lr": rate * (self.head_multiplier if head else 1.0),
                            "weight_decay": self.args.weight_decay if decays else 0.0,
                        }
                        for (head, decays), params in sorted(groups.items())
                    ],
                    lr=rate,
                )
            return self.optimizer

    return WeightedTrainer


def _quiet_progress():
    from transformers.trainer_callback import ProgressCallback

    class EpochProgress(ProgressCallback):
        """The progress bar without a printed dict per step; epoch results still print."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and any(key.startswith("eval_") for key in logs):
                super().on_log(args, state, control, logs=logs, **kwargs)

    return EpochProgress


def _logging_callback(log: MetricLogger):
    from transformers import TrainerCallback

    class LiveMetrics(TrainerCallback):
        """Forwards loss per step and validation F1 per epoch to the run while training goes on."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                log({"train.loss": float(logs["loss"])}, state.global_step)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metrics and f"eval_{BEST_METRIC}" in metrics:
                log({f"validation.epoch_{BEST_METRIC}": float(metrics[f"eval_{BEST_METRIC}"])}, round(state.epoch or 0))

    return LiveMetrics()


def train_classifier(
    model: Any,
    tokenizer: Any,
    train_features: list[dict[str, list[int]]],
    train_targets: np.ndarray,
    validation_features: list[dict[str, list[int]]] | None,
    validation_targets: np.ndarray | None,
    settings: TransformerConfig,
    seed: int,
    pos_weight: np.ndarray,
    validation_score: Callable[[np.ndarray, np.ndarray], float] | None,
    log: MetricLogger,
    checkpoints: Path,
) -> Any:
    """Fine-tune `model` and return it with the best epoch's weights.

    Checkpoints go to `checkpoints` after every epoch; a rerun with the same folder resumes
    from the last one, so an interrupted training loses at most one epoch.
    """
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, TrainingArguments

    s = settings
    evaluate = validation_features is not None and validation_score is not None
    args = TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=s.batch_size,
        per_device_eval_batch_size=s.inference_batch_size,
        num_train_epochs=s.epochs,
        learning_rate=s.learning_rate,
        warmup_steps=s.warmup_ratio,
        weight_decay=s.weight_decay,
        max_grad_norm=1.0,
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length" if s.group_by_length else "random",
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=evaluate,
        metric_for_best_model=BEST_METRIC if evaluate else None,
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=1,
        seed=seed,
        data_seed=seed,
        report_to="none",
        disable_tqdm=not s.verbose,
        use_cpu=True,
        dataloader_num_workers=0,
    )

    def metrics(prediction) -> dict[str, float]:
        return {BEST_METRIC: validation_score(np.asarray(prediction.predictions), np.asarray(prediction.label_ids))}

    callbacks = [_logging_callback(log)]
    if evaluate and s.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=s.early_stopping_patience))
    trainer = _trainer_class()(
        model=model,
        args=args,
        train_dataset=_dataset(train_features, train_targets),
        eval_dataset=_dataset(validation_features, validation_targets) if evaluate else None,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=metrics if evaluate else None,
        callbacks=callbacks,
        pos_weight=pos_weight,
        head_multiplier=s.head_learning_rate_multiplier,
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)  # with the progress bar off it prints every step's logs
    if s.verbose:
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(_quiet_progress())
    if s.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    resume = any(checkpoints.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    return trainer.model
