"""A scripted HTTP server on 127.0.0.1 for fault tests (synthetic responses only).

Each route (a URL path) answers with a script of replies, served in order, the last
one repeated: a status, headers and body, optionally after a delay, cut short
(truncated), or refused with a TCP reset. ``robots.txt`` is one more route (404
unless set). Every request is logged (path, query, headers, arrival and end time),
and the server tracks how many requests were in flight at once.

The crawl under test runs in a subprocess (a Twisted reactor runs once per process);
this server runs on threads in the test process. Nothing here touches the network
beyond the loopback interface, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    delay: float = 0.0  # seconds before the status line (a slow or hung server)
    reset: bool = False  # answer nothing: close the socket with a TCP reset
    truncate: int | None = None  # send only this many body bytes, then close
    content_length: bool = True  # False: no Content-Length, the body ends at close

    @property
    def data(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


def json_reply(value: Any, **kwargs: Any) -> Reply:
    return Reply(body=json.dumps(value), **kwargs)


Responder = Callable[[dict[str, str]], Reply]


@dataclass
class Hit:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    start: float
    end: float | None = None
    status: int | None = None


class FaultServer:
    """``with FaultServer() as srv: srv.route("/calls.json", Reply(503))``."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Reply | Responder]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.hits: list[Hit] = []
        self.inflight = 0
        self.max_inflight = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ---------------------------------------------------------------- script
    def route(self, path: str, *replies: Reply | Responder) -> FaultServer:
        """Answer ``path`` with these replies in order (the last one repeats)."""
        with self._lock:
            self._routes[path] = list(replies)
            self._served[path] = 0
        return self

    def robots(self, text: str) -> FaultServer:
        return self.route("/robots.txt", Reply(body=text, content_type="text/plain"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_to(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [h.__dict__.copy() for h in self.hits]

    # -------------------------------------------------------------- lifecycle
    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---------------------------------------------------------------- serving
    def _next(self, path: str, query: dict[str, str]) -> Reply:
        with self._lock:
            script = self._routes.get(path)
            if not script:
                return Reply(404, b"not found", content_type="text/plain")
            i = self._served[path]
            self._served[path] = i + 1
            item = script[min(i, len(script) - 1)]
        return item(query) if callable(item) else item

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                hit = Hit(parts.path, query, dict(self.headers.items()), time.time())
                with server._lock:
                    server.hits.append(hit)
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    reply = server._next(parts.path, query)
                    hit.status = reply.status
                    self._answer(reply)
                except (BrokenPipeError, ConnectionResetError):
                    # the client hung up (a timeout, a cancelled oversized download)
                    self.close_connection = True
                finally:
                    hit.end = time.time()
                    with server._lock:
                        server.inflight -= 1

            def _answer(self, reply: Reply) -> None:
                if reply.delay and server._stop.wait(reply.delay):
                    return
                if reply.reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                data = reply.data
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                if reply.content_length:
                    self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if reply.truncate is not None:
                    self.wfile.write(data[: reply.truncate])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

        return Handler


def gaps(hits: Iterable[Hit]) -> list[float]:
    """Seconds between consecutive request arrivals."""
    starts = sorted(h.start for h in hits)
    return [b - a for a, b in zip(starts, starts[1:], strict=False)]


# ------------------------------------------------------------------ the crawler

# Fast but otherwise default settings for crawls against the fault server: no
# fixed delay, AutoThrottle on from a small start delay, short timeouts, two
# retries with a measurable backoff.
FAST_ENV = {
    "CFS_DOWNLOAD_DELAY": "0",
    "CFS_AUTOTHROTTLE_START_DELAY": "0",
    "CFS_DOWNLOAD_TIMEOUT": "1.5",
    "CFS_RETRY_TIMES": "2",
    "CFS_BACKOFF_BASE": "0.4",
    "CFS_BACKOFF_MAX": "5",
    "CFS_LOG_LEVEL": "INFO",
}


def cfs_command(configs: Path, db: Path, out: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cfs_spiders.cli",
        "--configs",
        str(configs),
        "--db",
        str(db),
        "--output",
        str(out),
        *args,
    ]


def run_cfs(
    configs: Path,
    db: Path,
    out: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess; never raises on a non-zero exit."""
    full_env = {**os.environ, **FAST_ENV, **(env or {})}
    full_env.pop("CFS_REPLAY_DIR", None)
    full_env.pop("CFS_DATABASE_URL", None)
    return subprocess.run(
        cfs_command(configs, db, out, *args),
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kill9(proc: subprocess.Popen) -> None:
    """SIGKILL a process (no cleanup of any kind runs) and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# ------------------------------------------------------------ synthetic configs


def json_feed_config(
    feed_id: str, url: str, *, board: str = "active_calls", extra: str = ""
) -> str:
    """A synthetic feed config shaped like Clearwater's JSON active-calls list."""
    return f"""# synthetic feed for the fault tests: {feed_id}
config_version: 1
agency: Synthetic Police Department
city: Synthetic
state: ZZ
title: Synthetic active calls ({feed_id})
platform: json
urls:
  - {url}
time_zone: America/New_York
location_policy:
  address: block
  coordinates: none
liveness: live
board: {board}
update_interval_minutes: 5
verified_against_capture: false
capture:
  kind: none
  origin: synthetic (tests/faultserver.py)
parse:
  records_path: ["", "calls"]
record:
  call_id: Master_Incident_Number
  dispatched_at: Response_Date
  address: Address
  call_type: Online_Description
{extra}"""


def socrata_feed_config(
    feed_id: str,
    url: str,
    *,
    page_size: int = 2,
    board: str = "active_calls",
    extra: str = "",
) -> str:
    return f"""# synthetic Socrata feed for the fault tests: {feed_id}
config_version: 1
agency: Synthetic Fire Department
city: Synthetic
state: ZZ
title: Synthetic Socrata calls ({feed_id})
platform: socrata
urls:
  - {url}
time_zone: America/Los_Angeles
location_policy:
  address: block
  coordinates: none
liveness: live
board: {board}
update_interval_minutes: 5
verified_against_capture: false
capture:
  kind: none
  origin: synthetic (tests/faultserver.py)
request:
  page_size: {page_size}
  order: incident_number
record:
  call_id: incident_number
  received_at: datetime
  address: address
  call_type: type
{extra}"""


def arcgis_feed_config(feed_id: str, url: str, *, extra: str = "") -> str:
    return f"""# synthetic ArcGIS feed for the fault tests: {feed_id}
config_version: 1
agency: Synthetic Sheriff
city: Synthetic
state: ZZ
title: Synthetic ArcGIS incidents ({feed_id})
platform: arcgis
urls:
  - {url}
time_zone: America/Chicago
location_policy:
  address: block
  coordinates: exact
liveness: live
board: active_calls
update_interval_minutes: 5
verified_against_capture: false
capture:
  kind: none
  origin: synthetic (tests/faultserver.py)
record:
  call_id: EventNumber
  received_at:
    field: CallTime
    epoch: ms
  address: Address
  call_type: Nature
  latitude: geometry.y
  longitude: geometry.x
{extra}"""


def xml_feed_config(feed_id: str, url: str) -> str:
    return f"""# synthetic XML feed for the hostile-input tests: {feed_id}
config_version: 1
agency: Synthetic Fire Rescue
city: Synthetic
state: ZZ
title: Synthetic XML incidents ({feed_id})
platform: xml
urls:
  - {url}
time_zone: America/Chicago
location_policy:
  address: block
  coordinates: none
liveness: live
board: active_calls
update_interval_minutes: 5
verified_against_capture: false
capture:
  kind: none
  origin: synthetic (tests/faultserver.py)
parse:
  record_path: incident
  fields:
    id: "@id"
    type: type
    address: address
record:
  call_id: id
  address: address
  call_type: type
"""


def synthetic_calls(ids: Iterable[str]) -> list[dict[str, str]]:
    """Clearwater-shaped synthetic calls."""
    types = ["911 HANG-UP", "TRAFFIC ACCIDENT", "DISTURBANCE", "ALARM"]
    return [
        {
            "Master_Incident_Number": f"SYN-{i}",
            "Online_Description": types[n % len(types)],
            "Address": f"{(n + 1) * 100} BLOCK MAIN ST",
            "Response_Date": f"2025-12-13T10:{n % 60:02d}:00",
        }
        for n, i in enumerate(ids)
    ]


# --------------------------------------------------- one crawl per test session


def run_once(tmp_path_factory: Any, name: str, build: Callable[[Path], None]) -> Path:
    """Run ``build(folder)`` once per test session, even across pytest-xdist
    workers (they share the session's base temp folder; a file lock orders them),
    and return the folder with what it left."""
    import fcntl
    import shutil

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / ".done").is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                build(folder)
                (folder / ".done").write_text("done")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def save_hits(servers: dict[str, FaultServer], path: Path) -> None:
    """Every server's request log as JSON (read by tests on other workers)."""
    path.write_text(json.dumps({k: s.log() for k, s in servers.items()}, indent=1))


def load_hits(path: Path) -> dict[str, list[Hit]]:
    data = json.loads(path.read_text())
    return {k: [Hit(**h) for h in hits] for k, hits in data.items()}
