"""The process that reads a SQLite store as Arrow batches, through the ADBC
SQLite driver, for a parent that holds the same store open in Python's
``sqlite3`` (``arrow_reader.py``).

Why a process of its own: the ADBC driver carries its own copy of SQLite. Two
copies of SQLite in one process break each other's locks on the same database
(POSIX file locks belong to the process, so neither copy sees the other's;
https://www.sqlite.org/howtocorrupt.html section 2.2.1): the driver's first
connection takes itself for the only user of the WAL index and resets it under
the other copy. Measured in this project's tests: a bus error (the WAL index
truncated while it was mapped) or ``no such table: calls`` (a read that missed
the WAL) in about one export in ten while another connection committed. In a
process of its own the driver's locks are seen by every other connection.

The protocol, on stdin and stdout: a query is one JSON line ``{"sql": ...,
"rows": N}``; the answer is frames of a one-byte tag and an eight-byte
little-endian length: ``S`` the Arrow schema, ``B`` one record batch (Arrow
IPC messages), then ``D`` (done) or ``E`` (the driver's error, UTF-8 text). The
process ends when stdin closes. It imports only pyarrow and the driver.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import Any, BinaryIO

HEADER = struct.Struct("<cQ")


def _frame(out: BinaryIO, tag: bytes, payload: Any = b"") -> None:
    out.write(HEADER.pack(tag, len(payload)))
    if len(payload):
        out.write(payload)


def _answer(conn: Any, query: dict[str, Any], out: BinaryIO) -> None:
    import adbc_driver_manager
    import pyarrow as pa

    stmt = adbc_driver_manager.AdbcStatement(conn)
    try:
        stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(int(query["rows"]))})
        stmt.set_sql_query(query["sql"])
        handle, _ = stmt.execute_query()
        reader = pa.RecordBatchReader._import_from_c(handle.address)
        _frame(out, b"S", reader.schema.serialize())
        for batch in reader:
            _frame(out, b"B", batch.serialize())
    finally:
        stmt.close()


def main(uri: str) -> None:
    import adbc_driver_manager
    import adbc_driver_sqlite

    out = sys.stdout.buffer
    db = adbc_driver_sqlite.connect(uri)
    conn = adbc_driver_manager.AdbcConnection(db)
    # the driver sets no busy timeout: a read that starts while another
    # connection recovers the WAL waits, as the store's own connections do
    stmt = adbc_driver_manager.AdbcStatement(conn)
    stmt.set_sql_query("PRAGMA busy_timeout = 60000")
    stmt.execute_update()
    stmt.close()
    for line in sys.stdin.buffer:
        try:
            _answer(conn, json.loads(line), out)
        except Exception as exc:  # noqa: BLE001 - the parent reads it otherwise
            _frame(out, b"E", f"{type(exc).__name__}: {exc}".encode())
        else:
            _frame(out, b"D")
        out.flush()
    conn.close()
    db.close()


if __name__ == "__main__":
    main(sys.argv[1])
