"""A Datasette plugin: the SQL function ``cfs_raw(raw_dict, raw_deflate)`` on
every connection, so that a Datasette user reads the compressed raw records of
``observations`` (and the ``call_raw`` view) as JSON text.

Registered with cfs (``[project.entry-points.datasette]`` in pyproject.toml): a
Datasette installed beside cfs loads it. Without installing cfs, put a file
containing ``from cfs_spiders.exports.datasette_raw import prepare_connection``
in a folder and pass it as ``datasette --plugins-dir FOLDER``.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from ..store.raw import install_sql_function


@hookimpl
def prepare_connection(conn: Any) -> None:
    install_sql_function(conn)
