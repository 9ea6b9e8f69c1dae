"""Spark batch tagging: the local engine's readers and Tagger, spread over a cluster, with the same output records.

Every input file is read whole by one task (Spark's `binaryFile` source) and parsed with the
local engine's readers, so formats, ids (`<file>:<line>`), metadata and error records are the
same; the records are then spread over every core for tagging and written in input order.
"""

from __future__ import annotations

import io
import json
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alignclf.batch import OutputError, Summary
from alignclf.feeds import FeedError, Fields, detect_format, input_files, sniff, stream_records
from alignclf.records import OUTPUT_FIELDS, Record, record_id, tag_records, text_or_none
from alignclf.resolve import default_model, load_model
from alignclf.tagger import Tagger

# Tagging here passes whole columns of plain strings and lists; the equality tests cover it on pandas 3.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

RECORD_DDL = (
    "order bigint, number bigint, id string, text string, error string, title string, url string, "
    "published string, source string, warnings array<string>, keep string"
)
OUTPUT_DDL = (
    "order bigint, number bigint, json string, id string, title string, url string, published string, source string, "
    "language string, "
    "pillars array<string>, sectors array<string>, scores map<string,double>, "
    "evidence array<struct<field:string,start:bigint,end:bigint,text:string,pillars:array<string>,sectors:array<string>>>, "
    "countries array<string>, model string, warning string, error string, keep string"
)
_TAGGERS: dict[str, Tagger] = {}


def _tagger(model: str) -> Tagger:
    """One Tagger per Python worker process: Spark reuses workers, so a model loads once per executor."""
    if model not in _TAGGERS:
        _TAGGERS[model] = load_model(model)
    return _TAGGERS[model]


@dataclass(frozen=True)
class InputFile:
    order: int
    name: str  # as the local engine names it: the path as given, or the URI
    location: str  # what Spark reads
    fmt: str  # a format, "parquet", or "auto" to sniff from the content


def _location(path: Path) -> str:
    return "file:" + str(path.resolve())


def list_inputs(spark: Any, inputs: list[str], exclude: list[Path]) -> list[InputFile]:
    """Files in input order: local folders listed like the local engine does, URIs listed by Spark."""
    files: list[InputFile] = []
    for spec in inputs:
        if spec == "-":
            raise FeedError("--engine spark reads files, folders or URIs, not standard input")
        if "://" in spec:
            listed = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(spec).select("path").collect()
            for row in sorted(listed, key=lambda r: r.path):
                suffix = Path(row.path).suffix.lower()
                fmt = "parquet" if suffix == ".parquet" else detect_format(Path(row.path), b"") if suffix else "auto"
                files.append(InputFile(len(files), row.path, row.path, fmt))
            continue
        for path in input_files(spec, exclude):
            with path.open("rb") as stream:
                head = stream.read(64 * 1024)
            fmt = "parquet" if path.suffix.lower() == ".parquet" or head.startswith(b"PAR1") else detect_format(path, head)
            files.append(InputFile(len(files), str(path), _location(path), fmt))
    return files


def _parquet_records(content: bytes, name: str, fields: Fields) -> Any:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(io.BytesIO(content))
    number = 0
    for batch in table.iter_batches(batch_size=1024):
        for item in batch.to_pylist():
            number += 1
            where = f"{name}:{number}"
            identifier, text = record_id(item.get(fields.id), where), item.get(fields.text)
            keep = {key: item.get(key) for key in fields.keep}
            metadata = {"title": text_or_none(item.get(fields.title)), "url": text_or_none(item.get(fields.url)), "keep": keep}
            if not isinstance(text, str):
                yield Record(identifier, None, f"{where}: field '{fields.text}' is missing or not a string", **metadata)
            else:
                yield Record(identifier, text, **metadata)


def _frame(rows: list[dict]) -> Any:
    """Rows as plain Python objects: pandas 3's Arrow-backed `str` columns reach Spark as chunked arrays it refuses."""
    import pandas as pd

    return pd.DataFrame(rows, dtype=object)


def _read_partition(fields: Fields, max_chars: int):
    """Files (with their bytes) in, records out, numbered within their file."""

    def run(frames):
        for frame in frames:
            for order, name, fmt, content in zip(frame["order"], frame["name"], frame["fmt"], frame["content"]):
                content = bytes(content)
                fmt = sniff(content[: 64 * 1024]) if fmt == "auto" else fmt
                if fmt == "parquet":
                    records = _parquet_records(content, name, fields)
                else:
                    records = stream_records(io.BufferedReader(io.BytesIO(content)), name, fmt, fields, max_chars)
                rows = []
                for number, record in enumerate(records, start=1):
                    row = asdict(record) | {"order": order, "number": number}
                    row["warnings"], row["keep"] = list(record.warnings), json.dumps(record.keep, ensure_ascii=False)
                    rows.append(row)
                    if len(rows) == 1024:
                        yield _frame(rows)
                        rows = []
                if rows:
                    yield _frame(rows)

    return run


def _tag_partition(model: str, max_chars: int):
    """Records in, output rows out: the JSON line exactly as the local engine writes it, and typed columns."""

    def run(frames):
        for frame in frames:
            items = frame.astype(object).where(frame.notna(), None).to_dict("records")  # pandas 3 reads a null string as NaN
            records = [
                Record(
                    r["id"],
                    r["text"],
                    r["error"],
                    r["title"],
                    r["url"],
                    r["published"],
                    r["source"],
                    json.loads(r["keep"]),
                    tuple(r["warnings"] if r["warnings"] is not None else ()),
                )  # fmt: skip
                for r in items
            ]
            lines = tag_records(_tagger(model), records, max_chars)
            rows = []
            for item, line in zip(items, lines):
                typed = {name: line[name] for name in OUTPUT_FIELDS}
                kept = {name: value for name, value in line.items() if name not in OUTPUT_FIELDS}
                rows.append(
                    {"order": item["order"], "number": item["number"], "json": json.dumps(line, ensure_ascii=False)}
                    | typed
                    | {"keep": json.dumps(kept, ensure_ascii=False)}
                )
            yield _frame(rows)

    return run


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


def _exists(spark: Any, output: str) -> bool:
    if "://" not in output:
        return Path(output).exists()
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(output)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path)


def tag_with_spark(
    inputs: list[str],
    output: str | Path | None,
    model: str | None,
    master: str | None = "local[*]",
    fields: Fields | None = None,
    max_chars: int = 200_000,
    resume: bool = False,
    overwrite: bool = False,
    spark: Any = None,
) -> Summary:
    """Tag inputs with Spark and write JSON lines (any name) or parquet (a name ending in `.parquet`).

    The output is a folder of part files that, read in name order, holds one record per input
    record in input order: for JSON lines, the same lines the local engine writes.
    """
    if output is None:
        raise OutputError("--engine spark needs -o/--output (a folder: .parquet for parquet, else JSON lines)")
    if resume:
        raise OutputError("--resume works with the local engine; Spark writes its output folder whole")
    fields = fields or Fields()
    output = str(output)
    model = model or default_model()
    model = str(Path(model).resolve()) if Path(model).is_dir() else model
    owned = spark is None
    spark = spark or session(master)
    try:
        if _exists(spark, output) and not overwrite:
            raise OutputError(f"-o {output} exists; pass --overwrite to replace it")
        return _run(spark, inputs, output, model, fields, max_chars)
    finally:
        if owned:
            spark.stop()


def _run(spark: Any, inputs: list[str], output: str, model: str, fields: Fields, max_chars: int) -> Summary:
    import time

    from pyspark.sql import functions as F

    started = time.perf_counter()
    exclude = [Path(output)] if "://" not in output else []
    files = list_inputs(spark, inputs, exclude)
    if not files:
        raise FeedError(f"no input files in {', '.join(inputs)}")
    listing = spark.createDataFrame(
        [(f.order, f.name, f.location, f.fmt) for f in files], "order bigint, name string, path string, fmt string"
    )
    content = spark.read.format("binaryFile").load([f.location for f in files]).select("path", "content")
    # Spark reports local paths as file:/..., the way _location() writes them.
    content = content.withColumn("path", F.regexp_replace("path", "^file:/+", "file:/"))
    listing = listing.withColumn("path", F.regexp_replace("path", "^file:/+", "file:/"))
    joined = listing.join(content, "path").select("order", "name", "fmt", "content").repartition(len(files))
    records = joined.mapInPandas(_read_partition(fields, max_chars), schema=RECORD_DDL)
    cores = spark.sparkContext.defaultParallelism
    tagged = records.repartition(cores).mapInPandas(_tag_partition(model, max_chars), schema=OUTPUT_DDL)
    ordered = tagged.orderBy("order", "number").cache()
    if output.rstrip("/").endswith(".parquet"):
        ordered.drop("order", "number", "json").write.mode("overwrite").parquet(output)
    else:
        ordered.select("json").write.mode("overwrite").text(output)
    counts = ordered.selectExpr("count(*) as read", "count(error) as errors", "count(warning) as warnings").first()
    ordered.unpersist()
    read, errors = int(counts["read"]), int(counts["errors"])
    return Summary(
        read=read, tagged=read - errors, errors=errors, warnings=int(counts["warnings"]), seconds=time.perf_counter() - started
    )
