"""The comparison as one self-contained HTML page, and its heatmap as a PNG.

Everything the page shows comes from the comparison tables (``tables.py``, ``measure.py``); the
page loads nothing from the network (the heatmap is an inline base64 PNG and a
Content-Security-Policy forbids any other source), so it can be mailed, archived
or opened offline. Every value that came from a feed or a config is HTML-escaped.

The heatmap is drawn with matplotlib's object API on an Agg canvas (no pyplot, no
global backend switch), so importing this module changes nothing for anyone else.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..config import vocab
from . import report_sections as sections
from . import sentences
from .constants import (
    CHICAGO_FEED_ID,
    COUNT_ONLY,
    ELEMENT_LABELS,
    NO_DATA,
    NOT_IN_CAPTURE,
    TIME_OF_DAY_ONLY,
)

# Colour-blind-safe (ColorBrewer PRGn): greens for what reaches the public,
# purples for the ways it does not, grey for nothing at all.
COLORS = {
    "published": "#1b7837",
    "partial": "#a6dba0",
    "published_aggregate": "#e7d4e8",
    "foia_only": "#af8dc3",
    "withheld": "#762a83",
    "not_published": "#ececec",
    NOT_IN_CAPTURE: "#fdb863",
    TIME_OF_DAY_ONLY: "#d9f0d3",
    COUNT_ONLY: "#d9f0d3",
    NO_DATA: "#ffffff",
}
DARK = {"published", "withheld", "foia_only"}
LEVEL_LABELS = {
    "published": "published (>= 95% of records)",
    "partial": "partial (some records)",
    "published_aggregate": "published only as aggregates",
    "foia_only": "FOIA request only",
    "withheld": "withheld",
    "not_published": "not published",
    NOT_IN_CAPTURE: "not in capture (the capture cannot carry it)",
    TIME_OF_DAY_ONLY: "time of day only / count only (a coarser form)",
}
CHICAGO_SHORT = {
    "published": "pub.",
    "published_aggregate": "aggr.",
    "foia_only": "FOIA",
    "withheld": "withheld",
    "not_collected": "n/c",
    "unknown": "?",
}


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _row_label(row: pd.Series) -> str:
    title = str(row.get("title") or row["feed_id"])
    city = str(row.get("city") or "")
    label = f"{city}: {title}" if city and city.lower() not in title.lower() else title
    if len(label) > 50:  # keep both ends: "...Calls: Real-Time" vs "...: Closed"
        label = label[:30].rstrip() + "…" + label[-19:].lstrip()
    if row["feed_id"] != CHICAGO_FEED_ID and str(row.get("evidence", "")).startswith(
        "documented"
    ):
        label += "  [documented]"
    marks = row.get("evidence_marks")
    if marks and marks == marks:
        label += (
            "  ["
            + ("old" if "old" in str(marks) else "")
            + ("+" if "old" in str(marks) and "filtered" in str(marks) else "")
            + ("filtered" if "filtered" in str(marks) else "")
            + "]"
        )
    return label


def _ordered(wide: pd.DataFrame) -> pd.DataFrame:
    """Feeds with stored records first, then documented-only ones, Chicago last."""
    chicago = wide[wide.feed_id == CHICAGO_FEED_ID]
    rest = wide[wide.feed_id != CHICAGO_FEED_ID].copy()
    rest["_doc"] = rest.evidence.astype(str).str.startswith("documented")
    rest = rest.sort_values(["_doc", "city", "feed_id"]).drop(columns="_doc")
    return pd.concat([rest, chicago])


esc = sections.esc
link = sections.link


# --------------------------------------------------------------------- heatmap
def heatmap_figure(wide: pd.DataFrame, generated: str = "") -> Figure:
    """Feeds by elements, coloured by availability; Chicago's row set apart.

    The image carries its own title, date and source line, so it can be used on
    its own (a slide, a story) without losing what it shows and where it is from.
    """
    rows = _ordered(wide)
    feeds = rows[rows.feed_id != CHICAGO_FEED_ID]
    n_el = len(vocab.ELEMENTS)
    gap = 0.6
    n_rows = len(feeds) + (1 if len(rows) > len(feeds) else 0)
    height = 3.3 + 0.34 * n_rows + gap
    fig = Figure(figsize=(13, height), dpi=110)
    FigureCanvasAgg(fig)
    measured = rows[rows.evidence.astype(str) == "measured"]
    lasts = sorted(
        str(x)[:10] for x in measured.get("evidence_last", []) if x == x and x
    )
    firsts = sorted(
        str(x)[:10] for x in measured.get("evidence_first", []) if x == x and x
    )
    modes = sorted({str(m) for m in measured.get("run_mode", []) if m == m and m})
    fig.text(
        0.01,
        1 - 0.25 / height,
        "What each feed publishes, and what Chicago withholds",
        fontsize=13,
        fontweight="bold",
    )
    fig.text(
        0.01,
        1 - 0.5 / height,
        f"Made {generated or 'now'}; evidence "
        f"{firsts[0] if firsts else '?'} to {lasts[-1] if lasts else '?'} "
        f"({', '.join(modes) or 'no runs'}). [old] / [filtered]: evidence older "
        "than the age limit, or a filtered sample.",
        fontsize=8.5,
        color="#333333",
    )
    fig.text(
        0.01,
        0.12 / height,
        "Source: cfs comparison of public calls-for-service feeds (each feed's "
        "documentation and capture are linked in report.html); Chicago: "
        "city_configs/il_chicago_oemc.yaml citations.",
        fontsize=7.5,
        color="#444444",
    )
    ax = fig.add_axes((0.33, 1.65 / height, 0.655, (0.34 * n_rows + gap) / height))
    total_h = len(feeds) + (gap + 1 if n_rows > len(feeds) else 0)
    labels, ypos = [], []
    for i, (_, row) in enumerate(rows.iterrows()):
        chicago = row.feed_id == CHICAGO_FEED_ID
        y = total_h - 1 - i - (gap if chicago else 0)
        labels.append(_row_label(row))
        ypos.append(y + 0.5)
        documented_only = str(row.get("evidence", "")).startswith("documented")
        for j, element in enumerate(vocab.ELEMENTS):
            level = row.get(element) or NO_DATA
            color = COLORS.get(level, COLORS[NO_DATA])
            ax.add_patch(
                Rectangle(
                    (j, y), 1, 1, facecolor=color, edgecolor="white", linewidth=1.2
                )
            )
            if documented_only:  # hatch over the colour: documentation, not data
                ax.add_patch(
                    Rectangle(
                        (j + 0.04, y + 0.06),
                        0.92,
                        0.88,
                        fill=False,
                        linewidth=0,
                        hatch="///",
                        edgecolor="#ffffff" if level in DARK else "#b0b0b0",
                    )
                )
            if chicago:
                text = CHICAGO_SHORT.get(row.get(f"{element}_documented"), "")
                steps = row.get(f"{element}_levels")
                if steps and steps == steps and "; " in str(steps):  # by step
                    text = "\n".join(
                        f"{s.split(': ')[0]}: {CHICAGO_SHORT.get(s.split(': ')[-1], '?')}"
                        for s in str(steps).split("; ")[:2]
                    )
            elif documented_only:
                text = "doc."
            elif level == "withheld":  # by the feed's documented policy
                text = "withheld"
            else:
                fill = _num(row.get(f"{element}_fill_rate"))
                text = "" if fill is None else f"{fill:.0%}"
            ax.text(
                j + 0.5,
                y + 0.5,
                text,
                ha="center",
                va="center",
                fontsize=5.5 if "\n" in text else 7.5,
                color="white" if level in DARK else "#222222",
                fontweight="bold" if chicago else "normal",
            )
        if chicago:
            ax.add_patch(
                Rectangle(
                    (0, y), n_el, 1, fill=False, edgecolor="#111111", linewidth=2.0
                )
            )
    if n_rows > len(feeds):
        ax.axhline(gap + 1 - gap / 2, color="#555555", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, n_el)
    ax.set_ylim(0, total_h)
    ax.set_xticks([j + 0.5 for j in range(n_el)])
    ax.set_xticklabels(
        [ELEMENT_LABELS[e] for e in vocab.ELEMENTS], rotation=35, ha="left", fontsize=9
    )
    ax.xaxis.tick_top()
    ax.set_yticks(ypos)
    ax.set_yticklabels(labels, fontsize=8.5)
    if n_rows > len(feeds):  # Chicago's label, like its row, stands out
        ax.get_yticklabels()[-1].set_fontweight("bold")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = [
        Patch(facecolor=COLORS[k], edgecolor="#999999", label=v)
        for k, v in LEVEL_LABELS.items()
    ]
    handles.append(
        Patch(
            facecolor="white",
            edgecolor="#999999",
            hatch="///",
            label="documented level only, no stored records",
        )
    )
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.6, 0.3 / height),
    )
    fig.text(
        0.33,
        1.2 / height,
        "Cell text: share of stored records carrying the element. Chicago: "
        "its documented status (FOIA = FOIA only, aggr. = aggregates only, "
        "n/c = no release documented).",
        fontsize=7.5,
        color="#444444",
    )
    return fig


def heatmap_png(wide: pd.DataFrame, generated: str = "") -> bytes:
    buf = io.BytesIO()
    heatmap_figure(wide, generated).savefig(
        buf, format="png", metadata={"Software": None}
    )
    return buf.getvalue()


# ------------------------------------------------------------------- sentences
def findings(long: pd.DataFrame, withheld: pd.DataFrame | None = None) -> list[str]:
    """The findings (``sentences.findings``): places counted, evidence marked."""
    return sentences.findings(long)


# ------------------------------------------------------------------------ HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1rem;
color:#1a1a1a;line-height:1.45}
section,p,ul,h1,h2,figure,dl{max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.6rem}
.meta{color:#555;font-size:.9rem}
.banner{border:2px solid #b35806;background:#fff7ec;padding:.4rem .8rem}
.banner ul{font-size:.8rem;margin:.2rem 0}.mark{color:#b35806}
dl.glossary dt{font-weight:700;float:left;clear:left;margin-right:.4rem}
dl.glossary dd{margin:0 0 .2rem 0}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.78rem;margin:.5rem 0}
th,td{border:1px solid #d0d0d0;padding:.2rem .35rem;vertical-align:top;text-align:left}
thead th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.chicago td,tr.chicago th{border-top:3px solid #111;font-weight:600}
td.lvl{text-align:center;white-space:nowrap;min-width:2.4rem}
th.el{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;
vertical-align:bottom}
td.feed{min-width:12rem}td.notes{min-width:16rem}td.date{white-space:nowrap}
#licences td,#withheld td{overflow-wrap:anywhere}
td.disagree{outline:2px dashed #c51b7d;outline-offset:-3px}
.wrap{overflow-x:auto;max-width:100%}
#places-table{table-layout:fixed;width:100%;max-width:1100px;font-size:.72rem}
#places-table th:first-child{width:22%}
#places-table td{text-align:center;padding:.15rem .1rem;hyphens:auto}
#places-table th.el{font-size:.68rem;padding:.2rem .05rem}
.p-published{background:#1b7837;color:#fff}.p-partial{background:#a6dba0}
.p-none{background:#ececec}.p-not-in-capture{background:#fdb863}
.p-time-of-day-only,.p-count-only{background:#d9f0d3}
ul.findings li{margin:.25rem 0}
code{font-size:.85em;overflow-wrap:anywhere}
@media print{
@page{size:letter landscape;margin:12mm}
body{margin:0;font-size:9pt}
.wrap{overflow:visible}
details{display:block}details>summary{display:none}
a{color:#000}a[href]::after{content:" <" attr(href) ">";font-size:7pt;
overflow-wrap:anywhere}
#places-table{font-size:7.5pt;page-break-inside:avoid}
table{table-layout:fixed;width:100%}
td,th{overflow-wrap:anywhere;hyphens:auto}
td.feed,td.notes,td.lvl{min-width:0}
#comparison{font-size:5pt}#comparison td,#comparison th{padding:.1rem}
#comparison a[href]::after,#withheld a[href]::after{content:none}
#comparison th:first-child{width:11%}td.date{white-space:normal}
#comparison th.el{font-size:5pt}
#withheld,#licences,#chicago-citations{font-size:6.5pt}
h2{page-break-after:avoid}
tr{page-break-inside:avoid}
}
"""


def _level_cell(row: pd.Series, element: str) -> str:
    level = row.get(element) or NO_DATA
    chicago = row.feed_id == CHICAGO_FEED_ID
    fill = _num(row.get(f"{element}_fill_rate"))
    documented = row.get(f"{element}_documented")
    measured = row.get(f"{element}_measured")
    agreement = row.get(f"{element}_agreement")
    if chicago:
        text = documented or ""
        tip = f"Chicago: {documented}. Source: {row.get(f'{element}_source') or ''}"
    elif fill is None:
        text = "doc."
        tip = f"documentation says {documented}; no stored records to measure"
    else:
        text = f"{fill:.0%}"
        tip = (
            f"measured {measured} ({fill:.1%} of records); the publisher's "
            f"documentation, as the project read it: {documented or 'nothing'}; "
            f"{agreement}"
        )
    color = COLORS.get(level, COLORS[NO_DATA])
    fg = "#fff" if level in DARK else "#111"
    cls = "lvl disagree" if agreement == "disagree" else "lvl"
    mark = " ≠" if agreement == "disagree" else ""
    return (
        f'<td class="{cls}" style="background:{color};color:{fg}" '
        f'title="{esc(tip)}">{esc(text)}{mark}</td>'
    )


def _span(low: Any, high: Any) -> str:
    """'between 5 and 12 minutes', or one number when the bounds agree."""
    lo, hi = _num(low), _num(high)
    if lo is None and hi is None:
        return ""
    if lo is None or hi is None or lo == hi:
        return f"{lo if hi is None else hi:g} minutes"
    return f"between {lo:g} and {hi:g} minutes"


def _minutes(low: Any, high: Any, n: Any) -> str:
    if not n or n == "0":
        return ""
    return f"{esc(_span(low, high))} (n={esc(n)})"


def _liveness(row: pd.Series) -> str:
    board = row.get("board")
    live = str(row.get("liveness") or "")
    return f"{live} ({board})" if board and board == board else live


def _evidence_cell(row: pd.Series) -> str:
    if row.feed_id == CHICAGO_FEED_ID:
        return f"Chicago config (no feed), as of {esc(row.get('as_of'))}"
    if str(row.get("evidence")) != "measured":
        return "documentation only (no stored records)"
    marks = row.get("evidence_marks")
    mark = f'<br><b class="mark">{esc(marks)}</b>' if marks and marks == marks else ""
    return (
        f"{esc(row.get('run_mode'))}: {esc(str(row.get('evidence_first'))[:10])} to "
        f"{esc(str(row.get('evidence_last'))[:10])}<br>"
        f"{link(row.get('capture_origin_url'), row.get('capture_kind_label'))}{mark}"
    )


def _comparison_table(wide: pd.DataFrame) -> str:
    heads = [
        "Feed",
        "Place",
        "Listing",
        "Records stored",
        "Evidence (UTC)",
        "Calls received (UTC)",
        "Time on listing (median)",
        "Publication delay (median)",
        *(ELEMENT_LABELS[e] for e in vocab.ELEMENTS),
        "Documented levels vs measured",
    ]
    out = ['<div class="wrap"><table id="comparison"><thead><tr>']
    labels = {ELEMENT_LABELS[e] for e in vocab.ELEMENTS}
    out += [
        f'<th class="el">{esc(h)}</th>' if h in labels else f"<th>{esc(h)}</th>"
        for h in heads
    ]
    out.append("</tr></thead><tbody>")
    for _, row in _ordered(wide).iterrows():
        chicago = row.feed_id == CHICAGO_FEED_ID
        first, last = row.get("received_first"), row.get("received_last")
        span = f"{str(first)[:10]} to {str(last)[:10]}" if first else ""
        on_feed = _minutes(
            row.get("time_on_feed_median_minutes"),
            row.get("time_on_feed_upper_median_minutes"),
            row.get("time_on_feed_n"),
        )
        delay = _minutes(
            row.get("publication_delay_lower_median_minutes"),
            row.get("publication_delay_median_minutes"),
            row.get("publication_delay_n"),
        )
        withheld_timing = row.get("timing_withheld")
        if withheld_timing and withheld_timing == withheld_timing and not chicago:
            on_feed = delay = f"not quoted: {esc(withheld_timing)}"
        docs = link(row.get("documentation_url"), "documentation")
        live = " ".join(
            link(u, "live URL") for u in str(row.get("live_urls") or "").split() if u
        )
        cells = [
            f'<td class="feed"><b>{esc(row.get("title"))}</b><br>'
            f"<code>{esc(row.feed_id)}</code><br>{docs} {live}</td>",
            f"<td>{esc(row.get('place'))}<br>{esc(row.get('agency'))}</td>",
            f"<td>{esc(_liveness(row))}<br>every "
            f"{esc(row.get('update_interval_minutes'))} min</td>",
            f'<td class="num">{esc(row.get("records_stored"))}</td>',
            f"<td>{_evidence_cell(row)}</td>",
            f'<td class="date">{esc(span)}</td>',
            f'<td class="num">{on_feed}</td>',
            f'<td class="num">{delay}</td>',
            *(_level_cell(row, e) for e in vocab.ELEMENTS),
            f'<td class="notes">{esc(row.get("disagreements"))}</td>',
        ]
        cls = ' class="chicago"' if chicago else ""
        out.append(f'<tr{cls} data-feed="{esc(row.feed_id)}">{"".join(cells)}</tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def _withheld_table(withheld: pd.DataFrame) -> str:
    heads = [
        "Element",
        "Chicago",
        "Chicago's source",
        "Places publishing",
        "Which places (feeds)",
        "Finest published elsewhere",
        "Example value (feed, call)",
    ]
    out = ['<div class="wrap"><table id="withheld"><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in heads]
    out.append("</tr></thead><tbody>")
    for _, r in withheld.iterrows():
        feeds = str(r.places_publishing or "").replace(";", "; ")
        if r.places_partial and r.places_partial == r.places_partial:
            feeds += f" (some calls: {str(r.places_partial).replace(';', '; ')})"
        feeds += f" [{str(r.feeds_publishing or '').replace(';', '; ')}]"
        example = ""
        if r.example_value is not None and r.example_value == r.example_value:
            example = (
                f"<code>{esc(r.example_value)}</code><br>{esc(r.example_feed)}, "
                f"<code>{esc(r.example_record_key)}</code>"
            )
        finest = esc(r.finest_published)
        out.append(
            f"<tr><td>{esc(r.element_label)}</td><td>{esc(r.chicago_status)}</td>"
            f"<td>{esc(r.chicago_source)}</td>"
            f'<td class="num">{esc(r.places_publishing_n)} of '
            f"{esc(r.places_measured_n)}"
            f"</td><td>{esc(feeds)}</td><td>{finest}</td><td>{example}</td></tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def render_html(
    *,
    long: pd.DataFrame,
    wide: pd.DataFrame,
    withheld: pd.DataFrame,
    heatmap: bytes,
    generated_at: datetime | None = None,
    cite: dict[str, Any] | None = None,
) -> str:
    """The whole report as one HTML string (no external assets).

    Order is the reader's: what the evidence is (banner), how to read it (method
    and glossary), what it says (findings, places), then the detail and sources.
    """
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    cite = {"generated": when, **(cite or {})}
    n_feeds = int((wide.feed_id != CHICAGO_FEED_ID).sum())
    image = base64.b64encode(heatmap).decode("ascii")
    items = "".join(f"<li>{esc(s)}</li>" for s in findings(long, withheld))
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Calls for service: what each city publishes, what Chicago withholds</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Calls for service: what each city publishes, and what Chicago withholds</h1>
{sections.banner(wide, when)}
{sections.method(wide)}

<h2>Findings</h2>
<ul class="findings">{items}</ul>

<h2>Places by element</h2>
{sections.place_table(long)}

{sections.place_section(long)}

<h2>Availability by feed and element</h2>
<figure>
<img id="heatmap" src="data:image/png;base64,{image}"
 alt="Heatmap: rows are feeds, columns are the common elements, colour is availability;
 Chicago is the last row, set apart.">
<figcaption class="meta">Measured from the stored records where there are any;
otherwise the levels read from the feed's documentation (hatched). Chicago (last
row): the status its config records for each element, with the sources below.
</figcaption>
</figure>

<h2>Feeds in detail</h2>
<p class="meta">{n_feeds} configured feeds, Chicago last. Element cells: share of
stored records carrying the element, coloured by availability; hover for the
documented level beside the measured one. &ne; marks a difference between the
documentation and the data.</p>
{_comparison_table(wide)}

<h2>What Chicago withholds, and which places publish it</h2>
{_withheld_table(withheld)}

{sections.chicago_citations(long)}

{sections.how_to_cite(wide, cite)}
</body>
</html>
"""
