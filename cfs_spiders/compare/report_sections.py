"""The report's sections as HTML strings: banner, method, places, tables, citing.

Each section reads the comparison tables only (long, wide, withheld), escapes
every value it prints, and links every documentation page and live URL, so a
reporter can follow each claim to its source from the page itself.
"""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from ..config import vocab
from . import sentences
from .constants import CHICAGO_FEED_ID, ELEMENT_LABELS, FINEST_MIN_SHARE, PUBLISHED_MIN
from .evidence import max_age_days


def esc(value: Any) -> str:
    """HTML-escape anything (None and NaN become an empty string)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value), quote=True)


def link(url: Any, text: Any = None) -> str:
    """An <a> for an http(s) URL; anything else is printed as escaped text."""
    u = "" if url is None or url != url else str(url)
    if not u.startswith(("http://", "https://")):
        return esc(text or u)
    return f'<a href="{esc(u)}">{esc(text or u)}</a>'


def _feeds(wide: pd.DataFrame) -> pd.DataFrame:
    return wide[wide.feed_id != CHICAGO_FEED_ID]


def banner(wide: pd.DataFrame, generated: str) -> str:
    """Mode and evidence dates, first thing on the page."""
    feeds = _feeds(wide)
    measured = feeds[feeds.evidence.astype(str) == "measured"]
    modes = sorted({str(m) for m in measured.run_mode if m and m == m})
    lasts = sorted(str(x) for x in measured.evidence_last if x and x == x)
    firsts = sorted(str(x) for x in measured.evidence_first if x and x == x)
    live = [str(x) for x in measured.last_live_fetch if x and x == x]
    if modes == ["replay"]:
        mode = (
            "REPLAY: every number below comes from recorded captures served again, "
            "not from a live fetch of the feeds"
        )
    elif modes == ["live"]:
        mode = "LIVE: every number below comes from live fetches of the feeds"
    else:
        mode = f"MIXED ({', '.join(modes) or 'no runs'}): see each feed's run mode"
    span = f"{firsts[0][:10]} to {lasts[-1][:10]}" if firsts and lasts else "none"
    items = []
    for _, r in feeds.sort_values("feed_id").iterrows():
        if str(r.evidence) != "measured":
            items.append(
                f'<li data-feed="{esc(r.feed_id)}"><code>{esc(r.feed_id)}</code>: '
                "no stored records (documentation only)</li>"
            )
            continue
        mark = (
            f' <b class="mark">{esc(r.evidence_marks)}</b>'
            if _has(r.evidence_marks)
            else ""
        )
        items.append(
            f'<li data-feed="{esc(r.feed_id)}"><code>{esc(r.feed_id)}</code>: '
            f'<span class="ev-first">{esc(r.evidence_first)}</span> to '
            f'<span class="ev-last">{esc(r.evidence_last)}</span>, '
            f"{esc(r.run_mode)}, {esc(r.capture_kind_label)}; last live fetch: "
            f"{esc(r.last_live_fetch) or 'never'}{mark}</li>"
        )
    return (
        f'<section id="banner" class="banner"><p><b id="run-mode">Run mode: '
        f"{esc(mode)}.</b> Evidence dates (first to last capture or fetch, UTC): "
        f"{esc(span)}; last live fetch: {esc(max(live) if live else 'never')}. "
        f"Generated {esc(generated)}.</p>"
        f'<details open><summary>Evidence per feed</summary><ul class="evidence">'
        f"{''.join(items)}</ul></details></section>"
    )


def _has(value: Any) -> bool:
    return value is not None and value == value and str(value) != ""


GLOSSARY = (
    (
        "FOIA",
        "Freedom of Information Act request: under the Illinois Freedom of "
        "Information Act (5 ILCS 140), a written request to a public body for records; "
        "'FOIA only' means a person gets the value only by filing one.",
    ),
    (
        "call for service",
        "a call to 911 or to a non-emergency line that the "
        "dispatch centre records, and often sends police or fire to.",
    ),
    (
        "feed",
        "one listing a publisher puts online (a live page, an API, an open "
        "data set); a place can have several.",
    ),
    ("place", "the city or county a feed covers; the unit every count below uses."),
    (
        "replay",
        "the project serves a recorded capture of a feed again through the "
        "same code a live fetch uses; the numbers describe the capture's date.",
    ),
    ("publisher response", "a capture of the publisher's own response."),
    (
        "third-party re-export",
        "rows a third party scraped and saved in its own "
        "format; columns it dropped are missing from the evidence.",
    ),
    (
        "filtered sample",
        "a capture that kept only some calls (one beat, one call "
        "type): shares and counts describe the sample, not the feed.",
    ),
    (
        "not in capture",
        "an element the capture cannot carry; it says nothing about "
        "whether the feed publishes it.",
    ),
    (
        "time of day only",
        "a time given as hours and minutes with no date (the project dates it "
        "from the fetch): not counted as a published timestamp.",
    ),
    (
        "count only",
        "a number of units sent, not which units: not counted as published units.",
    ),
    (
        "block level",
        "a hundred block ('8800 BLOCK OF N SYRACUSE ST') or a house "
        "number rounded to 00, not the exact address.",
    ),
    (
        "documented levels",
        "what the project read from the publisher's "
        "documentation (linked per feed), not a measurement.",
    ),
)


def method(wide: pd.DataFrame) -> str:
    """Method, limitations and glossary, before any finding uses a term."""
    terms = "".join(f"<dt>{esc(t)}</dt><dd>{esc(d)}</dd>" for t, d in GLOSSARY)
    return f"""<section id="method"><h2>Method and limitations</h2>
<dl class="glossary">{terms}</dl>
<ul>
<li>Counting rule, used for every count on this page and in withheld.csv:
{esc(sentences.RULE)}</li>
<li>An address or coordinate level counts for a feed when at least
{FINEST_MIN_SHARE:.0%} of its records carry it. Evidence checks may lower a
level the config documents: when at least 90% of a feed's house numbers classed
exact end in 00 (and at least 20 do), they are counted as block level.</li>
<li>Evidence older than {max_age_days()} days (setting
<code>CFS_EVIDENCE_MAX_AGE_DAYS</code>), and filtered samples, are marked in the
sentences, the per-place summaries and the heatmap.</li>
<li>Durations (time on a listing, delay before a call appears) come from the
spacing of the project's runs. They are not quoted when fewer than 3 runs saw the
feed, or when the runs were a median of more than twice the documented update
interval apart.</li>
<li>Chicago publishes no call-level listing. Its row records, per element, how a
person can get each value, with the document, its date of access and its words
(table at the end).</li>
</ul></section>"""


def place_section(long: pd.DataFrame) -> str:
    paras = "".join(
        f'<p class="place" data-place="{esc(p)}"><b>{esc(p)}.</b> {esc(t)}</p>'
        for p, t in sentences.place_summaries(long).items()
    )
    return f'<section id="places"><h2>Each place in one paragraph</h2>{paras}</section>'


SHORT = {
    "published": "yes",
    "partial": "some",
    "none": "no",
    "not in capture": "not in capture",
    "time of day only": "time only",
    "count only": "count",
}
CHI_SHORT = {
    "published": "yes",
    "published_aggregate": "counts",
    "foia_only": "FOIA",
    "withheld": "withheld",
    "not_collected": "n/c",
    "unknown": "?",
}


def place_table(long: pd.DataFrame) -> str:
    """Places by elements, small enough for one printed page."""
    idx = sentences.index(long)
    heads = "".join(
        f'<th class="el">{esc(ELEMENT_LABELS[e])}</th>' for e in vocab.ELEMENTS
    )
    rows = []
    for place, feeds in sentences.places(idx).items():
        cells = []
        for e in vocab.ELEMENTS:
            level = sentences.place_level(idx, feeds, e)
            text = SHORT[level]
            if e == "address" and level != "none":
                text = sentences.place_address_finest(idx, feeds) or text
            css = level.replace(" ", "-")
            cells.append(f'<td class="p-{css}">{esc(text)}</td>')
        star = " *" if sentences.marked(idx, feeds) else ""
        rows.append(
            f'<tr data-place="{esc(place)}"><th scope="row">{esc(place)}{star}</th>'
            f"{''.join(cells)}</tr>"
        )
    chi = []
    for e in vocab.ELEMENTS:
        levels = idx.get((CHICAGO_FEED_ID, e, "levels"))
        status = idx.get((CHICAGO_FEED_ID, e, "documented"))
        text = CHI_SHORT.get(status, "?")
        if levels:
            text = "; ".join(
                f"{s.split(': ')[0]}: {CHI_SHORT.get(s.split(': ')[-1], '?')}"
                for s in str(levels).split("; ")[:2]
            )
        chi.append(f'<td class="c-{esc(status)}">{esc(text)}</td>')
    rows.append(
        f'<tr class="chicago" data-place="Chicago, IL"><th scope="row">Chicago, IL'
        f"</th>{''.join(chi)}</tr>"
    )
    return (
        '<div class="wrap"><table id="places-table"><caption>What each place publishes (yes: at '
        f"least {PUBLISHED_MIN:.0%} of calls; some: fewer; address: finest level). "
        "time only: a time of day with no date; count: a number of units, not "
        "which. * every feed of the place rests on old evidence or a filtered sample."
        f"</caption><thead><tr><th>Place</th>{heads}</tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table></div>"
    )


def chicago_citations(long: pd.DataFrame) -> str:
    """Each Chicago element: its status, by precision step, and the cited words."""
    rows = long[(long.feed == CHICAGO_FEED_ID)]
    idx = {(r.element, r.metric): r.value for r in rows.itertuples()}
    out = []
    for e in vocab.ELEMENTS:
        cites = json.loads(idx.get((e, "citations_json")) or "[]")
        cells = "".join(f"<li>{_cite_html(c)}</li>" for c in cites) or (
            "<li>no public source found</li>"
        )
        out.append(
            f'<tr data-element="{esc(e)}"><td>{esc(ELEMENT_LABELS[e])}</td>'
            f"<td>{esc(idx.get((e, 'documented')))}</td>"
            f"<td>{esc(idx.get((e, 'levels')))}</td><td><ul>{cells}</ul></td></tr>"
        )
    as_of = idx.get(("feed", "as_of"))
    return (
        f'<section id="chicago-sources"><h2>Chicago: sources, as of {esc(as_of)}</h2>'
        '<div class="wrap"><table id="chicago-citations"><thead><tr><th>Element</th>'
        "<th>Status</th><th>By precision step</th><th>Quoted words (document, "
        f"accessed)</th></tr></thead><tbody>{''.join(out)}</tbody></table></div>"
        "</section>"
    )


def _cite_html(cite: dict[str, str]) -> str:
    note = f" Note: {esc(cite['note'])}." if cite.get("note") else ""
    return (
        f"\u201c{esc(cite['quote'])}\u201d ({link(cite['url'], cite['title'])}, "
        f"accessed {esc(cite['accessed'])}).{note}"
    )


def how_to_cite(wide: pd.DataFrame, cite: dict[str, Any]) -> str:
    feeds = _feeds(wide).sort_values("feed_id")
    rows = "".join(
        f"<tr><td><code>{esc(r.feed_id)}</code></td><td>{esc(r.agency)}</td>"
        f"<td>{esc(r.license) or 'no licence stated by the publisher'}</td>"
        f"<td>{link(r.documentation_url, 'documentation')}</td>"
        f"<td>{' '.join(link(u) for u in str(r.live_urls or '').split() if u)}</td>"
        f"<td>{link(r.capture_origin_url, 'capture origin')}</td></tr>"
        for r in feeds.itertuples()
    )
    return f"""<section id="cite"><h2>How to cite</h2>
<p>cfs {esc(cite.get("version"))}, commit <code>{esc(cite.get("commit") or "unknown")}</code>,
comparison run {esc(cite.get("generated"))}. Cite each publisher's data under its
own terms:</p>
<div class="wrap"><table id="licences"><thead><tr><th>Feed</th><th>Publisher</th><th>Licence or terms</th>
<th>Documentation</th><th>Live URL</th><th>Capture</th></tr></thead>
<tbody>{rows}</tbody></table></div></section>"""
