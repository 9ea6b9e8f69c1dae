"""Property: whatever bytes a feed holds, the readers give one record per input record and never raise."""

import json

import pytest

from alignclf.feeds import read_records

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NASTY = st.sampled_from(
    [b"", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xe9", b'"', b",", b"\t", b"\\", b"<", "ЖЖ".encode(), b"x" * 5000]
)
TEXT = st.text(min_size=0, max_size=40)


def line_of(value, junk: bytes) -> bytes:
    return json.dumps(value).encode() + junk if isinstance(value, dict) else junk


@SETTINGS
@given(
    st.lists(st.tuples(st.one_of(st.dictionaries(st.sampled_from(["id", "text", "title"]), TEXT), st.none()), NASTY), max_size=20)
)
def test_every_non_blank_jsonl_line_is_one_record(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("jsonl") / "feed.jsonl"
    raw = [line_of(value, junk).replace(b"\n", b" ") for value, junk in lines]
    path.write_bytes(b"".join(item + b"\n" for item in raw))
    records = list(read_records([str(path)]))
    expected = sum(1 for item in raw if item.removeprefix(b"\xef\xbb\xbf").strip())
    assert len(records) == expected
    assert all((r.text is None) == (r.error is not None) for r in records)


@SETTINGS
@given(st.lists(st.tuples(TEXT, TEXT, NASTY), min_size=1, max_size=20), st.booleans())
def test_every_csv_row_is_one_record_or_one_reported_problem(tmp_path_factory, rows, bom):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    for identifier, text, _ in rows:
        writer.writerow([identifier, text])
    body = buffer.getvalue().encode()
    path = tmp_path_factory.mktemp("csv") / "feed.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body + rows[0][2])
    records = list(read_records([str(path)]))
    assert len(records) == len(rows) + (1 if rows[0][2] else 0), "each row, and the junk after the last one"
    assert all((r.text is None) == (r.error is not None) for r in records)


@SETTINGS
@given(st.integers(min_value=0, max_value=4000), st.binary(max_size=200))
def test_a_cut_or_corrupted_rss_feed_never_raises(tmp_path_factory, cut, noise):
    from conftest import ROOT

    whole = (ROOT / "data" / "samples" / "feed.xml").read_bytes()
    path = tmp_path_factory.mktemp("rss") / "feed.xml"
    path.write_bytes(whole[:cut] + noise)
    records = list(read_records([str(path)]))
    assert records, "a damaged feed is still accounted for"
    assert all((r.text is None) == (r.error is not None) for r in records)
