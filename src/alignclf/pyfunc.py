"""MLflow pyfunc adapter: a DataFrame with `text` (and optional `id`, `title`, ...) in, tag records out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from alignclf.records import METADATA_FIELDS, OUTPUT_FIELDS, Record, record_id, tag_records, text_or_none
from alignclf.routing import Router, read_router
from alignclf.tagger import Tagger

# The models-from-code file MLflow runs to build the model, and the package logged beside it as code.
ENTRY = Path(__file__).with_name("mlflow_model.py")
PACKAGE = Path(__file__).parent


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
        text = row.get("text")
        metadata = {name: text_or_none(row.get(name)) for name in METADATA_FIELDS}
        if not isinstance(text, str) and strict:
            raise MlflowException(
                f"row {position}: field 'text' must be a string, got {type(text).__name__}", error_code=INVALID_PARAMETER_VALUE
            )
        if not isinstance(text, str):
            error = f"row {position}: field 'text' is {type(text).__name__}, not a string"
            records.append(Record(identifier, None, error=error, **metadata))
            continue
        records.append(Record(identifier, text, **metadata))
    return records


class TaggerModel(mlflow.pyfunc.PythonModel):
    """Loads the model folder logged as the `model_dir` artifact, the same one `load_model` reads."""

    def load_context(self, context: Any) -> None:
        self.folder = context.artifacts["model_dir"]
        routes = sorted((k for k in context.artifacts if k.startswith("route_")), key=lambda k: int(k.split("_")[1]))
        if routes:  # a router: its models travel as artifacts of their own
            name, _ = read_router(self.folder)  # the routes are the artifacts, not the paths it names
            self.tagger = Router([Tagger.from_folder(context.artifacts[k]) for k in routes], name)
        else:
            self.tagger = Tagger.from_folder(self.folder)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        # Requests are validated whole: a bad row is the caller's error (HTTP 400), not a silent record.
        lines = tag_records(self.tagger, frame_to_records(model_input, strict=True))
        return pd.DataFrame(lines, columns=list(OUTPUT_FIELDS))
