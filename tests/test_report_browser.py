"""The report in a real headless browser: loads clean, image renders, one row per feed.

Chromium is driven over the Chrome DevTools Protocol (a websocket), which reports
every console message, uncaught exception and browser log entry (failed loads,
Content-Security-Policy violations) as an event, so "no console errors" is read
from the browser itself rather than scraped from its stderr.

Skipped when there is no chromium binary ($CFS_CHROMIUM, else /usr/bin/chromium),
unless CFS_REQUIRE_SERVICES=1, which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from cfs_spiders.config.loader import load_all
from tests.conftest import run_cfs

pytestmark = pytest.mark.browser


def chromium_binary() -> str | None:
    for candidate in (
        os.environ.get("CFS_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _require_chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CFS_REQUIRE_SERVICES") == "1":
            pytest.fail(
                "CFS_REQUIRE_SERVICES=1 but no chromium binary "
                "($CFS_CHROMIUM or /usr/bin/chromium)"
            )
        pytest.skip("no chromium binary ($CFS_CHROMIUM or /usr/bin/chromium)")
    try:
        import websocket  # noqa: F401  (websocket-client, a dev dependency)
    except ImportError:
        if os.environ.get("CFS_REQUIRE_SERVICES") == "1":
            pytest.fail("CFS_REQUIRE_SERVICES=1 but websocket-client is missing")
        pytest.skip("websocket-client is not installed")
    return binary


class DevTools:
    """A headless chromium and one page, over the DevTools protocol."""

    def __init__(self, binary: str, profile: Path) -> None:
        import websocket  # websocket-client

        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--user-data-dir={profile}",
                "--window-size=1400,1000",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = (
                    self.proc.stderr.read().decode(errors="replace")
                    if (self.proc.poll() is not None)
                    else "timeout"
                )
                self.close()
                raise RuntimeError(f"chromium did not start: {err[-2000:]}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/json/list", timeout=10
        ) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(method)
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        self.ws.settimeout(30)

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive in the next few seconds."""
        import websocket

        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.ws.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)
        self.ws.settimeout(30)

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def errors(self) -> list[str]:
        found = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "assert",
            ):
                found.append(f"console.{p['type']}: {p.get('args')}")
            elif e["method"] == "Runtime.exceptionThrown":
                found.append(f"exception: {p.get('exceptionDetails')}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                found.append(f"log: {p['entry'].get('text')} {p['entry'].get('url')}")
        return found

    def close(self) -> None:
        try:
            if getattr(self, "ws", None):
                with contextlib.suppress(Exception):
                    self.send("Browser.close")
                self.ws.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_chromium()
    tmp = tmp_path_factory.mktemp("report_browser")
    out = tmp / "output"
    proc = run_cfs(
        "--db",
        str(tmp / "cfs.sqlite"),
        "--output",
        str(out),
        "run",
        "--replay",
        check=False,
    )
    assert proc.returncode in (0, 2), proc.stderr[-5000:]
    path = out / "report.html"
    assert path.is_file(), proc.stderr[-3000:]
    return path


@pytest.fixture(scope="module")
def loaded(report_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    browser = DevTools(_require_chromium(), tmp_path_factory.mktemp("chromium"))
    try:
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            browser.send(domain)
        browser.send("Page.navigate", url=report_path.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        browser.drain(1.0)
        facts = browser.evaluate("""(() => {
          const img = document.querySelector('img#heatmap');
          const box = img ? img.getBoundingClientRect() : null;
          const rows = [...document.querySelectorAll('#comparison tbody tr')];
          return {
            title: document.title,
            img: img ? {complete: img.complete, naturalWidth: img.naturalWidth,
                        naturalHeight: img.naturalHeight, width: box.width,
                        height: box.height} : null,
            rows: rows.length,
            feeds: rows.map(r => r.dataset.feed),
            chicagoRows: document.querySelectorAll('#comparison tr.chicago').length,
            withheldRows: document.querySelectorAll('#withheld tbody tr').length,
            resources: performance.getEntriesByType('resource').map(e => e.name),
          };
        })()""")
        shot = browser.send("Page.captureScreenshot", format="png")
        facts["screenshot"] = shot.get("data", "")
        facts["errors"] = browser.errors()
        return facts
    finally:
        browser.close()


def test_report_loads_without_console_errors(loaded: dict) -> None:
    assert loaded["errors"] == []
    assert loaded["resources"] == []  # nothing fetched: no network assets
    assert "Chicago" in loaded["title"]


def test_heatmap_renders_with_nonzero_size(loaded: dict) -> None:
    img = loaded["img"]
    assert img is not None
    assert img["complete"]
    assert img["naturalWidth"] > 0 and img["naturalHeight"] > 0
    assert img["width"] > 0 and img["height"] > 0


def test_table_has_one_row_per_feed_plus_chicago(loaded: dict) -> None:
    configs, _ = load_all()
    assert loaded["rows"] == len([c for c in configs.values() if c.has_feed]) + 1
    assert sorted(loaded["feeds"]) == sorted(configs)
    assert loaded["feeds"][-1] == "il_chicago_oemc"
    assert loaded["chicagoRows"] == 1
    assert loaded["withheldRows"] == 12


def test_screenshot_is_not_blank(loaded: dict) -> None:
    import base64

    png = base64.b64decode(loaded["screenshot"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


# The main table (places x elements) must show every element column, whole, at a
# phone width, a desktop width and on a printed landscape letter page.
_COLUMNS_JS = """(() => {
  const table = document.querySelector('#places-table');
  if (!table) return {missing: true};
  const width = document.documentElement.clientWidth;
  const heads = [...table.querySelectorAll('thead th')].map(th => {
    const r = th.getBoundingClientRect();
    const style = getComputedStyle(th);
    return {text: th.textContent.trim(), left: r.left, right: r.right,
            width: r.width, hidden: style.display === 'none' ||
            style.visibility === 'hidden'};
  });
  const box = table.getBoundingClientRect();
  const tables = [...document.querySelectorAll('table')].map(t => {
    const wrap = t.closest('.wrap');
    return {id: t.id, right: t.getBoundingClientRect().right,
            scrolls: !!wrap && ['auto', 'scroll'].includes(
              getComputedStyle(wrap).overflowX)};
  });
  return {width, right: box.right, heads, tables,
          scrollWidth: document.documentElement.scrollWidth};
})()"""


def _check_columns(facts: dict, where: str) -> None:
    assert not facts.get("missing"), f"{where}: no #places-table"
    names = [h["text"] for h in facts["heads"]]
    assert len(names) == 13, (where, names)  # place + the 12 elements
    for h in facts["heads"]:
        assert not h["hidden"] and h["width"] > 4, (where, h)
        assert h["left"] >= -0.5 and h["right"] <= facts["width"] + 0.5, (where, h)
    assert facts["right"] <= facts["width"] + 0.5, (where, facts["right"])


def _check_tables(facts: dict, where: str) -> None:
    """Printed, every table fits the page; on screen, none runs off the page:
    a table wider than the screen scrolls inside its own box."""
    for t in facts["tables"]:
        fits = t["right"] <= facts["width"] + 0.5
        if where == "print":
            assert fits, (where, t)
        else:
            assert fits or t["scrolls"], (where, t)
    if where != "print":
        assert facts["scrollWidth"] <= facts["width"] + 1, (where, facts["scrollWidth"])


@pytest.fixture(scope="module")
def layouts(report_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    browser = DevTools(_require_chromium(), tmp_path_factory.mktemp("chromium_lay"))
    try:
        browser.send("Page.enable")
        found: dict[str, Any] = {}
        # letter landscape minus the 12 mm @page margins, at 96 px per inch
        print_width = round((11 - 2 * 12 / 25.4) * 96)
        for name, width, media in (
            ("phone", 390, "screen"),
            ("desktop", 1400, "screen"),
            ("print", print_width, "print"),
        ):
            browser.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=900,
                deviceScaleFactor=1,
                mobile=name == "phone",
            )
            browser.send("Emulation.setEmulatedMedia", media=media)
            browser.events.clear()
            browser.send("Page.navigate", url=report_path.resolve().as_uri())
            browser.wait_for("Page.loadEventFired")
            found[name] = browser.evaluate(_COLUMNS_JS)
        pdf = browser.send(
            "Page.printToPDF",
            landscape=True,
            paperWidth=11,
            paperHeight=8.5,
            preferCSSPageSize=True,
            printBackground=True,
        )
        found["pdf"] = pdf.get("data", "")
        return found
    finally:
        browser.close()


@pytest.mark.parametrize("where", ["phone", "desktop", "print"])
def test_main_table_shows_every_element_column(layouts: dict, where: str) -> None:
    _check_columns(layouts[where], where)


@pytest.mark.parametrize("where", ["phone", "desktop", "print"])
def test_no_table_is_cut(layouts: dict, where: str) -> None:
    _check_tables(layouts[where], where)


def test_check_fails_when_a_column_is_cut() -> None:
    # synthetic layout facts: the last column runs past the page edge
    heads = [
        {
            "text": str(i),
            "left": i * 10.0,
            "right": i * 10.0 + 9,
            "width": 9,
            "hidden": False,
        }
        for i in range(13)
    ]
    facts = {"width": 100, "right": 129, "heads": heads}
    with pytest.raises(AssertionError):
        _check_columns(facts, "synthetic")
    wide = {
        "width": 100,
        "scrollWidth": 100,
        "tables": [{"id": "comparison", "right": 300, "scrolls": True}],
    }
    _check_tables(wide, "desktop")  # scrolls in its own box: not cut
    with pytest.raises(AssertionError):
        _check_tables(wide, "print")  # on paper nothing scrolls


def test_report_prints_to_pdf(layouts: dict) -> None:
    import base64

    pdf = base64.b64decode(layouts["pdf"])
    assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000
