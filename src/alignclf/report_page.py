"""The report page: Plotly figures (its JS embedded once) inside one HTML file from which no request leaves."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from alignclf.report import LEVELS, VIEWS, Aggregator, headline, link_html, percent

CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
PERIOD_NAME = {"day": "%a %d %b %Y", "week": "week of %d %b %Y", "month": "%B %Y"}
# Each point or bar spans its whole period (weeks start on Monday, 2000-01-03 was one).
PERIOD = {
    "day": {"xperiod": 86_400_000, "xperiodalignment": "middle"},
    "week": {"xperiod": 7 * 86_400_000, "xperiod0": "2000-01-03", "xperiodalignment": "middle"},
    "month": {"xperiod": "M1", "xperiodalignment": "middle"},
}
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2933;margin:0;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:0 24px 48px}header{background:#243b53;color:#fff;padding:18px 24px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#bcccdc;font-size:13px}
nav{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid #d9e2ec;padding:8px 24px;font-size:14px}
nav a{margin-right:16px;color:#334e68;text-decoration:none}section{background:#fff;border:1px solid #d9e2ec;border-radius:6px;
margin:20px 0;padding:16px 20px}h2{margin:0 0 8px;font-size:18px}h3{margin:18px 0 6px;font-size:16px}
h3 small,.meta{color:#627d98;font-weight:normal;font-size:13px}.note{color:#52606d;font-size:13px;margin:0 0 8px}
.cards{display:grid;grid-auto-flow:dense;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px}.card{background:#f0f4f8;border-radius:6px;
padding:10px 12px}.card b{display:block;font-size:12px;color:#627d98;font-weight:600;text-transform:uppercase}
.card span{font-size:16px}.card.wide{grid-column:span 2}ol.items{padding-left:22px}ol.items li{margin:0 0 14px}
.title{font-weight:600}.text{white-space:pre-wrap;background:#f8fafc;border-left:3px solid #bcccdc;padding:6px 10px;
margin-top:4px;max-height:13em;overflow:auto;font-size:14px}
mark{background:#ffe08a;padding:0 1px}body.plain mark{background:none;color:inherit}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #e4e7eb;padding:5px 8px;text-align:left;
vertical-align:top}td.n{text-align:right;white-space:nowrap}code{font-size:12px;color:#486581}.switch{font-size:14px}
"""


def _colors(agg: Aggregator) -> dict[str, str]:
    from plotly.colors import qualitative

    palette = qualitative.Plotly + qualitative.Dark24
    return {label: palette[i % len(palette)] for i, label in enumerate(agg.labels)}


def _menu(buttons: list[dict], active: int, x: float, xanchor: str = "left") -> dict[str, Any]:
    return {
        "type": "buttons",
        "direction": "right",
        "active": active,
        "x": x,
        "xanchor": xanchor,
        "y": 1.02,
        "yanchor": "bottom",
        "pad": {"b": 4},
        "buttons": buttons,
    }


def labels_figure(agg: Aggregator, colors: dict[str, str]) -> Any:
    import plotly.graph_objects as go

    labels = list(agg.labels)
    counts = [agg.label_articles[k] for k in labels]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=counts,
            orientation="h",
            marker_color=[colors[k] for k in labels],
            cliponaxis=False,
            text=[f"{n} ({percent(n, agg.tagged)})" for n in counts],
            textposition="outside",
            customdata=[agg.labels[k] or "never assigned" for k in labels],
            hovertemplate="%{y} (%{customdata}): %{x} articles<extra></extra>",
        )
    )
    fig.update_layout(template="plotly_white", height=110 + 26 * len(labels), margin={"l": 10, "r": 90, "t": 40, "b": 40})
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="tagged articles carrying the label", rangemode="tozero", dtick=1 if max(counts) <= 8 else None)
    return fig


def time_figure(agg: Aggregator, by: str, colors: dict[str, str]) -> Any:
    """Articles per period on top, then one panel per label level; buttons switch share/counts and day/week/month."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    levels = [(level, [k for k in agg.assigned if agg.labels[k] == level]) for level in LEVELS]
    levels = [(level, labels) for level, labels in levels if labels]
    titles = ["", *(f"{level}: share of the period's articles" for level, _ in levels)]  # row 1's axis says "articles"
    heights = [0.22] + [0.78 / len(levels)] * len(levels)
    fig = make_subplots(
        rows=1 + len(levels), shared_xaxes=True, vertical_spacing=0.07, row_heights=heights, subplot_titles=titles
    )
    shares, counts, views = [], [], []
    for view in VIEWS:
        periods, articles, per_label = agg.series(view)
        names = [p.strftime(PERIOD_NAME[view]) for p in periods]
        common = {"x": [p.isoformat() for p in periods], "visible": view == by, **PERIOD[view]}
        fig.add_trace(
            go.Bar(
                y=articles,
                marker_color="#9fb3c8",
                showlegend=False,
                name="articles",
                customdata=names,
                hovertemplate="%{customdata}: %{y} articles<extra></extra>",
                **common,
            ),
            row=1,
            col=1,
        )
        shares.append(articles), counts.append(articles), views.append(view)
        for row, (level, labels) in enumerate(levels, start=2):
            for label in labels:
                n = per_label[label]
                share = [c / a if a else None for c, a in zip(n, articles)]
                custom = [[w, c, a, percent(c, a)] for w, c, a in zip(names, n, articles)]
                hover = "%{customdata[0]}: %{customdata[1]} of %{customdata[2]} articles (%{customdata[3]})"
                trace = go.Scatter(
                    y=share,
                    name=label,
                    mode="lines+markers",
                    legendgroup=level,
                    legendgrouptitle_text=level,
                    line={"color": colors[label], "width": 2},
                    marker={"size": 6},
                    customdata=custom,
                    hovertemplate=f"{hover}<extra>{html.escape(label)}</extra>",
                    **common,
                )
                fig.add_trace(trace, row=row, col=1)
                shares.append(share), counts.append(n), views.append(view)
    axes = [f"yaxis{row}" for row in range(2, len(levels) + 2)]
    annotations = [f"annotations[{i}].text" for i in range(len(levels))]  # make_subplots skips the empty title

    def mode(what: str, tickformat: str, title: str) -> dict[str, Any]:
        layout = {f"{a}.{k}": v for a in axes for k, v in (("tickformat", tickformat), ("title.text", what))}
        return layout | {key: f"{level}: {title}" for key, (level, _) in zip(annotations, levels)}

    modes = [
        {
            "label": "Share of articles",
            "method": "update",
            "args": [{"y": shares}, mode("share", ".0%", titles[1].split(": ")[1])],
        },
        {
            "label": "Article counts",
            "method": "update",
            "args": [{"y": counts}, mode("articles", "", "articles carrying the label")],
        },
    ]
    view_buttons = [{"label": v.title(), "method": "restyle", "args": [{"visible": [w == v for w in views]}]} for v in VIEWS]
    fig.update_layout(
        template="plotly_white",
        height=200 + 260 * len(levels),
        margin={"l": 60, "r": 10, "t": 70, "b": 30},
        hovermode="closest",
        bargap=0.1,
        updatemenus=[_menu(modes, 0, 0), _menu(view_buttons, VIEWS.index(by), 0.3)],
    )
    fig.update_layout(
        {f"{a}_{k}": v for a in axes for k, v in (("tickformat", ".0%"), ("title_text", "share"), ("rangemode", "tozero"))}
    )
    fig.update_yaxes(title_text="articles", rangemode="tozero", row=1, col=1)
    fig.update_xaxes(type="date")
    return fig


def heatmap(rows: list[str], columns: list[str], counts: list[list[int]], wholes: list[int], share_of: str, what: str) -> Any:
    """Counts with a button to show each cell as a share of its row's articles."""
    import plotly.graph_objects as go

    shares = [[c / whole if whole else None for c in row] for row, whole in zip(counts, wholes)]
    share_text = [[percent(c, whole) for c in row] for row, whole in zip(counts, wholes)]
    as_count = {
        "z": [counts],
        "text": [[[str(c) for c in row] for row in counts]],
        "colorbar.tickformat": "",
        "hovertemplate": f"%{{y}} · %{{x}}: %{{z}} {what}<extra></extra>",
        "colorbar.title.text": "articles",
    }
    as_share = {
        "z": [shares],
        "text": [share_text],
        "colorbar.tickformat": ".0%",
        "hovertemplate": f"%{{y}} · %{{x}}: %{{text}} of the {share_of}<extra></extra>",
        "colorbar.title.text": "share",
    }
    fig = go.Figure(go.Heatmap(x=columns, y=rows, texttemplate="%{text}", colorscale="Blues", xgap=2, ygap=2))
    fig.update_traces({key.replace(".", "_"): value[0] if key in ("z", "text") else value for key, value in as_count.items()})
    buttons = [
        {"label": "Articles", "method": "restyle", "args": [as_count]},
        {"label": f"Share of the {share_of}", "method": "restyle", "args": [as_share]},
    ]
    fig.update_layout(
        template="plotly_white",
        height=150 + 30 * len(rows),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        updatemenus=[_menu(buttons, 0, 0)],
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def countries_figure(agg: Aggregator, top: int) -> Any:
    countries, labels = agg.top_countries(top), agg.assigned
    counts = [[agg.country_labels[c, k] for k in labels] for c in countries]
    wholes = [agg.country_articles[c] for c in countries]
    return heatmap([f"{c} ({n})" for c, n in zip(countries, wholes)], labels, counts, wholes, "country's articles", "articles")


def cooccurrence_figure(agg: Aggregator) -> Any:
    labels = agg.assigned
    counts = [[agg.cooccurrence[a, b] for b in labels] for a in labels]
    wholes = [agg.label_articles[a] for a in labels]
    return heatmap(labels, labels, counts, wholes, "row label's articles", "articles carry both")


def _article(item: dict[str, Any], title_html: str, extra: str = "") -> str:
    meta = " · ".join(html.escape(part) for part in (item["date"], item["source"], extra, f"id {item['id']}") if part)
    return f'<div><span class="title">{link_html(item["url"], title_html)}</span> <span class="meta">{meta}</span></div>'


def evidence_html(agg: Aggregator) -> str:
    parts = ['<label class="switch"><input type="checkbox" id="highlight" checked> highlight the evidence sentences</label>']
    for label in agg.assigned:
        level = {"pillars": "pillar", "sectors": "sector"}.get(agg.labels[label] or "", "")
        parts.append(
            f"<h3>{html.escape(label)} <small>{level} · {agg.label_articles[label]} articles</small></h3><ol class='items'>"
        )
        for item in agg.evidence(label):
            parts.append("<li>" + _article(item, item["title_html"], f"score {item['score']:.2f}"))
            if "body_html" in item:
                parts.append(f'<div class="text">{item["body_html"]}</div>')
            elif item["sentences"]:
                parts.append('<div class="text">' + "<br>".join(f"<mark>{s}</mark>" for s in item["sentences"]) + "</div>")
            parts.append("</li>")
        parts.append("</ol>")
    if not agg.assigned:
        parts.append('<p class="note">No article carries a label.</p>')
    elif not any("body_html" in item for label in agg.assigned for item in agg.evidence(label)):
        why = "The input has no article text: tag with <code>--keep text</code> to see each sentence in its article."
        parts.append(f'<p class="note">{why}</p>')
    return "\n".join(parts)


def untagged_html(agg: Aggregator) -> str:
    sample = agg.untagged_sample()
    note = (
        f"{len(sample)} of the {agg.untagged_seen} articles that got no label (errors aside), drawn at random with a fixed seed:"
    )
    note += " read them to spot what the model misses."
    items = [
        f"<li>{_article(item, html.escape(item['title']))}"
        + (f'<div class="text">{item["excerpt"]}</div>' if item["excerpt"] else "")
        + "</li>"
        for item in sample
    ]
    return f'<p class="note">{note}</p><ol class="items">{"".join(items)}</ol>'


def _table(head: list[str], rows: list[tuple[str, int, str]]) -> str:
    cells = "".join(f"<tr><td>{html.escape(a)}</td><td class='n'>{n}</td><td>{b}</td></tr>" for a, n, b in rows)
    return f"<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{cells}</table>"


def errors_html(agg: Aggregator) -> str:
    def examples(kind: str) -> str:
        return "<br>".join(f"<code>{html.escape(i)}</code> {html.escape(m)}" for i, m in agg.error_examples[kind])

    note = f"{agg.errors} records could not be tagged, grouped by message (locations, ids and numbers taken out)."
    parts = [f'<p class="note">{note}</p>']
    if agg.error_kinds:
        parts.append(_table(["kind", "records", "examples"], [(k, n, examples(k)) for k, n in agg.error_kinds.most_common()]))
    parts.append(f"<h3>Input problems <small>{agg.malformed} lines skipped</small></h3>")
    if agg.problems:
        rows = [
            (r, n, "<br>".join(f"<code>{html.escape(w)}</code>" for w in agg.problem_examples[r]))
            for r, n in agg.problems.most_common()
        ]
        parts.append(_table(["problem", "lines", "examples"], rows))
    else:
        parts.append('<p class="note">Every line was a tag output line.</p>')
    return "\n".join(parts)


def cards_html(agg: Aggregator) -> str:
    cards = [(f"card{' wide' * (len(v) > 28)}", html.escape(k), html.escape(v)) for k, v in headline(agg)]
    return '<div class="cards">' + "".join(f'<div class="{c}"><b>{k}</b><span>{v}</span></div>' for c, k, v in cards) + "</div>"


def render_page(agg: Aggregator, files: list[Path], by: str, top: int) -> str:
    """The whole report as one HTML string: styles, Plotly's JS (once, with the first chart) and one small script inline."""
    import plotly.io as pio

    colors, dated = _colors(agg), any(agg.day_articles.values())
    charts = [  # section, title, the figure (None when there is nothing to draw), and why not
        ("labels", "Articles per label", labels_figure(agg, colors) if agg.labels else None, "No label in the input."),
        ("time", "Labels over time", time_figure(agg, by, colors) if dated and agg.assigned else None,
         "No tagged article has both a label and a published date."),
        ("countries", f"Countries × labels (top {top} countries by articles)",
         countries_figure(agg, top) if agg.country_articles and agg.assigned else None, "No tagged article names a country."),
        ("cooccurrence", "Labels together (articles carrying both)", cooccurrence_figure(agg) if agg.assigned else None,
         "No article carries a label."),
    ]  # fmt: skip
    sections = [("headline", "Headline", cards_html(agg))]
    embedded = False
    for key, title, fig, why in charts:
        if fig is None:
            sections.append((key, title, f'<p class="note">{why}</p>'))
            continue
        div = pio.to_html(
            fig,
            include_plotlyjs=not embedded,
            full_html=False,
            config=CONFIG,
            div_id=f"chart-{key}",
            default_height=f"{fig.layout.height}px",
        )
        sections.append((key, title, f'<div class="chart" data-chart="{key}">{div}</div>'))
        embedded = True
    sections += [
        ("evidence", "Strongest evidence per label", evidence_html(agg)),
        ("untagged", "Untagged sample", untagged_html(agg)),
        ("errors", "Errors", errors_html(agg)),
    ]
    nav = "".join(f'<a href="#{key}">{title.split(" (")[0]}</a>' for key, title, _ in sections)
    body = "\n".join(
        f'<section id="{key}"><h2>{html.escape(title)}</h2>\n{content}</section>' for key, title, content in sections
    )
    names = ", ".join(html.escape(p.name) for p in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>alignclf report: {agg.articles} articles</title><style>{STYLE}</style></head>
<body><header><h1>alignclf report</h1><p>{agg.articles} articles from {names}; default view: {by}</p></header>
<nav>{nav}</nav><main>
{body}
</main>
<script>document.getElementById("highlight").addEventListener("change",function(e){{document.body.classList.toggle("plain",!e.target.checked);}});</script>
</body></html>
"""
