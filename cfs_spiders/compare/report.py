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
import html
import io
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..config import vocab
from .constants import (
    CHICAGO_FEED_ID,
    ELEMENT_LABELS,
    FEED,
    FINEST_MIN_SHARE,
    MAX_RUN_GAP_S,
    NO_DATA,
    PUBLISHED_MIN,
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
}
CHICAGO_SHORT = {
    "published": "pub.",
    "published_aggregate": "aggr.",
    "foia_only": "FOIA",
    "withheld": "withheld",
    "not_collected": "n/c",
    "unknown": "?",
}
CHICAGO_PHRASE = {
    "published": "Chicago publishes it too",
    "published_aggregate": "Chicago publishes it only as aggregates",
    "foia_only": "in Chicago it is available only through a FOIA request",
    "withheld": "Chicago withholds it",
    "not_collected": "no Chicago release of it is documented",
    "unknown": "what Chicago releases is unknown",
}
ELEMENT_PHRASES = {
    "id": "a call id",
    "received_time": "the time the call was received",
    "stage_times": "dispatch, arrival or closing times",
    "address": "the call's address",
    "coordinates": "coordinates",
    "call_type": "the call type",
    "priority": "the call's priority",
    "status": "the call's status",
    "disposition": "the disposition (how the call ended)",
    "call_source": "the call's source (911, officer-initiated, ...)",
    "area": "an area (district, beat, ...)",
    "units": "the units sent",
}


def esc(value: Any) -> str:
    """HTML-escape anything (None and NaN become an empty string)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value), quote=True)


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
        "declared"
    ):
        label += "  [declared]"
    return label


def _ordered(wide: pd.DataFrame) -> pd.DataFrame:
    """Feeds with stored records first, then declared-only ones, Chicago last."""
    chicago = wide[wide.feed_id == CHICAGO_FEED_ID]
    rest = wide[wide.feed_id != CHICAGO_FEED_ID].copy()
    rest["_declared"] = rest.evidence.astype(str).str.startswith("declared")
    rest = rest.sort_values(["_declared", "city", "feed_id"]).drop(columns="_declared")
    return pd.concat([rest, chicago])


# --------------------------------------------------------------------- heatmap
def heatmap_figure(wide: pd.DataFrame) -> Figure:
    """Feeds by elements, coloured by availability; Chicago's row set apart."""
    rows = _ordered(wide)
    feeds = rows[rows.feed_id != CHICAGO_FEED_ID]
    n_el = len(vocab.ELEMENTS)
    gap = 0.6
    n_rows = len(feeds) + (1 if len(rows) > len(feeds) else 0)
    height = 2.6 + 0.34 * n_rows + gap
    fig = Figure(figsize=(13, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.33, 1.45 / height, 0.655, (0.34 * n_rows + gap) / height))
    total_h = len(feeds) + (gap + 1 if n_rows > len(feeds) else 0)
    labels, ypos = [], []
    for i, (_, row) in enumerate(rows.iterrows()):
        chicago = row.feed_id == CHICAGO_FEED_ID
        y = total_h - 1 - i - (gap if chicago else 0)
        labels.append(_row_label(row))
        ypos.append(y + 0.5)
        declared_only = str(row.get("evidence", "")).startswith("declared")
        for j, element in enumerate(vocab.ELEMENTS):
            level = row.get(element) or NO_DATA
            color = COLORS.get(level, COLORS[NO_DATA])
            ax.add_patch(
                Rectangle(
                    (j, y), 1, 1, facecolor=color, edgecolor="white", linewidth=1.2
                )
            )
            if declared_only:  # hatch over the colour: documentation, not data
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
                text = CHICAGO_SHORT.get(row.get(f"{element}_declared"), "")
            elif declared_only:
                text = "decl."
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
                fontsize=7.5,
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
            label="declared by documentation, no stored records",
        )
    )
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.6, 0.0),
    )
    fig.text(
        0.33,
        1.0 / height,
        "Cell text: share of stored records carrying the element. Chicago: "
        "its documented status (FOIA = FOIA only, aggr. = aggregates only, "
        "n/c = no release documented).",
        fontsize=7.5,
        color="#444444",
    )
    return fig


def heatmap_png(wide: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    heatmap_figure(wide).savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# ------------------------------------------------------------------- sentences
def _index(long: pd.DataFrame) -> dict[tuple[str, str, str], Any]:
    return {(r.feed, r.element, r.metric): r.value for r in long.itertuples()}


def findings(long: pd.DataFrame, withheld: pd.DataFrame) -> list[str]:
    """A few plain sentences, each computed from the comparison (plain text)."""
    idx = _index(long)
    measured = sorted(
        f
        for (f, e, m), v in idx.items()
        if e == FEED and m == "evidence" and v == "measured"
    )
    declared_only = sorted(
        f
        for (f, e, m), v in idx.items()
        if e == FEED and m == "evidence" and str(v).startswith("declared")
    )
    m = len(measured)
    chicago = {e: idx.get((CHICAGO_FEED_ID, e, "declared")) for e in vocab.ELEMENTS}
    out: list[str] = []

    def chi(element: str) -> str:
        status = chicago.get(element)
        return CHICAGO_PHRASE.get(status, "Chicago's status is not recorded")

    if m:
        fine = [
            f
            for f in measured
            if (_num(idx.get((f, "address", "share_exact"))) or 0)
            + (_num(idx.get((f, "address", "share_block"))) or 0)
            >= 0.5
        ]
        exact = [
            f
            for f in measured
            if (_num(idx.get((f, "address", "share_exact"))) or 0) >= 0.5
        ]
        out.append(
            f"{len(fine)} of {m} feeds with stored records publish most calls' address "
            f"at block level or finer ({len(exact)} give most calls' exact address); "
            f"{chi('address')}."
        )
        for element in vocab.ELEMENTS:
            if element == "address":
                continue
            full = [
                f for f in measured if idx.get((f, element, "measured")) == "published"
            ]
            part = [
                f for f in measured if idx.get((f, element, "measured")) == "partial"
            ]
            more = f" ({len(part)} more for some calls)" if part else ""
            out.append(
                f"{len(full)} of {m} feeds publish {ELEMENT_PHRASES[element]} for "
                f"at least {PUBLISHED_MIN:.0%} of calls{more}; "
                f"{chi(element)}."
            )
    for f in measured:
        name = idx.get((f, FEED, "title")) or f
        n_on = idx.get((f, FEED, "time_on_feed_n")) or 0
        if n_on:
            span = _span(
                idx.get((f, FEED, "time_on_feed_median_minutes")),
                idx.get((f, FEED, "time_on_feed_upper_median_minutes")),
            )
            out.append(
                f"{name}: calls that left the listing had been on it for {span} "
                f"(medians of what the runs could see; {n_on} calls observed leaving)."
            )
        n_d = idx.get((f, FEED, "publication_delay_n")) or 0
        if n_d:
            span = _span(
                idx.get((f, FEED, "publication_delay_lower_median_minutes")),
                idx.get((f, FEED, "publication_delay_median_minutes")),
            )
            out.append(
                f"{name}: new calls appeared on the listing {span} after they were "
                f"received (medians; {n_d} calls first seen after the first run)."
            )
    disagree = [
        (f, e) for (f, e, mt), v in idx.items() if mt == "agreement" and v == "disagree"
    ]
    if disagree:
        feeds = sorted({f for f, _ in disagree})
        out.append(
            f"What arrived disagrees with the feed's documentation on {len(disagree)} "
            f"element(s) across {len(feeds)} feed(s): see the last column of the table."
        )
    if declared_only:
        out.append(
            f"{len(declared_only)} configured feed(s) have no stored records "
            f"({', '.join(declared_only)}); their rows show what the documentation "
            "declares, hatched in the heatmap."
        )
    return out


# ------------------------------------------------------------------------ HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;
color:#1a1a1a;line-height:1.45}
p,ul,h1,h2,figure{max-width:1400px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem}
.meta{color:#555;font-size:.9rem}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.78rem;margin:.5rem 0}
th,td{border:1px solid #d0d0d0;padding:.25rem .4rem;vertical-align:top;text-align:left}
thead th{background:#f4f4f4;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.chicago td{border-top:3px solid #111;font-weight:600}
td.lvl{text-align:center;white-space:nowrap;min-width:3.2rem}
th.el{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;
vertical-align:bottom}
td.feed{min-width:15rem}td.notes{min-width:24rem}td.date{white-space:nowrap}
td.disagree{outline:2px dashed #c51b7d;outline-offset:-3px}
.wrap{overflow-x:auto}
ul.findings li{margin:.25rem 0}
code{font-size:.85em}
"""


def _level_cell(row: pd.Series, element: str) -> str:
    level = row.get(element) or NO_DATA
    chicago = row.feed_id == CHICAGO_FEED_ID
    fill = _num(row.get(f"{element}_fill_rate"))
    declared = row.get(f"{element}_declared")
    measured = row.get(f"{element}_measured")
    agreement = row.get(f"{element}_agreement")
    if chicago:
        text = declared or ""
        tip = f"Chicago: {declared}. Source: {row.get(f'{element}_source') or ''}"
    elif fill is None:
        text = "decl."
        tip = f"declared {declared}; no stored records to measure"
    else:
        text = f"{fill:.0%}"
        tip = (
            f"measured {measured} ({fill:.1%} of records); declared "
            f"{declared or 'nothing'}; {agreement}"
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


def _evidence(row: pd.Series) -> str:
    text = str(row.get("evidence") or "")
    if row.feed_id == CHICAGO_FEED_ID:
        return "Chicago config (no feed)"
    return "declared only" if text.startswith("declared") else text


def _comparison_table(wide: pd.DataFrame) -> str:
    heads = [
        "Feed",
        "City",
        "Platform",
        "Live / history",
        "Updates every (min)",
        "Records stored",
        "Calls received (UTC)",
        "Time on listing (median)",
        "Publication delay (median)",
        "Evidence",
        *(ELEMENT_LABELS[e] for e in vocab.ELEMENTS),
        "Declared vs measured",
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
        cells = [
            f'<td class="feed"><b>{esc(row.get("title"))}</b><br>'
            f"<code>{esc(row.feed_id)}</code></td>",
            f"<td>{esc(row.get('city'))}, {esc(row.get('state'))}</td>",
            f"<td>{esc(row.get('platform'))}</td>",
            f"<td>{esc(_liveness(row))}</td>",
            f'<td class="num">{esc(row.get("update_interval_minutes"))}</td>',
            f'<td class="num">{esc(row.get("records_stored"))}</td>',
            f'<td class="date">{esc(span)}</td>',
            f'<td class="num">{on_feed}</td>',
            f'<td class="num">{delay}</td>',
            f'<td title="{esc(row.get("evidence"))}">{esc(_evidence(row))}</td>',
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
        "Feeds publishing",
        "Which feeds",
        "Finest published elsewhere",
        "Example value (feed, call)",
    ]
    out = ['<div class="wrap"><table id="withheld"><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in heads]
    out.append("</tr></thead><tbody>")
    for _, r in withheld.iterrows():
        feeds = str(r.feeds_publishing or "").replace(";", "; ")
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
            f'<td class="num">{esc(r.feeds_publishing_n)} of {esc(r.feeds_measured_n)}'
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
) -> str:
    """The whole report as one HTML string (no external assets)."""
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    n_feeds = int((wide.feed_id != CHICAGO_FEED_ID).sum())
    image = base64.b64encode(heatmap).decode("ascii")
    items = "".join(f"<li>{esc(s)}</li>" for s in findings(long, withheld))
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    )
    gap_h = MAX_RUN_GAP_S // 3600
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
<p class="meta">Generated {esc(when)} from {n_feeds} configured feeds and Chicago's
documented record (<code>city_configs/{esc(CHICAGO_FEED_ID)}.yaml</code>). Data:
<code>comparison.csv</code>, <code>comparison_long.csv</code>,
<code>withheld.csv</code>, <code>calls.csv</code>, described by
<code>datapackage.json</code>.</p>

<h2>Findings</h2>
<ul class="findings">{items}</ul>

<h2>Availability by feed and element</h2>
<figure>
<img id="heatmap" src="data:image/png;base64,{image}"
 alt="Heatmap: rows are feeds, columns are the common elements, colour is availability;
 Chicago is the last row, set apart.">
<figcaption class="meta">Measured from the stored records where there are any;
otherwise what the feed's documentation declares (hatched). Chicago (last row):
the status its config records for each element, with the source of each claim in the
table below.</figcaption>
</figure>

<h2>Comparison</h2>
<p class="meta">One row per configured feed, Chicago last. Element cells: share of
stored records carrying the element, coloured by availability; hover for declared vs
measured. ≠ marks a disagreement between documentation and data.</p>
{_comparison_table(wide)}

<h2>What Chicago withholds, and who publishes it</h2>
{_withheld_table(withheld)}

<h2>How to read this</h2>
<ul class="meta">
<li>Measured availability: <b>published</b> when at least {PUBLISHED_MIN:.0%} of a
feed's stored records carry the element, <b>partial</b> when some do, <b>not
published</b> when none do; an address is <b>withheld</b> when the feed's documented
location policy withholds it.</li>
<li>Granularity: a level counts as published by a feed when at least
{FINEST_MIN_SHARE:.0%} of its records carry it. Time resolution is the unit of the
published received time: seconds only when some times have non-zero seconds.</li>
<li>Time on listing, over calls that left a live listing: between the median of
last seen minus first seen (a lower bound) and the median of "first missing" minus
first seen (an upper bound). Publication delay, over calls first seen in a run after
the feed's first run: between the median of the previous run's time minus received
time (the call was not listed then) and the median of first seen minus received time.
Both count a call only when the runs around it were at most {gap_h} hours apart.</li>
<li>The store's records come from the runs made so far (replayed captures or live
polls); a feed's numbers describe those records, not the feed's whole history.</li>
</ul>
</body>
</html>
"""
