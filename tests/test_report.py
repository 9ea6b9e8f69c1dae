"""The analyst report: figures against hand-computed values, CSVs, a page that asks nothing of the network, bounded state."""

import csv
import json
import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from alignclf.report import Aggregator, ReportError, build_report, error_kind


@pytest.fixture
def labels(taxonomy):
    """Two pillars and two sectors of the taxonomy: the report itself never names a label."""
    return (*taxonomy.pillars[:2], *taxonomy.sectors[:2])


def tag_line(identifier, published, pillars=(), sectors=(), countries=(), error=None, **extra):
    line = dict(id=identifier, title=f"Title {identifier}", url=f"https://news.example.org/{identifier}", published=published)
    line |= dict(source="wire.jsonl", pillars=list(pillars), sectors=list(sectors), evidence=[], countries=list(countries))
    line |= dict(scores={label: 0.9 for label in (*pillars, *sectors)}, model="tiny", warning=None, error=error)
    line.update(extra)
    return json.dumps(line)


@pytest.fixture
def tagged(tmp_path, labels):
    """Seven tagged articles (five with labels), three error records, three malformed lines and a blank one.

    Weeks start on Monday: 2026-03-02 and 2026-03-09 hold articles, 16 and 23 none, 30 one (1 April).
    """
    p1, p2, s1, s2 = labels
    text = "Gas flows east. Markets cheer."
    evidence = [
        {"field": "text", "start": 0, "end": 15, "text": "Gas flows east.", "pillars": [p1], "sectors": [s1]},
        {"field": "title", "start": 0, "end": 8, "text": "Title a1", "pillars": [p1], "sectors": []},
    ]
    lines = [
        tag_line("a1", "2026-03-02T08:00:00Z", [p1], [s1], ["Kazakhstan", "China"], evidence=evidence, text=text),
        tag_line("a2", "2026-03-03T09:00:00Z", [p1], [], ["Kazakhstan"]),
        tag_line("a3", "2026-03-04T10:00:00Z", [], [], ["China"]),
        tag_line("a4", "2026-03-10T11:00:00Z", [p2], [s2], ["Uzbekistan"]),
        tag_line("a5", "2026-03-11T12:00:00Z", [p1, p2], [], ["Kazakhstan"]),
        tag_line("a6", "2026-04-01T13:00:00Z", [], [], []),
        tag_line("a7", None, [p1], [], ["China"]),
        tag_line("e1", None, error="feeds/day.jsonl:12: malformed JSON (Expecting value at column 3)"),
        tag_line("e2", None, error="feeds/day.jsonl:40: malformed JSON (Expecting value at column 17)"),
        tag_line("e3", None, error="text has 250001 characters, over the limit of 200000"),
        "{not json",
        "[1, 2]",
        "",
        json.dumps({"id": "x", "text": "an input line, not tag output"}),
    ]
    path = tmp_path / "tags.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def read(path):
    aggregator = Aggregator()
    aggregator.read(path)
    return aggregator


def test_headline_counts(tagged):
    agg = read(tagged)
    assert (agg.lines, agg.articles, agg.tagged, agg.errors, agg.malformed) == (13, 10, 7, 3, 3)
    assert agg.with_tags == 5
    assert (agg.first.date().isoformat(), agg.last.date().isoformat(), agg.undated) == ("2026-03-02", "2026-04-01", 4)
    assert dict(agg.models) == {"tiny": 10}


def test_articles_per_label_and_shares_per_week_and_month(tagged, labels):
    p1, p2, s1, s2 = labels
    agg = read(tagged)
    assert [agg.label_articles[k] for k in labels] == [4, 2, 1, 1]
    periods, articles, counts = agg.series("week")
    assert [p.isoformat() for p in periods] == ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"]
    assert articles == [3, 2, 0, 0, 1]
    assert counts[p1] == [2, 1, 0, 0, 0] and counts[p2] == [0, 2, 0, 0, 0] and counts[s2] == [0, 1, 0, 0, 0]
    periods, articles, counts = agg.series("month")
    assert [p.isoformat() for p in periods] == ["2026-03-01", "2026-04-01"]
    assert articles == [5, 1] and counts[p1] == [3, 0] and counts[s1] == [1, 0]
    periods, articles, _ = agg.series("day")
    assert len(periods) == 31 and sum(articles) == 6  # 2 March to 1 April; the undated article is not on the axis


def test_cooccurrence_and_countries(tagged, labels):
    p1, p2, s1, s2 = labels
    agg = read(tagged)
    both = agg.cooccurrence
    assert (both[p1, p1], both[p1, s1], both[p1, p2], both[p2, s2], both[s1, p2]) == (4, 1, 1, 1, 0)
    assert both[p1, s1] == both[s1, p1]
    assert agg.top_countries(2) == ["China", "Kazakhstan"]  # 3 articles each, ties by name; Uzbekistan has 1
    assert (agg.country_labels["Kazakhstan", p1], agg.country_labels["China", p1], agg.country_labels["China", s1]) == (3, 2, 1)


def test_errors_group_by_message_without_locations_and_numbers(tagged):
    agg = read(tagged)
    assert dict(agg.error_kinds) == {
        "malformed JSON (Expecting value at column N)": 2,
        "text has N characters, over the limit of N": 1,
    }
    assert [i for i, _ in agg.error_examples["malformed JSON (Expecting value at column N)"]] == ["e1", "e2"]
    assert error_kind("/data/in/3f2a9c1e77b0.csv:9: row 14 of 'a7f3c2d19e0b' failed") == "row N of '<id>' failed"


def test_malformed_lines_are_counted_with_their_place(tagged):
    agg = read(tagged)
    assert sum(agg.problems.values()) == 3
    assert agg.problem_examples["not a JSON object (a list)"] == [f"{tagged}:12"]
    assert agg.problem_examples["no 'pillars' field: not tag output"] == [f"{tagged}:14"]


def test_untagged_sample_is_bounded_and_seeded(tagged, tmp_path):
    assert sorted(item["id"] for item in read(tagged).untagged_sample()) == ["a3", "a6"]
    many = tmp_path / "many.jsonl"
    many.write_text("".join(tag_line(f"u{n}", "2026-03-02T00:00:00Z") + "\n" for n in range(500)))

    def sample(seed):
        agg = Aggregator(sample_size=10, seed=seed)
        agg.read(many)
        return [item["id"] for item in agg.untagged_sample()]

    assert len(sample(0)) == 10 and sample(0) == sample(0) != sample(1)
    assert sample(0) != [f"u{n}" for n in range(10)]  # a sample of the whole file, not its head


def test_evidence_is_highlighted_in_its_article(tagged, labels):
    p1, _, s1, _ = labels
    top = read(tagged).evidence(p1)
    assert [item["id"] for item in top] == ["a1", "a2", "a5", "a7"]  # all score 0.9: the earliest ranks first
    assert top[0]["body_html"] == "<mark>Gas flows east.</mark> Markets cheer."
    assert top[0]["title_html"] == "<mark>Title a1</mark>"
    assert read(tagged).evidence(s1)[0]["title_html"] == "Title a1"  # the title carries p1 only


def test_a_bad_published_date_counts_the_article_as_undated(tmp_path):
    path = tmp_path / "tags.jsonl"
    path.write_text(tag_line("a", "last Tuesday") + "\n")
    agg = read(path)
    assert (agg.articles, agg.undated, agg.malformed) == (1, 1, 0)
    assert list(agg.problems) == ["field 'published' is not an ISO 8601 date (the article counts as undated)"]


def test_build_report_writes_the_page_and_every_csv(tagged, tmp_path, labels):
    summary = build_report([tagged], tmp_path / "report.html", by="month", csv_dir=tmp_path / "csv")
    assert (summary.articles, summary.tagged, summary.errors, summary.input_problems) == (10, 7, 3, 3)
    assert summary.output.is_file() and "3 malformed lines skipped" in summary.text()
    views = [f"{kind}_{view}.csv" for kind in ("counts", "share") for view in ("day", "week", "month")]
    tables = ["summary", "labels", "countries_labels", "cooccurrence", "errors_by_kind", "input_problems"]
    expected = {f"{name}.csv" for name in tables} | set(views)
    assert {path.name for path in summary.csv_files} == expected
    rows = list(csv.DictReader((tmp_path / "csv" / "share_week.csv").open()))
    assert [(r["week_starting"], r["articles"], r[labels[0]]) for r in rows] == [
        ("2026-03-02", "3", "0.666667"),
        ("2026-03-09", "2", "0.5"),
        ("2026-03-16", "0", ""),
        ("2026-03-23", "0", ""),
        ("2026-03-30", "1", "0.0"),
    ]
    months = list(csv.reader((tmp_path / "csv" / "counts_month.csv").open()))
    assert months[0][:2] == ["month_starting", "articles"] and months[1][:2] == ["2026-03", "5"]
    errors = list(csv.DictReader((tmp_path / "csv" / "errors_by_kind.csv").open()))
    assert [(r["kind"], r["count"]) for r in errors][0] == ("malformed JSON (Expecting value at column N)", "2")
    summary_rows = dict(csv.reader((tmp_path / "csv" / "summary.csv").open()))
    assert summary_rows["with any tag"] == "71.4% (5 of 7)"


class References(HTMLParser):
    """Every src/href outside <a>, and every url() or @import in inline styles."""

    def __init__(self):
        super().__init__()
        self.found, self.links, self.in_style = [], [], False

    def handle_starttag(self, tag, attrs):
        self.in_style = tag == "style"
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href"]
        else:
            self.found += [value for name, value in attrs if name in ("src", "href", "srcset", "data", "poster") and value]

    def handle_endtag(self, tag):
        self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.found += [a or b for a, b in re.findall(r"url\(\s*['\"]?([^)'\"]*)|@import\s+['\"]?([^'\";\s]+)", data)]


def test_page_is_self_contained(tagged, tmp_path):
    output = tmp_path / "report.html"
    build_report([tagged], output)
    page = output.read_text()
    parser = References()
    parser.feed(page)
    assert parser.found and all(not re.match(r"\s*(https?:)?//", ref) for ref in parser.found), parser.found
    assert "https://news.example.org/a1" in parser.links  # article links stay links
    assert page.count("window.PlotlyConfig") == 1  # Plotly's JS is embedded once
    assert page.count("Plotly.newPlot(") == 4  # labels, time, countries, co-occurrence
    assert "default-src 'none'" in page  # the page's own policy forbids any fetch
    assert "<mark>Gas flows east.</mark>" in page and 'id="highlight"' in page


def test_a_non_http_url_is_not_a_link(tmp_path, labels):
    path = tmp_path / "tags.jsonl"
    path.write_text(tag_line("a", "2026-03-02T00:00:00Z", [labels[0]], url="javascript:alert(1)") + "\n")
    build_report([path], tmp_path / "report.html")
    assert "javascript:alert" not in (tmp_path / "report.html").read_text()


def test_an_empty_input_still_gives_a_page(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    summary = build_report([path], tmp_path / "report.html", csv_dir=tmp_path / "csv")
    assert summary.articles == 0 and "Plotly.newPlot(" not in (tmp_path / "report.html").read_text()


def test_usage_errors_name_the_problem(tmp_path, tagged):
    with pytest.raises(ReportError, match="not found: .*missing.jsonl"):
        build_report([tmp_path / "missing.jsonl"], tmp_path / "r.html")
    with pytest.raises(ReportError, match="--by 'year'"):
        build_report([tagged], tmp_path / "r.html", by="year")
    with pytest.raises(ReportError, match="folder does not exist"):
        build_report([tagged], tmp_path / "no" / "r.html")
    assert not (tmp_path / "r.html").exists()


def generate(path, count, labels):
    """`count` realistic lines: 90 days, three countries, every label, longer texts, errors and broken lines."""
    with path.open("w") as handle:
        for n in range(count):
            if n % 97 == 0:
                handle.write('{"id": "cut\n')
                continue
            label, is_pillar = labels[n % len(labels)], n % len(labels) < 2
            day = (date(2026, 1, 1) + timedelta(days=n % 90)).isoformat() + "T08:00:00Z"
            error = f"feed.jsonl:{n}: malformed JSON (Expecting value at column {n % 50})" if n % 31 == 0 else None
            text = f"Story {n} says the deal moves ahead. " * 20
            carried = {"pillars": [label] if is_pillar else [], "sectors": [] if is_pillar else [label]}
            evidence = [{"field": "text", "start": 0, "end": 36, "text": text[:36], **carried}]
            tags = carried if n % 5 and not error else {"pillars": [], "sectors": []}
            country = ["Kazakhstan", "China", "Uzbekistan"][n % 3]
            line = tag_line(
                f"n{n}",
                day,
                tags["pillars"],
                tags["sectors"],
                [country],
                error=error,
                evidence=evidence,
                text=text,
                scores={label: (n % 1000) / 1000},
            )
            handle.write(line + "\n")
    return path


def state_size(agg):
    sizes = [len(value) for value in vars(agg).values() if isinstance(value, (list, dict))]
    return sum(sizes) + sum(len(heap) for heap in agg.heaps.values()) + sum(len(e) for e in agg.error_examples.values())


def test_state_stays_bounded(tmp_path, labels):
    small = Aggregator(evidence_per_label=5, sample_size=20)
    small.read(generate(tmp_path / "small.jsonl", 2_000, labels))
    large = Aggregator(evidence_per_label=5, sample_size=20)
    large.read(generate(tmp_path / "large.jsonl", 20_000, labels))
    assert large.articles > 19_000 and large.malformed > 200 and large.errors > 500
    assert all(len(heap) == 5 for heap in large.heaps.values()) and len(large.heaps) == len(labels)
    assert len(large.reservoir) == 20 and large.untagged_seen > 3_000
    assert all(len(examples) <= 3 for examples in (*large.error_examples.values(), *large.problem_examples.values()))
    assert len(large.day_articles) == len(small.day_articles) <= 90
    assert state_size(large) == state_size(small)  # ten times the lines, the same amount kept
    assert max(len(item["body_html"]) for label in labels for item in large.evidence(label)) < 4_000
