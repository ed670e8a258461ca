"""Hostile input: configs, ids and paths, XML, spreadsheet formulas, control
characters and invalid UTF-8, HTML in feed values. Every payload here is synthetic.
"""

from __future__ import annotations

import csv
import html
import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path

import pytest
import yaml
from defusedxml import DefusedXmlException
from faultserver import (
    ROOT,
    FaultServer,
    Reply,
    json_feed_config,
    run_cfs,
    run_once,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.config.loader import (
    ConfigError,
    get_config,
    load_all,
    load_config,
    validate_feed_id,
)
from cfs_spiders.exports.files import safe_cell, write_csv
from cfs_spiders.ingest.parsers import parse_xml
from cfs_spiders.ingest.replay import ReplayError, load_snapshots
from cfs_spiders.ingest.spiders.base import validate_run_id
from cfs_spiders.normalize.call_type import load_crosswalk
from cfs_spiders.store.base import CALLS_FROM  # noqa: F401

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SYNTHETIC_CONFIG = json_feed_config("zz_hostile_config", "http://127.0.0.1:9/calls")


# ------------------------------------------------------------------------ YAML


def test_yaml_python_object_tag_is_refused_never_run(tmp_path: Path):
    pwned = tmp_path / "pwned"
    evil = SYNTHETIC_CONFIG.replace(
        "title: Synthetic", f'title: !!python/object/apply:os.mkdir ["{pwned}"]\n#'
    )
    path = tmp_path / "zz_hostile_config.yaml"
    path.write_text(evil)
    with pytest.raises(ConfigError, match="not safe YAML"):
        load_config(path)
    configs, errors = load_all(tmp_path)
    assert configs == {} and len(errors) == 1
    assert not pwned.exists()


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.mkdir",
        "!!python/object/new:os.mkdir",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_yaml_tags_refused_in_configs_and_replay_manifests(tmp_path: Path, tag: str):
    pwned = tmp_path / "pwned"
    config = tmp_path / "configs" / "zz_hostile_config.yaml"
    config.parent.mkdir()
    config.write_text(SYNTHETIC_CONFIG + f'note_tag: {tag} ["{pwned}"]\n')
    with pytest.raises(ConfigError):
        load_config(config)
    feed = tmp_path / "replay" / "zz_hostile_config"
    feed.mkdir(parents=True)
    (feed / "manifest.yaml").write_text(f'snapshots: {tag} ["{pwned}"]\n')
    with pytest.raises(yaml.YAMLError):
        load_snapshots(str(tmp_path / "replay"), "zz_hostile_config")
    assert not pwned.exists()


def test_cfs_check_reports_the_tagged_config(tmp_path: Path):
    (tmp_path / "zz_hostile_config.yaml").write_text(
        SYNTHETIC_CONFIG + "x: !!python/object/apply:os.getcwd []\n"
    )
    proc = run_cfs(tmp_path, tmp_path / "db.sqlite", tmp_path / "out", "check")
    assert proc.returncode == 1
    assert "not safe YAML" in proc.stderr


# -------------------------------------------------------------- ids and paths

BAD_IDS = [
    "../../etc/passwd",
    "zz_a/../../b",
    "/etc/passwd",
    "zz_ok_id/..",
    "zz_ok_id\x00",
    "ZZ_UPPER_CASE",
    "zz_dots.in_id",
    "..",
    "",
    "zz_x\\y",
    "zz_ok_id\n",
]


@pytest.mark.parametrize("feed_id", BAD_IDS)
def test_feed_ids_that_could_escape_are_refused(feed_id: str, tmp_path: Path):
    with pytest.raises(ConfigError):
        validate_feed_id(feed_id)
    with pytest.raises(ConfigError):
        get_config(feed_id, tmp_path)
    with pytest.raises(ConfigError):
        load_snapshots(str(tmp_path), feed_id)
    assert load_crosswalk(feed_id).version is None  # no file read outside


def test_cli_refuses_an_escaping_feed_id(tmp_path: Path):
    (tmp_path / "zz_hostile_config.yaml").write_text(SYNTHETIC_CONFIG)
    proc = run_cfs(
        tmp_path, tmp_path / "db.sqlite", tmp_path / "out", "crawl", "../../etc/passwd"
    )
    assert proc.returncode != 0
    assert "invalid feed id" in proc.stderr
    assert not (tmp_path / "db.sqlite").exists()


def test_config_file_with_a_bad_name_is_refused(tmp_path: Path):
    (tmp_path / "Zz-Evil..name.yaml").write_text(SYNTHETIC_CONFIG)
    configs, errors = load_all(tmp_path)
    assert configs == {} and "invalid feed id" in errors[0]


def test_replay_manifest_cannot_read_outside_its_folder(tmp_path: Path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"synthetic": "secret"}')
    feed = tmp_path / "replay" / "zz_hostile_config"
    feed.mkdir(parents=True)
    for name in ("../../secret.json", str(secret)):
        (feed / "manifest.yaml").write_text(
            "snapshots:\n  - captured_at: 2025-12-13T17:00:00Z\n"
            f"    responses:\n      - file: {name!r}\n"
        )
        load_snapshots.cache_clear()
        with pytest.raises(ReplayError, match="escapes"):
            snaps = load_snapshots(str(tmp_path / "replay"), "zz_hostile_config")
            for snap in snaps:  # recordings may be read lazily, when served
                for rec in snap.responses:
                    _ = rec.body


@pytest.mark.parametrize(
    "run_id", ["../../x", "a/b", "/abs", "..", ".hidden", "x\x00y", "a\\b", ""]
)
def test_run_ids_that_could_escape_are_refused(run_id: str):
    from cfs_spiders.ingest.spiderloader import spider_class

    with pytest.raises(ValueError):
        validate_run_id(run_id)
    cfg = load_config(_write(SYNTHETIC_CONFIG))
    if run_id:
        with pytest.raises(ValueError):
            spider_class(cfg)(run_id=run_id)


def test_real_run_ids_are_accepted():
    for run_id in (
        "wa_seattle_fire_realtime911-20251213T172812-abc123",
        "git-1f3a9c0e-2025-12-13T17:28:12Z",
        "zz_feed@snapshot+3",
    ):
        assert validate_run_id(run_id) == run_id


def _write(text: str) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cfs-hostile-"))
    path = folder / "zz_hostile_config.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------- XML

SECRET = "SYNTHETIC-SECRET-91c2"
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
 <!ENTITY l2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">
 <!ENTITY l4 "&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;">
 <!ENTITY l5 "&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;">
 <!ENTITY l6 "&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;">
 <!ENTITY l7 "&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;">
 <!ENTITY l8 "&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;">
 <!ENTITY l9 "&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;">]>
<incidents><incident id="1"><type>&l9;</type></incident></incidents>"""
QUADRATIC = (
    '<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "'
    + "a" * 50_000
    + '">]><incidents><incident id="1"><type>'
    + "&a;" * 50_000
    + "</type></incident></incidents>"
)


def xxe(path: Path) -> str:
    return (
        f'<?xml version="1.0"?><!DOCTYPE i [<!ENTITY x SYSTEM "file://{path}">]>'
        '<incidents><incident id="1"><type>&x;</type></incident></incidents>'
    )


def param_entity(path: Path) -> str:
    return (
        f'<?xml version="1.0"?><!DOCTYPE i [<!ENTITY % p SYSTEM "file://{path}">'
        "%p;]><incidents/>"
    )


def external_dtd(path: Path) -> str:
    return (
        f'<?xml version="1.0"?><!DOCTYPE incidents SYSTEM "file://{path}"><incidents/>'
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda p: LAUGHS,
        lambda p: QUADRATIC,
        xxe,
        param_entity,
        external_dtd,
    ],
    ids=[
        "billion_laughs",
        "quadratic_blowup",
        "xxe",
        "parameter_entity",
        "external_dtd",
    ],
)
def test_xml_entities_and_dtds_refused_without_expanding(tmp_path: Path, make):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    started = time.monotonic()
    with pytest.raises(DefusedXmlException) as caught:
        parse_xml(make(secret).encode())
    assert time.monotonic() - started < 2.0  # refused up front, not expanded
    assert SECRET not in str(caught.value)


def test_plain_xml_still_parses():
    root = parse_xml(
        b'<incidents><incident id="1"><type>FIRE</type></incident></incidents>'
    )
    assert root.find("incident/type").text == "FIRE"


# ------------------------------------------------- spreadsheet formula cells


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://example.invalid","x")',
        "+1+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "=1",
        "+",
        "-",
        "@",
    ],
)
def test_formula_cells_neutralized(value: str):
    cell = safe_cell(value)
    assert cell.startswith("'")
    assert not any(ch in cell for ch in "\t\r\n")


@pytest.mark.parametrize("value", ["-122.335167", "+47.6", "-0.5", "12", "1e-5"])
def test_plain_numbers_stay_numbers(value: str):
    assert safe_cell(value) == value


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_safe_cell_never_leaves_a_formula_or_control_character(text: str):
    cell = safe_cell(text)
    assert isinstance(cell, str)
    if cell.startswith(FORMULA_START):
        float(cell)  # only a plain number may start like a formula
    assert not any(ord(c) < 32 or ord(c) == 127 for c in cell)


def test_write_csv_neutralizes_header_and_cells(tmp_path: Path):
    path = tmp_path / "x.csv"
    write_csv(path, ["=evil_header", "ok"], [["=1+1", None], ["@x\n2", 3]])
    safe = tmp_path / "x_spreadsheet.csv"
    rows = list(csv.reader(safe.open(encoding="utf-8", newline="")))
    assert rows == [["'=evil_header", "ok"], ["'=1+1", ""], ["'@x 2", "3"]]
    # the faithful file keeps every value as published
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    assert rows == [["=evil_header", "ok"], ["=1+1", ""], ["@x\n2", "3"]]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.integers(),
                st.floats(allow_nan=False),
                st.text(),
                st.sampled_from(["=1+1", "-82.8", "@x", "a\tb", "ok", "\uffff=x"]),
            ),
            min_size=3,
            max_size=3,
        ),
        max_size=6,
    )
)
def test_write_csv_fast_rows_match_the_cell_by_cell_path(rows: list) -> None:
    """Synthetic rows: the whole-row check of ``plain`` rows (calls.csv) writes
    both files exactly as the per-cell path does."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        slow, fast = Path(tmp) / "slow.csv", Path(tmp) / "fast.csv"
        write_csv(slow, ["a", "b", "c"], rows)
        write_csv(fast, ["a", "b", "c"], rows, plain=True)
        assert fast.read_bytes() == slow.read_bytes()
        assert (Path(tmp) / "fast_spreadsheet.csv").read_bytes() == (
            Path(tmp) / "slow_spreadsheet.csv"
        ).read_bytes()


# -------------------------- end to end: a hostile feed through every export

HOSTILE_TITLE = 'Synthetic <script>alert("title")</script> calls'
PAYLOADS = {
    "Online_Description": [
        '=HYPERLINK("http://example.invalid","click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "\t=1+1",
        "\r=2+2",
        "<script>alert(1)</script>",
        "ALARM\x00\x07\x1b[31m",
    ],
    "Address": [
        "100 BLOCK <img src=x onerror=alert(1)> ST",
        "=1+2",
        "200 BLOCK \u202eMAIN",
        "300 BLOCK MAIN \x0b\x0c ST",
        "-400 BLOCK",
        "@500 BLOCK",
        "600 BLOCK \ud800",
        "700 BLOCK MAIN ST",
    ],
}


def hostile_body() -> bytes:
    import json

    calls = [
        {
            "Master_Incident_Number": f"=HOSTILE-{n}" if n == 0 else f"SYN-{n}",
            "Online_Description": PAYLOADS["Online_Description"][n],
            "Address": PAYLOADS["Address"][n],
            "Response_Date": f"2025-12-13T10:0{n}:00",
        }
        for n in range(8)
    ]
    # lone surrogate escape and invalid UTF-8 bytes, as a broken feed sends them
    return json.dumps(calls).encode().replace(b"MAIN ST", b"MAIN \xff\xfe ST", 1)


def build_hostile(folder: Path) -> None:
    configs, db, out = folder / "configs", folder / "cfs.sqlite", folder / "out"
    configs.mkdir()
    shutil.copy(ROOT / "city_configs" / "il_chicago_oemc.yaml", configs)
    with FaultServer() as srv:
        srv.route("/api/calls", Reply(body=hostile_body()))
        text = json_feed_config("zz_hostile_values", srv.url("/api/calls"))
        text = text.replace(
            "title: Synthetic active calls (zz_hostile_values)",
            f"title: '{HOSTILE_TITLE}'",
        )
        (configs / "zz_hostile_values.yaml").write_text(text)
        crawl = run_cfs(configs, db, out, "crawl", "--all")
        (folder / "crawl.txt").write_text(f"{crawl.returncode}\n{crawl.stderr}")
    export = run_cfs(configs, db, out, "export")
    compare = run_cfs(configs, db, out, "compare")
    (folder / "export.txt").write_text(f"{export.returncode}\n{export.stderr}")
    (folder / "compare.txt").write_text(f"{compare.returncode}\n{compare.stderr}")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_once(tmp_path_factory, "hostile", build_hostile)


def test_hostile_feed_is_crawled_and_stored(hostile: Path):
    code, _, stderr = (hostile / "crawl.txt").read_text().partition("\n")
    assert code == "0", stderr[-3000:]
    conn = sqlite3.connect(hostile / "cfs.sqlite")
    n = conn.execute(f"SELECT COUNT(*) FROM {CALLS_FROM}").fetchone()[0]
    conn.close()
    assert n == 8


def test_every_csv_export_neutralizes_formulas_and_control_chars(hostile: Path):
    """Each CSV export has a spreadsheet copy (``*_spreadsheet.csv``) where no
    cell runs as a formula, beside the faithful file."""
    for step in ("export", "compare"):
        code, _, stderr = (hostile / f"{step}.txt").read_text().partition("\n")
        assert code == "0", stderr[-3000:]
    names = {p.name for p in (hostile / "out").glob("*.csv")}
    faithful = {"calls.csv", "comparison.csv", "withheld.csv", "comparison_long.csv"}
    assert faithful <= names
    assert {n.replace(".csv", "_spreadsheet.csv") for n in faithful} <= names
    exports = sorted((hostile / "out").glob("*_spreadsheet.csv"))
    assert len(exports) == len(names) - len(exports)  # one copy per export
    seen_payload = False
    for path in exports:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    if cell.startswith(FORMULA_START):
                        float(cell)  # only plain numbers start like a formula
                    assert not any(ord(c) < 32 or ord(c) == 127 for c in cell), (
                        path.name,
                        cell,
                    )
                    seen_payload |= cell.startswith("'=HYPERLINK")
    assert seen_payload  # the payload did reach calls.csv, neutralized


def test_calls_csv_keeps_the_published_values(hostile: Path):
    """calls.csv is faithful: the hostile raw values read back exactly as the
    store holds them (datapackage.json describes them as the published value)."""
    with (hostile / "out" / "calls.csv").open(encoding="utf-8", newline="") as fh:
        published = {r["call_type_raw"] for r in csv.DictReader(fh)}
    conn = sqlite3.connect(hostile / "cfs.sqlite")
    stored = {r[0] for r in conn.execute(f"SELECT call_type_raw FROM {CALLS_FROM}")}
    conn.close()
    assert published == {v if v is not None else "" for v in stored}
    assert '=HYPERLINK("http://example.invalid","click")' in published
    assert "+1+cmd|' /C calc'!A0" in published
    package = (hostile / "out" / "datapackage.json").read_text(encoding="utf-8")
    assert "published (and stored) value, unaltered" in package


def test_report_escapes_html_from_feeds_and_configs(hostile: Path):
    page = (hostile / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(HOSTILE_TITLE, quote=True) in page


def test_no_csv_writer_in_the_package_bypasses_safe_cell():
    """A new CSV export must go through export.write_csv (or safe_cell)."""
    package = ROOT / "cfs_spiders"
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if any(w in text for w in ("csv.writer(", "DictWriter(", ".to_csv(")):
            assert "safe_cell" in text, f"{path.name} writes CSV without safe_cell"


# ---------------------------------------------------- permissions of exports


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_atomic_files_follow_the_umask(tmp_path: Path, mask: int):
    from cfs_spiders.exports.files import write_atomic

    old = os.umask(mask)
    try:
        write_csv(tmp_path / "a.csv", ["x"], [["1"]])
        write_atomic(tmp_path / "b.json", b"{}")
    finally:
        os.umask(old)
    for name in ("a.csv", "a_spreadsheet.csv", "b.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name


def test_every_output_file_is_readable_as_the_umask_says(hostile: Path):
    """calls.csv, the comparison CSVs, report.html, datapackage.json, run reports:
    the mode a new file gets under the crawl's umask, not mkstemp's 0600."""
    mask = os.umask(0)
    os.umask(mask)
    files = [p for p in (hostile / "out").rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"calls.csv", "report.html", "datapackage.json"} <= names
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path
