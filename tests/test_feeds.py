"""Feed reading: every format, metadata, charsets and byte-order marks, every bad-input case accounted for."""

import json

import pytest

from alignclf.feeds import FeedError, Fields, read_records
from conftest import ROOT

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


def test_rss_entries_carry_title_url_date_and_the_feeds_title_as_source():
    records = list(read_records([str(SAMPLES / "feed.xml")]))
    first = records[0]
    assert first.url == "https://news.example.org/regional/gas-line-four"
    assert first.published == "2026-04-14T08:30:00Z"
    assert first.source == "Steppe Wire: Regional Desk"
    assert all(r.title and r.url and r.published and r.source for r in records)


def test_jsonl_dates_urls_and_kept_fields(tmp_path):
    feed = tmp_path / "day.jsonl"
    rows = [
        {"id": "a", "text": "Gas flows.", "url": "https://x/a", "published": "2026-03-14 09:30+06:00", "desk": "energy"},
        {"id": "b", "text": "Rain.", "published": "yesterday-ish"},
        {"id": "c", "text": "Rain.", "published": 1773480600},
    ]
    feed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    a, b, c = read_records([str(feed)], fields=Fields(keep=("desk",)))
    assert (a.url, a.published, a.source, a.keep) == ("https://x/a", "2026-03-14T03:30:00Z", "day.jsonl", {"desk": "energy"})
    assert b.published is None and b.error is None and "is not a date" in b.warnings[0]
    assert c.published == "2026-03-14T09:30:00Z" and b.keep == {"desk": None}


def test_byte_order_marks_lose_neither_the_first_id_nor_the_first_record(tmp_path):
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes(b"\xef\xbb\xbfid,text\nr1,Gas exports rose.\n")
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"id": "j1", "text": "Gas exports rose."}\n')
    assert ids_and_texts([csv_file, jsonl]) == [("r1", "Gas exports rose.", None), ("j1", "Gas exports rose.", None)]


def test_a_truncated_feed_keeps_its_entries_and_reports_the_damage(tmp_path):
    whole = (SAMPLES / "feed.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(whole[: whole.index(b"<item>", whole.index(b"<item>", 2000) + 10) + 40])
    records = ids_and_texts([cut])
    assert records[-1][0] == f"{cut}:damaged"
    assert "the feed is damaged" in records[-1][2] and str(cut) in records[-1][2]
    complete = [error is None for _, _, error in records[:-1]]
    assert sum(complete) >= 2 and all(complete[:-1]), "entries before the cut are read; the cut one may be incomplete"


@pytest.mark.parametrize("charset", ["windows-1251", "windows-1252"])
def test_html_pages_are_read_in_their_own_charset(tmp_path, charset):
    words = {"windows-1251": "Казахстан и Китай подписали соглашение о поставках газа", "windows-1252": "Café owners in Málaga"}
    text = words[charset]
    body = f"<p>{text}. " + "More words in the body of this article so that the extractor keeps it. " * 4 + "</p>"
    declared = tmp_path / "declared.html"
    page = f'<html><head><meta charset="{charset}"><title>Headline</title></head><body><article>{body}</article></body></html>'
    declared.write_bytes(page.encode(charset))
    undeclared = tmp_path / "undeclared.html"
    undeclared.write_bytes(
        f"<html><head><title>Headline</title></head><body><article>{body}</article></body></html>".encode(charset)
    )
    for page in (declared, undeclared):
        ((_, found, error),) = ids_and_texts([page])
        assert error is None and text in found and "\ufffd" not in found


def test_an_html_title_repeated_as_h1_is_not_read_twice(tmp_path):
    page = tmp_path / "page.html"
    body = "<p>" + "Kazakhstan raised gas exports to China this year, the ministry said. " * 4 + "</p>"
    head = "<head><title>Gas exports rise</title></head>"
    page.write_text(f"<html>{head}<body><article><h1>Gas exports rise</h1>{body}</article></body></html>")
    (record,) = read_records([str(page)])
    assert record.title == "Gas exports rise" and not record.text.startswith("Gas exports rise")


def test_a_field_over_the_csv_module_limit_becomes_one_error_record(tmp_path):
    feed = tmp_path / "long.csv"
    feed.write_text("id,text\nr1,short one\nr2," + "x" * 300_000 + "\nr3,after it\n")
    records = ids_and_texts([feed], max_chars=200_000)
    assert [r[0] for r in records][0] == "r1" and records[-1] == ("r3", "after it", None)
    assert len(records) == 3 and records[1][2] and "max-chars" in records[1][2]


def test_tsv_in_capitals_and_delimited_text_without_a_suffix_are_read_as_tables(tmp_path):
    tsv = tmp_path / "DAY.TSV"
    tsv.write_text("id\ttext\nt1\tGas exports rose.\nt2\tRain on Sunday.\n")
    unnamed = tmp_path / "export"
    unnamed.write_text("id;text\ns1;Gas exports rose.\ns2;Rain on Sunday.\n")
    assert [r[0] for r in ids_and_texts([tsv, unnamed])] == ["t1", "t2", "s1", "s2"]


def test_hidden_files_and_folders_are_skipped_at_every_depth(tmp_path):
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / ".git" / "objects" / "x.jsonl").write_text('{"id": "hidden", "text": "x"}\n')
    (tmp_path / "day" / ".cache").mkdir(parents=True)
    (tmp_path / "day" / ".cache" / "y.jsonl").write_text('{"id": "hidden2", "text": "x"}\n')
    (tmp_path / "day" / "_SUCCESS").write_text("")
    (tmp_path / "day" / "feed.jsonl").write_text('{"id": "seen", "text": "Gas flows."}\n')
    assert [r[0] for r in ids_and_texts([tmp_path])] == ["seen"]


def test_excluded_files_are_never_read_back(tmp_path):
    (tmp_path / "feed.jsonl").write_text('{"id": "in", "text": "Gas flows."}\n')
    (tmp_path / "tags.out").write_text('{"id": "out", "pillars": []}\n')
    assert [r.id for r in read_records([str(tmp_path)], exclude=[tmp_path / "tags.out"])] == ["in"]
