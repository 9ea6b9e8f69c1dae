"""Batch tagging into files: every record accounted for, resume by position, one writer per file, flat memory."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from alignclf.batch import OutputError, lock_path, tag_feed, tag_inputs
from alignclf.records import OUTPUT_FIELDS, Record
from conftest import ROOT, write_feed

SAMPLES = ROOT / "data" / "samples"


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


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_resume_goes_by_position_so_repeated_ids_are_all_tagged(tiny_run, tmp_path):
    model = str(tiny_run[1].folder)
    feed = write_jsonl(tmp_path / "feed.jsonl", [{"id": "same", "text": f"Gas exports rose {n} percent."} for n in range(6)])
    reference = tmp_path / "reference.jsonl"
    tag_inputs([str(feed)], reference, model)
    out = tmp_path / "out.jsonl"
    lines = reference.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:30])  # a crash after two lines and a half
    summary = tag_inputs([str(feed)], out, model, resume=True)
    assert out.read_text() == reference.read_text()
    assert (summary.read, summary.skipped, summary.tagged) == (6, 2, 4)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "pillars": [], "sectors": [], "model": "other", "error": null}\n', "tagged by model 'other'"),
        ('{"some": "thing"}\n', "is not tag output"),
        ("not json at all\n", "is not a JSON line of tag output"),
    ],
)
def test_resume_refuses_a_file_it_did_not_write_and_leaves_it_untouched(tiny_run, tmp_path, content, message):
    feed = write_jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Gas exports rose."}])
    out = tmp_path / "out.jsonl"
    out.write_text(content + '{"id": "cut')
    before = out.read_bytes()
    with pytest.raises(OutputError, match=message):
        tag_inputs([str(feed)], out, str(tiny_run[1].folder), resume=True)
    assert out.read_bytes() == before


def test_resume_refuses_output_written_from_other_input(tiny_run, tmp_path):
    model = str(tiny_run[1].folder)
    out = tmp_path / "out.jsonl"
    tag_inputs([str(write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "text": "Gas."}]))], out, model)
    before = out.read_bytes()
    with pytest.raises(OutputError, match="has id 'x' but input record 1 has id 'y'"):
        tag_inputs([str(write_jsonl(tmp_path / "b.jsonl", [{"id": "y", "text": "Gas."}]))], out, model, resume=True)
    assert out.read_bytes() == before


def test_a_second_run_on_the_same_output_fails_at_once(tiny_run, tmp_path):
    from filelock import FileLock

    feed = write_jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Gas exports rose."}])
    out = tmp_path / "out.jsonl"
    with FileLock(str(lock_path(out))), pytest.raises(OutputError, match="another alignclf tag is writing"):
        tag_inputs([str(feed)], out, str(tiny_run[1].folder))
    assert not out.exists()


def test_the_output_inside_an_input_folder_is_never_read_back(tiny_run, tmp_path):
    write_jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Gas exports rose."}])
    out = tmp_path / "zz-output.txt"  # any name, sorted after the feed
    tag_inputs([str(tmp_path)], out, str(tiny_run[1].folder))
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a"]
    summary = tag_inputs([str(tmp_path)], out, str(tiny_run[1].folder))
    assert summary.read == 1


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
    piped = cli("tag", "-", "--model", model, input='{"id": "s1", "text": "Hackers hit the port."}\n')
    assert piped.returncode == 0 and json.loads(piped.stdout)["id"] == "s1"
    csv_piped = cli("tag", "-", "--model", model, input="id,text\nc1,Hackers hit the port.\nc2,Rain on Sunday.\n")
    assert csv_piped.returncode == 0 and [json.loads(line)["id"] for line in csv_piped.stdout.splitlines()] == ["c1", "c2"]
    whole = (SAMPLES / "feed.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(whole[: whole.index(b"<item>", whole.index(b"<item>", 2000) + 10) + 40])
    damaged = cli("tag", str(cut), "--model", model)
    assert damaged.returncode == 3 and json.loads(damaged.stdout.splitlines()[-1])["id"] == f"{cut}:damaged"
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"note": "not tag output"}\n')
    refused = cli("tag", str(bad), "-o", str(foreign), "--resume", "--model", model)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert foreign.read_text() == '{"note": "not tag output"}\n'


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["tag", "MISSING.jsonl"], "input not found"),
        (["tag", "FEED", "--format", "pdf"], "unknown format"),
        (["tag", "FEED", "-o", "TMP/no/such/folder/out.jsonl"], "does not exist"),
        (["tag", "FEED", "-o", "TMP"], "is a folder"),
        (["tag", "FEED", "--model", "models:/no-such-model@champion"], "cannot load MLflow model"),
        (["tag", "FEED", "--model", "runs:/0123456789abcdef/model"], "cannot load MLflow model"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(tiny_run, tmp_path, args, message):
    feed = write_jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Gas exports rose."}])
    args = [a.replace("FEED", str(feed)).replace("TMP", str(tmp_path)) for a in args]
    if "--model" not in args:
        args += ["--model", str(tiny_run[1].folder)]
    result = cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


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
def test_memory_does_not_grow_with_the_feed(tiny_run, tmp_path):
    peaks = {}
    for count in (2000, 20000):
        feed = tmp_path / f"feed{count}.jsonl"
        write_feed(feed, count)
        out = tmp_path / f"out{count}.jsonl"
        if count == 20000:
            out.write_text((tmp_path / "out2000.jsonl").read_text())  # resume reads the whole output again
        command = [sys.executable, "-c", PEAK, "tag", str(feed), "-o", str(out), "--model", str(tiny_run[1].folder)]
        run = subprocess.run(command + (["--resume"] if count == 20000 else []), capture_output=True, text=True)
        assert f"records read: {count}" in run.stderr, run.stderr
        peaks[count] = int(run.stderr.split("PEAK")[1])
    # Keeping every record (text and output line) would cost over 20 MB for 18,000 more; allow 60 bytes each.
    assert peaks[20000] - peaks[2000] < 18000 * 60 / 1024, peaks


def test_workers_give_the_same_output_in_the_same_order(tiny_run, tmp_path):
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 700)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first = tag_inputs([str(feed)], one, str(tiny_run[1].folder), batch_size=50)
    second = tag_inputs([str(feed)], two, str(tiny_run[1].folder), batch_size=50, workers=2)
    assert two.read_bytes() == one.read_bytes()
    assert (second.read, second.tagged, second.labels) == (first.read, first.tagged, first.labels)
