"""MLflow pyfunc adapter: a DataFrame with `text` (and optional `id`, `title`) in, tag records out."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

from alignclf.tagger import OUTPUT_FIELDS, Record, Tagger, article_text, record_id, tag_records


def frame_to_records(frame: pd.DataFrame, strict: bool = False) -> list[Record]:
    """Rows to records; a row whose text is not a string becomes an error record, or with `strict`
    an INVALID_PARAMETER_VALUE error (a 400 from the model server) naming the row."""
    from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

    if not isinstance(frame, pd.DataFrame) or "text" not in frame.columns:
        columns = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise MlflowException(f"input needs a 'text' column (got {columns})", error_code=INVALID_PARAMETER_VALUE)
    records = []
    for position, row in enumerate(frame.to_dict("records")):
        identifier = record_id(row.get("id"), f"row:{position}")
        text, title = row.get("text"), row.get("title")
        if not isinstance(text, str) and strict:
            raise MlflowException(
                f"row {position}: field 'text' must be a string, got {type(text).__name__}", error_code=INVALID_PARAMETER_VALUE
            )
        if not isinstance(text, str):
            records.append(Record(identifier, None, f"row {position}: field 'text' is {type(text).__name__}, not a string"))
            continue
        records.append(Record(identifier, article_text(title, text)))
    return records


class TaggerModel(mlflow.pyfunc.PythonModel):
    """Loads the model folder logged as the `model_dir` artifact, the same one `load_model` reads."""

    def load_context(self, context: Any) -> None:
        self.tagger = Tagger.from_folder(context.artifacts["model_dir"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        # Requests are validated whole: a bad row is the caller's error (HTTP 400), not a silent record.
        lines = tag_records(self.tagger, frame_to_records(model_input, strict=True))
        return pd.DataFrame(lines, columns=list(OUTPUT_FIELDS))
