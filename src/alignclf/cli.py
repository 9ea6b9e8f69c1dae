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


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@data_app.command("build")
def data_build(
    config: Annotated[Path, typer.Option(help="YAML config; its `data` section and seed apply.")] = Path("configs/data.yaml"),
) -> None:
    """Validate data/labelled/*.jsonl and write data/processed/ (DatasetDict, parquet, DATACARD.md)."""
    from alignclf.config import ConfigError, load_config
    from alignclf.data import LabelledDataError
    from alignclf.dataset import build_dataset
    from alignclf.taxonomy import TaxonomyError

    try:
        result = build_dataset(load_config(config))
    except (ConfigError, LabelledDataError, TaxonomyError) as exc:
        _fail(str(exc))
    typer.echo(result.table)
    typer.echo(f"\ndigest {result.digest}; {result.removed_duplicates} near-duplicates removed; written to {result.directory}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(ctx: typer.Context, config: Annotated[str, typer.Option(help="YAML config.")] = "configs/tfidf.yaml") -> None:
    """Train, evaluate and track a model: the same as `python train.py` (key.sub=value overrides)."""
    from alignclf.training import main

    raise typer.Exit(main(["--config", config, *ctx.args]))


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="Labelled JSONL file (the labelled-data format).")],
    model: Annotated[str | None, typer.Option(help="Model folder or MLflow URI (default: see README).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
) -> None:
    """Score a model on any labelled JSONL file."""
    from alignclf.data import LabelledDataError
    from alignclf.evaluate import evaluate as run_evaluation
    from alignclf.models import ModelFolderError
    from alignclf.tagger import NoModelError, load_model

    if not data.is_file():
        _fail(f"data file not found: {data}")
    try:
        tagger = load_model(model)
        report = run_evaluation(tagger, data)
    except (LabelledDataError, ModelFolderError, NoModelError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"model": tagger.name, "data": str(data), **report.to_dict()}))
    else:
        typer.echo(f"# {tagger.name} on {data} ({report.examples} examples)\n")
        typer.echo(report.table())


def main() -> None:
    """Console-script entry point."""
    app(prog_name="alignclf")


if __name__ == "__main__":
    sys.exit(main())
