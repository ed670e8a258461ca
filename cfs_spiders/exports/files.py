"""Safe, atomic files: the CSV writer every export uses and the one atomic writer.

Every CSV the project writes goes through ``write_csv``, which writes two files
in one pass: ``<name>.csv``, faithful (UTF-8, a fixed column order, every value
exactly as published and stored: programs need the published value), and
``<name>_spreadsheet.csv``, the copy to open in a spreadsheet (cells a
spreadsheet would run as a formula get a leading apostrophe, control characters
and line breaks become spaces: see ``safe_cell``). Both are written to a
temporary file that replaces the old export only when complete (a crash
mid-export leaves the previous file intact). Every other file the project writes
whole (run reports, Datasette metadata, the comparison's JSON, HTML and PNG)
goes through ``atomic_open`` / ``write_atomic`` too, with the permissions the
user's umask gives a new file (0644 under umask 022), not the temporary file's
private 0600.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NEWLINES = re.compile(r"[\r\n\t]+")


def safe_cell(value: Any) -> Any:
    """A value a spreadsheet shows as text, never runs.

    Strings starting with ``= + - @``, a tab or a carriage return get a leading
    apostrophe (OWASP's advice), unless they are plain numbers such as a negative
    longitude; control characters and line breaks become spaces.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        text = "'" + text
    text = _CONTROL.sub(" ", text)
    return _NEWLINES.sub(" ", text)


# A string ``safe_cell`` returns unchanged: no formula start, no control character.
_PLAIN = re.compile(r"(?![=+\-@\t\r])[^\x00-\x1f\x7f]*\Z").match


# Any text cell of a row that ``safe_cell`` would change: one starting like a
# formula, or holding a control character or line break. The cells are joined
# after U+FFFF (a noncharacter, never in published text) for a few substring
# tests and one character-class search a row.
_JOIN = "\uffff"
_STARTS = tuple(_JOIN + c for c in _FORMULA_START)
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f]").search


def _has_cr(row: Sequence[Any]) -> bool:
    return any(v.__class__ is str and "\r" in v for v in row)


def _cr_line(row: Sequence[Any]) -> str:
    """The line ``csv.writer`` would write for ``row``, but with a cell holding
    a carriage return quoted too. ``csv.writer`` quotes only the characters of
    its ``\\n`` line terminator, and a bare CR inside a cell splits the row for
    pandas, spreadsheets and most CSV readers."""
    cells = []
    for v in row:
        text = "" if v is None else str(v)
        if any(c in text for c in ',"\n\r'):
            text = '"' + text.replace('"', '""') + '"'
        cells.append(text)
    if len(cells) == 1 and cells[0] == "":
        cells[0] = '""'
    return ",".join(cells) + "\n"


def _row_needs_care(row: Sequence[Any]) -> bool:
    """Whether some value of the row is not written as it is by ``safe_cell``
    (any text cell needing it, or a value that is not text, a number or None)."""
    texts = [_JOIN]
    for v in row:
        t = v.__class__
        if t is str:
            texts.append(v)
        elif v is not None and t is not int and t is not float:
            return True
    joined = _JOIN.join(texts)
    return any(s in joined for s in _STARTS) or _CONTROL_ANY(joined) is not None


_UMASK_LOCK = threading.Lock()


def new_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the process umask
    (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return 0o666 & ~mask


def _faithful(value: Any) -> Any:
    """A value as stored: None empty, booleans as ``true``/``false`` (as in the
    spreadsheet copy), everything else unchanged."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return value


def spreadsheet_path(path: Path) -> Path:
    """Where the spreadsheet-safe copy of a CSV export goes."""
    path = Path(path)
    return path.with_name(f"{path.stem}_spreadsheet{path.suffix}")


@contextmanager
def atomic_open(path: Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """A file to write that replaces ``path`` only once complete: a temporary file
    beside it, flushed to disk, then renamed over it. A crash (or an exception)
    part way leaves the previous file as it was and no temporary file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())  # mkstemp's 0600 would survive the rename
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> Path:
    """Write bytes to a temporary file beside ``path``, then rename over it."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_csv(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    spreadsheet: bool = True,
    plain: bool = False,
) -> int:
    """Write ``path`` faithful and (``spreadsheet``) its spreadsheet-safe copy
    (``spreadsheet_path``), both atomically; return the number of data rows.

    ``plain``: the caller promises that no value is a boolean (its rows are
    written faithful as they are: ``None`` is an empty cell, as ``_faithful``
    makes it), so a row whose text cells are all plain goes to both files
    without a look at each cell."""
    count = 0
    cell = safe_cell
    plain_text = _PLAIN
    with ExitStack() as stack:
        raw_file = stack.enter_context(
            atomic_open(
                path, "w", encoding="utf-8", newline="", errors="backslashreplace"
            )
        )
        raw = csv.writer(raw_file, lineterminator="\n")
        safe = (
            csv.writer(
                stack.enter_context(
                    atomic_open(
                        spreadsheet_path(path),
                        "w",
                        encoding="utf-8",
                        newline="",
                        errors="backslashreplace",
                    )
                ),
                lineterminator="\n",
            )
            if spreadsheet
            else None
        )
        raw.writerow(["" if c is None else c for c in columns])
        if safe is not None:
            safe.writerow([safe_cell(c) for c in columns])
        for row in rows:
            care = _row_needs_care(row)
            faithful = row if plain else [_faithful(v) for v in row]
            if care and _has_cr(faithful):
                raw_file.write(_cr_line(faithful))
            else:
                raw.writerow(faithful)
            if safe is not None:
                if plain and not care:
                    safe.writerow(row)
                else:
                    # safe_cell of each value; None and plain text inline
                    safe.writerow(
                        [
                            ""
                            if v is None
                            else v
                            if v.__class__ is str and plain_text(v) is not None
                            else cell(v)
                            for v in row
                        ]
                    )
            count += 1
    return count
