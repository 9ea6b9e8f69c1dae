"""Feed reading and batch tagging: every format, every bad-input case, resume, bounded memory."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, write_feed

from alignclf.feeds import FeedError, Fields, done_ids, read_records, tag_feed
from alignclf.records import OUTPUT_FIELDS, Record

SAMPLES = ROOT / "data" / "samples"


def ids_and_texts(paths, **kwargs):
    return [(r.id, r.text, r.error) for r in read_records([str(p) for p in paths], **kwargs)]


def titles(paths, **kwargs):
    return [r.title for r in read_records([str(p) for p in paths], **kwargs)]


def test_rss_entries_give_title_and_stripped_html():
    records = ids_and_texts([SAMPLES / "feed.xml"])
    assert len(records) == 8
    first_id, text, error = records[0]
    assert first_id == "steppe-2026-0412" and error is None
    assert titles([SAMPLES / "feed.xml"])[0] == "Kazakhstan and China agree to add a fourth line to the gas pipeline"
    assert text.startswith("ASTANA")
    assert "<p>" not in text and "compressor station" in text


def test_atom_entries_use_content_or_summary():
    records = ids_and_texts([SAMPLES / "atom.xml"])
    assert [r[0] for r in records] == ["urn:caspian:2026:aktau-record", "urn:caspian:2026:sandstorm"]
    assert "62,000 containers" in records[0][1] and "strong winds" in records[1][1]


def test_jsonl_and_csv_use_the_named_fields_and_keep_the_title_apart(tmp_path):
    assert ids_and_texts([SAMPLES / "articles.jsonl"])[0][1].startswith("A Chinese developer")
    assert titles([SAMPLES / "articles.jsonl"])[0] == "Solar park deal"
    assert ids_and_texts([SAMPLES / "articles.csv"])[0][:2] == (
        "csv-1",
        "Khorgos Gateway dry port will add two rail tracks and a new container yard "
        "to cut transit times for cargo between China and Europe.",
    )
    assert titles([SAMPLES / "articles.csv"])[0] == "Dry port expansion"
    custom = tmp_path / "custom.jsonl"
    custom.write_text(json.dumps({"uid": "u1", "body": "Gas flows.", "headline": "H"}) + "\n")
    fields = Fields(text="body", id="uid", title="headline")
    assert ids_and_texts([custom], fields=fields) == [("u1", "Gas flows.", None)]
    assert titles([custom], fields=fields) == ["H"]


def test_html_page_gives_main_text_without_navigation():
    ((record_id, text, error),) = ids_and_texts([SAMPLES / "article.html"])
    assert record_id.endswith("article.html") and error is None
    assert "cooperate on cybersecurity" in text
    assert "Subscribe to our newsletter" not in text and "Home" not in text


def test_text_file_is_one_article_and_folders_are_read_in_order():
    records = ids_and_texts([SAMPLES])
    assert len(records) == 1 + 3 + 2 + 1 + 3 + 8
    assert [r[0] for r in records if r[0].endswith(".txt") or r[0].endswith(".html")] == [
        str(SAMPLES / "article.html"),
        str(SAMPLES / "article.txt"),
    ]


def test_format_is_sniffed_from_content_when_the_suffix_says_nothing(tmp_path):
    unnamed = tmp_path / "feed"
    unnamed.write_bytes((SAMPLES / "feed.xml").read_bytes())
    assert len(ids_and_texts([unnamed])) == 8
    lines = tmp_path / "lines"
    lines.write_text('{"id": "a", "text": "Gas flows."}\n')
    assert ids_and_texts([lines]) == [("a", "Gas flows.", None)]


def test_bad_jsonl_records_become_error_records_and_nothing_is_dropped(tmp_path):
    feed = tmp_path / "bad.jsonl"
    feed.write_bytes(
        b'{"id": "ok", "text": "Police seized heroin."}\n'
        b'{"id": "broken", "text": \n'
        b'{"id": "no-text"}\n'
        b'{"id": "number", "text": 42}\n'
        b'{"id": "bytes", "text": "\xff\xfe"}\n'
        b"[1, 2]\n"
    )
    records = ids_and_texts([feed])
    assert [r[0] for r in records] == ["ok", f"{feed}:2", "no-text", "number", f"{feed}:5", f"{feed}:6"]
    errors = [r[2] for r in records]
    assert errors[0] is None
    assert "malformed JSON" in errors[1] and f"{feed}:2" in errors[1]
    assert "field 'text' is missing" in errors[2]
    assert "field 'text' is int" in errors[3]
    assert "not valid UTF-8" in errors[4]
    assert "expected a JSON object" in errors[5]


def test_bad_csv_rows_become_error_records(tmp_path):
    feed = tmp_path / "bad.csv"
    feed.write_bytes(b'id,text\nr1,"Gas exports rose."\nr2\nr3,"\xff bad"\nr4,"a",extra\n\xfe,"Fine text."\n')
    records = ids_and_texts([feed])
    assert [r[0] for r in records] == ["r1", "r2", "r3", "r4", f"{feed}:6"]  # an undecodable id falls back
    assert records[0][2] is None
    assert "row too short" in records[1][2]
    assert "not valid UTF-8" in records[2][2]
    assert "more fields than the header" in records[3][2]


def test_an_unreadable_feed_in_a_folder_is_an_error_record(tmp_path):
    (tmp_path / "a.xml").write_text("<rss><channel><title>Broken")
    (tmp_path / "b.jsonl").write_text('{"id": "ok", "text": "Gas exports rose."}\n')
    records = ids_and_texts([tmp_path])
    assert [r[0] for r in records] == [str(tmp_path / "a.xml"), "ok"]
    assert "not a readable RSS/Atom feed" in records[0][2] and records[1][2] is None


def test_usage_errors_are_raised_before_reading(tmp_path):
    with pytest.raises(FeedError, match="input not found"):
        list(read_records([str(tmp_path / "missing.jsonl")]))
    with pytest.raises(FeedError, match="unknown format 'pdf'"):
        list(read_records([str(SAMPLES / "feed.xml")], fmt="pdf"))
    no_column = tmp_path / "x.csv"
    no_column.write_text("id,body\n1,hello\n")
    ((record_id, text, error),) = ids_and_texts([no_column])
    assert record_id == str(no_column) and text is None and "no 'text' column" in error


def test_tag_feed_accounts_for_every_record_in_order(tiny_tagger):
    records = [
        Record("a", "Police seized 300 kg of heroin at the border."),
        Record("b", None, error="broken line"),
        Record("c", "x" * 60),
        Record("d", ""),
    ]
    out = io.StringIO()
    summary = tag_feed(tiny_tagger, records, out, batch_size=2, max_chars=48)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", "c", "d"]
    assert lines[0]["sectors"] == ["drug_trafficking"] and lines[0]["error"] is None
    assert lines[1]["error"] == "broken line" and lines[1]["pillars"] == []
    assert "over the limit of 48" in lines[2]["error"]
    assert lines[3]["error"] is None and lines[3]["pillars"] == [] and lines[3]["evidence"] == []
    assert (summary.read, summary.tagged, summary.errors) == (4, 2, 2)
    assert list(lines[0]) == list(OUTPUT_FIELDS)


def test_done_ids_drops_a_line_cut_short(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "pil')
    assert done_ids(out) == {"a", "b"}
    assert out.read_text() == '{"id": "a"}\n{"id": "b"}\n'


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "alignclf.cli", *args], capture_output=True, text=True, **kwargs)


@pytest.mark.slow
def test_cli_exit_codes_and_summary(tiny_run, tmp_path):
    model = str(tiny_run[1].folder)
    good = cli("tag", str(SAMPLES / "feed.xml"), "-o", str(tmp_path / "o.jsonl"), "--model", model)
    assert good.returncode == 0, good.stderr
    assert "records read: 8; tagged: 8; errors: 0" in good.stderr
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 8
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "Gas exports rose."}\nnot json\n')
    partial = cli("tag", str(bad), "--model", model)
    assert partial.returncode == 3 and len(partial.stdout.splitlines()) == 2
    missing = cli("tag", str(tmp_path / "nope.jsonl"), "--model", model)
    assert missing.returncode == 2 and "input not found" in missing.stderr and "Traceback" not in missing.stderr
    unknown = cli("tag", str(bad), "--format", "pdf", "--model", model)
    assert unknown.returncode == 2 and "unknown format" in unknown.stderr
    piped = cli("tag", "-", "--model", model, input='{"id": "s1", "text": "Hackers hit the port."}\n')
    assert piped.returncode == 0 and json.loads(piped.stdout)["id"] == "s1"


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_output(tiny_run, tmp_path):
    model = str(tiny_run[1].folder)
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 4000)
    reference = tmp_path / "reference.jsonl"
    assert cli("tag", str(feed), "-o", str(reference), "--model", model, "--batch-size", "20").returncode == 0

    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "alignclf.cli", "tag", str(feed), "-o", str(out), "--model", model, "--batch-size", "20"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.stat().st_size < 100_000):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = len(out.read_text().splitlines())
    assert 0 < written < 4000, "the run should be killed part-way"

    resumed = cli("tag", str(feed), "-o", str(out), "--model", model, "--batch-size", "20", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_text() == reference.read_text()


PEAK = (
    "import resource, sys\n"
    "from alignclf.cli import app\n"
    "try:\n"
    "    app(sys.argv[1:], prog_name='alignclf')\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


@pytest.mark.slow
def test_memory_stays_flat_from_1000_to_20000_records(tiny_run, tmp_path):
    peaks = {}
    for count in (1000, 20000):
        feed = tmp_path / f"feed{count}.jsonl"
        write_feed(feed, count)
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK,
                "tag",
                str(feed),
                "-o",
                str(tmp_path / f"out{count}.jsonl"),
                "--model",
                str(tiny_run[1].folder),
            ],
            capture_output=True,
            text=True,
        )
        assert f"tagged: {count}" in run.stderr, run.stderr
        peaks[count] = int(run.stderr.split("PEAK")[1])
    # 20x the records may not cost more than a quarter more memory (in KiB, generously bounded)
    assert peaks[20000] < peaks[1000] * 1.25 + 20_000, peaks
