"""Spark engine on local[2]: the same records as the local engine, error records instead of failed jobs."""

import json
import shutil

import pytest

from alignclf.batch import tag_feed
from alignclf.feeds import read_records
from conftest import ROOT, write_feed

pytestmark = [pytest.mark.spark, pytest.mark.slow]

pytest.importorskip("pyspark")
if not shutil.which("java"):
    pytest.skip("Spark needs Java 17+ (make test installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from alignclf.spark import session

    spark = session("local[2]", "alignclf-tests")
    yield spark
    spark.stop()


def spark_lines(folder):
    lines = []
    for part in sorted(folder.glob("part-*")):
        lines += [json.loads(line) for line in part.read_text().splitlines()]
    return lines


def local_lines(tagger, inputs):
    import io

    out = io.StringIO()
    tag_feed(tagger, read_records(inputs), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_spark_output_equals_the_local_engine_record_for_record(spark, tiny_run, tmp_path):
    import io

    from alignclf.resolve import load_model
    from alignclf.spark import tag_with_spark

    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 1000)
    local = io.StringIO()
    tag_feed(load_model(tiny_run[1].folder), read_records([str(feed)]), local)
    expected = [json.loads(line) for line in local.getvalue().splitlines()]

    summary = tag_with_spark([str(feed)], str(tmp_path / "out.jsonl"), str(tiny_run[1].folder), spark=spark)
    assert (summary.read, summary.errors) == (1000, 0)
    assert spark_lines(tmp_path / "out.jsonl") == expected


def test_malformed_rows_become_error_records(spark, tiny_run, tmp_path):
    from alignclf.spark import tag_with_spark

    feed = tmp_path / "bad.jsonl"
    feed.write_text('{"id": "ok", "text": "Gas exports rose."}\nnot json\n{"id": "n", "text": 3}\n{"id": "m"}\n')
    summary = tag_with_spark([str(feed)], str(tmp_path / "out.jsonl"), str(tiny_run[1].folder), spark=spark)
    lines = spark_lines(tmp_path / "out.jsonl")
    assert (summary.read, summary.errors) == (4, 3)
    assert [line["id"] for line in lines] == ["ok", f"{feed}:2", "n", "m"]
    assert lines[0]["error"] is None and "malformed JSON" in lines[1]["error"]
    assert "field 'text' is int" in lines[2]["error"] and "field 'text' is missing" in lines[3]["error"]


def test_parquet_in_and_out(spark, tiny_run, tmp_path):
    import pandas as pd

    from alignclf.spark import tag_with_spark

    source = tmp_path / "in.parquet"
    pd.DataFrame({"id": ["a", "b", None], "text": ["Police seized heroin.", None, "Wheat exports doubled."]}).to_parquet(source)
    summary = tag_with_spark([str(source)], str(tmp_path / "out.parquet"), str(tiny_run[1].folder), spark=spark)
    frame = pd.read_parquet(tmp_path / "out.parquet")
    assert (summary.read, summary.errors) == (3, 1)
    assert list(frame["id"]) == ["a", "b", f"{source}:3"]
    assert "drug_trafficking" in list(frame["sectors"][0])


def test_the_sample_rss_feed_gets_the_same_tags_as_the_local_engine(spark, tiny_run, tmp_path):
    import io

    from alignclf.resolve import load_model
    from alignclf.spark import tag_with_spark

    feed = str(ROOT / "data" / "samples" / "feed.xml")
    local = io.StringIO()
    tag_feed(load_model(tiny_run[1].folder), read_records([feed]), local)
    tag_with_spark([feed], str(tmp_path / "out.jsonl"), str(tiny_run[1].folder), spark=spark)
    assert spark_lines(tmp_path / "out.jsonl") == [json.loads(line) for line in local.getvalue().splitlines()]


def test_a_folder_of_mixed_formats_and_several_files_equals_the_local_engine(spark, tiny_run, tiny_tagger, tmp_path):
    from alignclf.spark import tag_with_spark

    folder = tmp_path / "feeds"
    shutil.copytree(ROOT / "data" / "samples", folder)
    write_feed(folder / "big.jsonl", 3000)  # read by one task, tagged over every partition
    (folder / "fffd.jsonl").write_text(json.dumps({"id": "r", "text": "Replacement \ufffd is a real character."}) + "\n")
    (folder / "_SUCCESS").write_text("")
    (folder / ".hidden.jsonl").write_text('{"id": "h", "text": "x"}\n')
    expected = local_lines(tiny_tagger, [str(folder)])
    summary = tag_with_spark([str(folder)], str(tmp_path / "out"), str(tiny_run[1].folder), spark=spark)
    got = spark_lines(tmp_path / "out")
    assert got == expected and summary.read == len(expected)
    replacement = next(line for line in got if line["id"] == "r")
    assert replacement["error"] is None


def test_an_existing_output_is_refused_unless_overwrite(spark, tiny_run, tmp_path):
    from alignclf.batch import OutputError
    from alignclf.spark import tag_with_spark

    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 10)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        tag_with_spark([str(feed)], str(tmp_path / "out"), str(tiny_run[1].folder), spark=spark)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
    tag_with_spark([str(feed)], str(tmp_path / "out"), str(tiny_run[1].folder), overwrite=True, spark=spark)
    assert len(spark_lines(tmp_path / "out")) == 10
