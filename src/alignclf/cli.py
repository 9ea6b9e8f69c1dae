"""`alignclf` command line: thin commands over the library; heavy imports happen inside each."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Tag news text by cooperation pillars and sectors.", no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Build the labelled dataset.", no_args_is_help=True)
app.add_typer(data_app, name="data")
review_app = typer.Typer(help="Review loop with Label Studio: tasks out, exports in.", no_args_is_help=True)
app.add_typer(review_app, name="review")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@data_app.command("build")
def data_build(
    config: Annotated[Path, typer.Option(help="YAML config; its `data` section and seed apply.")] = Path("configs/data.yaml"),
) -> None:
    """Validate data/labelled/*.jsonl and write data/processed/ (DatasetDict, parquet, DATACARD.md)."""
    from alignclf.config import load_config
    from alignclf.dataset import build_dataset
    from alignclf.errors import AlignclfError

    try:
        result = build_dataset(load_config(config))
    except AlignclfError as exc:
        _fail(str(exc))
    typer.echo("sentences:\n" + result.table + "\n\narticles:\n" + result.article_table)
    typer.echo(f"\ndigest {result.digest}; {result.removed_duplicates} near-duplicates removed; written to {result.directory}")


# Options several commands share: one spelling, one help text.
ModelOption = Annotated[str | None, typer.Option(help="Model folder or MLflow URI (default: see README).")]
TextField = Annotated[str, typer.Option(help="JSONL/CSV field with the text.")]
IdField = Annotated[str, typer.Option(help="JSONL/CSV field with the id.")]
UrlField = Annotated[str, typer.Option(help="JSONL/CSV field with the article's link.")]
FormatOption = Annotated[str, typer.Option("--format", help="auto|jsonl|csv|rss|html|txt")]


@app.command()
def train(
    overrides: Annotated[
        list[str] | None, typer.Argument(metavar="[KEY.SUB=VALUE]...", help="Override any config key.", show_default=False)
    ] = None,
    config: Annotated[str, typer.Option(help="YAML config.")] = "configs/tfidf.yaml",
) -> None:
    """Train, evaluate and track a model from a YAML config: the same as `python train.py`."""
    from alignclf.errors import AlignclfError
    from alignclf.training import run

    try:
        run(config, overrides or [])
    except AlignclfError as exc:
        _fail(str(exc))


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="Labelled JSONL file: sentences or articles (told apart by their lines).")],
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as one JSON object.")] = False,
) -> None:
    """Score a model on any labelled sentence or article file."""
    from alignclf.errors import AlignclfError
    from alignclf.evaluate import evaluate as run_evaluation
    from alignclf.resolve import load_model

    if not data.is_file():
        _fail(f"data file not found: {data}")
    try:
        tagger = load_model(model)
        reports = run_evaluation(tagger, data)
    except AlignclfError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"model": tagger.name, "data": str(data), **{k: r.to_dict() for k, r in reports.items()}}))
        return
    for kind, report in reports.items():
        typer.echo(f"# {tagger.name} on {data}: {kind} ({report.examples})\n")
        typer.echo(report.table() + "\n")


@app.command()
def tag(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders, or - for stdin.", show_default=False)],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Output JSONL (default: stdout).")] = None,
    model: ModelOption = None,
    fmt: FormatOption = "auto",
    text_field: TextField = "text",
    id_field: IdField = "id",
    title_field: Annotated[str, typer.Option(help="JSONL/CSV field with the title (scored as the title).")] = "title",
    url_field: UrlField = "url",
    date_field: Annotated[str, typer.Option(help="JSONL/CSV field with the publication date.")] = "published",
    keep: Annotated[list[str] | None, typer.Option(help="Copy this input field to the output (repeatable).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue a killed run: skip the records already written, append.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Records tagged and written per batch.")] = 64,
    workers: Annotated[int, typer.Option(min=1, help="Processes tagging batches side by side (TF-IDF, static).")] = 1,
    max_chars: Annotated[int, typer.Option(min=1, help="Longer articles get an error record.")] = 200_000,
    engine: Annotated[str, typer.Option(help="local, or spark for data-lake scale.")] = "local",
    master: Annotated[str, typer.Option(help="Spark master URL (with --engine spark).")] = "local[*]",
    overwrite: Annotated[bool, typer.Option(help="Spark: replace an existing output path.")] = False,
) -> None:
    """Batch-tag news: one JSON line per input record, in input order; exit 3 if any record has an error."""
    from alignclf.batch import tag_inputs
    from alignclf.errors import AlignclfError
    from alignclf.feeds import Fields

    fields = Fields(text_field, id_field, title_field, url_field, date_field, tuple(keep or ()))
    try:
        if engine == "spark":
            from alignclf.spark import tag_with_spark

            summary = tag_with_spark(inputs, output, model, master, fields, max_chars, resume=resume, overwrite=overwrite)
        elif engine == "local":
            summary = tag_inputs(inputs, output, model, fmt, fields, resume, batch_size, max_chars, sys.stderr.isatty(), workers)
        else:
            _fail(f"unknown engine {engine!r} (choose local or spark)")
    except AlignclfError as exc:
        _fail(str(exc))
    typer.echo(summary.text(), err=True)
    raise typer.Exit(3 if summary.errors else 0)


@app.command()
def report(
    inputs: Annotated[
        list[Path], typer.Argument(metavar="TAGGED.jsonl...", help="Tag output files (alignclf tag -o) or folders of them.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML report to write.")] = Path("report.html"),
    by: Annotated[str, typer.Option(help="Default time view: day, week or month (the others are one click away).")] = "week",
    top_countries: Annotated[int, typer.Option(min=1, help="Countries in the countries x labels heat map.")] = 15,
    csv_dir: Annotated[
        Path | None, typer.Option("--csv", help="Also write every aggregate as a CSV file into this folder.")
    ] = None,
) -> None:
    """One offline HTML report from tagged JSONL: labels over time, countries, co-occurrence, evidence, misses, errors."""
    from alignclf.errors import AlignclfError
    from alignclf.report import build_report

    try:
        summary = build_report(inputs, output, by=by, top_countries=top_countries, csv_dir=csv_dir)
    except AlignclfError as exc:
        _fail(str(exc))
    typer.echo(summary.text())


@app.command()
def serve(
    model: ModelOption = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes.")] = 1,
) -> None:
    """Serve tags over HTTP with MLflow's model server: POST /invocations with a `text` column."""
    from alignclf.errors import AlignclfError
    from alignclf.serve import serve as run_server

    try:
        code = run_server(model, port, host, workers)
    except AlignclfError as exc:
        _fail(str(exc))
    raise typer.Exit(code)


@review_app.command("suggest")
def review_suggest(
    inputs: Annotated[list[str], typer.Argument(help="News files, folders, or - for stdin.", show_default=False)],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Label Studio tasks JSON; the labelling config goes beside it (.xml).")
    ],
    n: Annotated[int, typer.Option("--n", min=1, help="How many sentences to suggest.")] = 200,
    strategy: Annotated[str, typer.Option(help="uncertainty|disagreement")] = "uncertainty",
    model: ModelOption = None,
    other_model: Annotated[str | None, typer.Option(help="Second model, for --strategy disagreement.")] = None,
    fmt: FormatOption = "auto",
    text_field: TextField = "text",
    id_field: IdField = "id",
    title_field: Annotated[str, typer.Option(help="JSONL/CSV field with the title.")] = "title",
    url_field: UrlField = "url",
) -> None:
    """Pick the sentences most worth a human look and write them as Label Studio tasks with the model's predictions."""
    from alignclf.errors import AlignclfError
    from alignclf.feeds import Fields
    from alignclf.review import suggest

    fields = Fields(text=text_field, id=id_field, title=title_field, url=url_field)
    try:
        s = suggest(inputs, output, model, n=n, strategy=strategy, other_model=other_model, fields=fields, fmt=fmt)
    except AlignclfError as exc:
        _fail(str(exc))
    typer.echo(
        f"{s.records} records, {s.sentences} sentences: {s.duplicates} near-duplicates and "
        f"{s.already_labelled} already labelled skipped, {s.candidates} candidates"
    )
    typer.echo(f"{s.picked} tasks -> {s.tasks}; labelling config -> {s.config}")
    typer.echo("picked for: " + ", ".join(f"{label} {count}" for label, count in s.picked_for.items()))


@review_app.command("import")
def review_import(
    export: Annotated[Path, typer.Argument(help="Label Studio JSON export (Export > JSON).", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Labelled JSONL, e.g. data/labelled/reviewed-<date>.jsonl.")],
) -> None:
    """Turn a Label Studio JSON export into labelled lines (source `reviewed`) that the next training reads."""
    from alignclf.errors import AlignclfError
    from alignclf.review import import_export

    try:
        s = import_export(export, output)
    except AlignclfError as exc:
        _fail(str(exc))
    typer.echo(
        f"{s.tasks} tasks: {s.written} lines -> {s.output}; {s.cancelled} cancelled annotations skipped, "
        f"{s.unannotated} tasks without an annotation"
    )
    for data_id in s.disagreements:
        typer.echo(f"left out, annotators disagree: {data_id}")
    for duplicate in s.duplicates:
        typer.echo(f"left out, near-duplicate: {duplicate}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; `argv` lets tests call it directly."""
    app(args=argv, prog_name="alignclf")


if __name__ == "__main__":
    sys.exit(main())
