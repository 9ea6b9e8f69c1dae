"""Spark batch tagging: JSONL or parquet in a data lake, the same Tagger loaded once per executor."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignclf.feeds import FeedError, Fields, check_inputs, detect_format, parse_jsonl_line, read_records
from alignclf.records import METADATA_FIELDS, OUTPUT_FIELDS, Record, record_id, tag_records, text_or_none
from alignclf.resolve import load_model
from alignclf.tagger import Tagger

# Tagging here passes whole columns of plain strings and lists; the equality tests cover it on pandas 3.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

OUTPUT_DDL = (
    "id string, title string, url string, published string, source string, "
    "pillars array<string>, sectors array<string>, scores map<string,double>, "
    "evidence array<struct<field:string,start:bigint,end:bigint,text:string,pillars:array<string>,sectors:array<string>>>, "
    "countries array<string>, model string, warning string, error string, row bigint"
)
OUTPUT_COLUMNS = [*OUTPUT_FIELDS, "row"]
DRIVER_FIELDS = ("error", *METADATA_FIELDS)  # what a record read on the driver carries besides id and text
_TAGGERS: dict[str, Tagger] = {}


def _tagger(model: str) -> Tagger:
    """One Tagger per Python worker process: Spark reuses workers, so a model loads once per executor."""
    if model not in _TAGGERS:
        _TAGGERS[model] = load_model(model)
    return _TAGGERS[model]


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://") if uri.startswith("file://") else uri


def _jsonl_partition(model: str, fields: Fields, max_chars: int):
    import pandas as pd

    def run(frames):
        for frame in frames:
            records, rows = [], []
            for value, file, line, row in zip(frame["value"], frame["file"], frame["line"], frame["row"]):
                fallback = f"{_local_path(file)}:{line}"
                if "\ufffd" in value:  # Spark's text reader has already replaced undecodable bytes
                    records.append(Record(fallback, None, f"{fallback}: not valid UTF-8"))
                    rows.append(row)
                    continue
                record = parse_jsonl_line(value.encode("utf-8"), fallback, fields)
                if record is not None:
                    records.append(record)
                    rows.append(row)
            lines = tag_records(_tagger(model), records, max_chars)
            yield pd.DataFrame([{**line, "row": row} for line, row in zip(lines, rows)], columns=OUTPUT_COLUMNS)

    return run


def _table_partition(model: str, fields: Fields, max_chars: int):
    import pandas as pd

    def run(frames):
        for frame in frames:
            records = []
            for item in frame.to_dict("records"):
                fallback = f"row:{item['row']}"
                identifier, text = record_id(item.get(fields.id), fallback), item.get(fields.text)
                if not isinstance(text, str):
                    records.append(Record(identifier, None, f"{fallback}: field '{fields.text}' is missing or not a string"))
                else:
                    records.append(Record(identifier, text, title=text_or_none(item.get(fields.title))))
            lines = tag_records(_tagger(model), records, max_chars)
            yield pd.DataFrame([{**line, "row": row} for line, row in zip(lines, frame["row"])], columns=OUTPUT_COLUMNS)

    return run


def _records_partition(model: str, fields: Fields, max_chars: int):
    """Records already read on the driver (RSS, HTML, CSV, text): only the tagging is distributed."""
    import pandas as pd

    def run(frames):
        for frame in frames:
            records = [
                Record(row["id"], row["text"], **{k: row[k] if isinstance(row[k], str) else None for k in DRIVER_FIELDS})
                for row in frame.to_dict("records")
            ]
            lines = tag_records(_tagger(model), records, max_chars)
            yield pd.DataFrame([{**line, "row": row} for line, row in zip(lines, frame["row"])], columns=OUTPUT_COLUMNS)

    return run


@dataclass
class SparkSummary:
    read: int
    errors: int

    def text(self) -> str:
        return f"records read: {self.read}; tagged: {self.read - self.errors}; errors: {self.errors} (engine: spark)"


def session(master: str | None = None, app_name: str = "alignclf"):
    """A Spark session; `master` None keeps whatever spark-submit or the environment chose."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master:
        builder = builder.master(master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def input_kind(spec: str) -> str:
    """parquet and JSONL are read by Spark itself; other formats are parsed on the driver."""
    if spec.rstrip("/").endswith(".parquet"):
        return "parquet"
    path = Path(spec)
    if "://" in spec or path.is_dir():
        return "jsonl"
    with path.open("rb") as stream:
        return "jsonl" if detect_format(path, stream.read(512)) == "jsonl" else "driver"


def read_input(spark, inputs: list[str], kind: str, fields: Fields):
    """A DataFrame with a `row` column (input order) and raw lines, parquet columns or parsed records."""
    from pyspark.sql import functions as F

    if kind == "parquet":
        frame = spark.read.parquet(*inputs)
        return frame.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1])).toDF([*frame.columns, "row"])
    if kind == "driver":
        rows = [
            (r.id, r.text, *(getattr(r, k) for k in DRIVER_FIELDS), n) for n, r in enumerate(read_records(inputs, "auto", fields))
        ]
        return spark.createDataFrame(
            rows, f"id string, text string, {', '.join(f'{k} string' for k in DRIVER_FIELDS)}, row bigint"
        )
    lines = spark.read.text(inputs).withColumn("file", F.input_file_name())
    indexed = lines.rdd.zipWithIndex().map(lambda pair: (pair[0].value, pair[0].file, pair[1])).toDF(["value", "file", "row"])
    starts = indexed.groupBy("file").agg(F.min("row").alias("start"))
    return indexed.join(starts, "file").withColumn("line", F.col("row") - F.col("start") + 1).drop("start")


_PARTITIONS = {"parquet": _table_partition, "jsonl": _jsonl_partition, "driver": _records_partition}


def tag_with_spark(
    inputs: list[str],
    output: str,
    model: str,
    master: str | None = "local[*]",
    fields: Fields | None = None,
    max_chars: int = 200_000,
    spark: Any = None,
) -> SparkSummary:
    """Tag inputs with Spark and write parquet (`.parquet`) or JSON lines (any other name).

    JSONL and parquet are read by Spark, so they scale with the cluster; RSS, HTML, CSV and
    text are parsed on the driver and only tagged in parallel. Output rows carry the fields
    of `alignclf tag`, in input order; Spark writes a folder of part files.
    """
    fields = fields or Fields()
    if "-" in inputs:
        raise FeedError("--engine spark reads files, folders or URIs, not standard input")
    check_inputs([spec for spec in inputs if "://" not in spec])
    model = str(Path(model).resolve()) if Path(model).is_dir() else model
    owned = spark is None
    spark = spark or session(master)
    try:
        return _run(spark, inputs, output, model, fields, max_chars)
    finally:
        if owned:
            spark.stop()


def _run(spark: Any, inputs: list[str], output: str, model: str, fields: Fields, max_chars: int) -> SparkSummary:
    kinds = {input_kind(spec) for spec in inputs}
    if len(kinds) > 1:
        raise ValueError(f"--engine spark takes inputs of one kind at a time (got {', '.join(sorted(kinds))})")
    kind = kinds.pop()
    resolved = [p if "://" in p or kind == "driver" else str(Path(p).resolve()) for p in inputs]
    frame = read_input(spark, resolved, kind, fields)
    partition = _PARTITIONS[kind](model, fields, max_chars)
    tagged = frame.mapInPandas(partition, schema=OUTPUT_DDL).orderBy("row").drop("row")
    writer = tagged.write.mode("overwrite")
    if output.rstrip("/").endswith(".parquet"):
        writer.parquet(output)
    else:
        writer.option("ignoreNullFields", "false").json(output)
    written = spark.read.parquet(output) if output.rstrip("/").endswith(".parquet") else spark.read.json(output)
    counts = written.selectExpr("count(*) as read", "count(error) as errors").first()
    return SparkSummary(int(counts["read"]), int(counts["errors"]))
