"""Config-schema options of the html_table platform (``parse.tables``,
``parse.scripts``): kept apart from ``schema.py`` so each platform's options read
as one block. What they do: ``ingest/html_parse.py``; examples: README "Adding a
city"."""

from __future__ import annotations


def _d(spec: dict, text: str) -> dict:
    return {**spec, "description": text}


def html_parse_properties() -> dict:
    """html_table: the sources of a page (tables, script literals); see
    ``ingest/html_parse.py`` and README "Adding a city"."""
    add_fields = _d(
        {"type": "object", "additionalProperties": {"$ref": "#/$defs/field_spec"}},
        "Raw fields added to each row: a mapping spec over the row's fields "
        "(`{const: Fire}` names the table a row came from; steps derive a key).",
    )
    required = _d(
        {"type": "boolean"},
        "Default true: a page without this source fails (the layout changed).",
    )
    table = {
        "type": "object",
        "additionalProperties": False,
        "required": ["xpath"],
        "properties": {
            "name": _d({"type": "string"}, "Source name (exclusions, reports)."),
            "xpath": _d(
                {"type": "string"},
                "XPath of the table element(s); every match is read with this "
                "spec (several tables, one shared layout).",
            ),
            "row_xpath": _d(
                {"type": "string"},
                "Rows relative to the table; default its own rows, not those of "
                "tables nested in cells.",
            ),
            "cell_xpath": _d({"type": "string"}, "Cells of a row; default ./td."),
            "columns": _d(
                {"type": "array", "items": {"type": ["string", "null"]}},
                "Raw field names by cell position (null skips a cell); tables "
                "without a header row need nothing else. Over several rows per "
                "record, positions run on across the record's rows.",
            ),
            "header_rows": _d(
                {"type": "integer", "minimum": 0}, "Leading rows that are headers."
            ),
            "expect_header": _d(
                {"type": "array", "items": {"type": "string"}},
                "Texts of the first row's cells; another header fails the run "
                "(a column was added, removed or moved). Implies header_rows >= 1.",
            ),
            "min_cells": {"type": "integer", "minimum": 1},
            "rows_per_record": _d(
                {"type": "integer", "minimum": 1},
                "Records spanning a fixed number of rows (after spacer rows).",
            ),
            "record_start_xpath": _d(
                {"type": "string"},
                "A row matching this (relative) XPath starts a record; the rows "
                "up to the next start belong to it.",
            ),
            "skip_row_xpath": _d(
                {"type": "string"},
                "Rows to drop (pager, totals). Rows whose cells are all blank "
                "(spacers) are always dropped.",
            ),
            "cell_links": _d(
                {"type": "object", "additionalProperties": {"type": "string"}},
                "column -> raw field receiving the href of the cell's first link.",
            ),
            "cell_class_field": _d(
                {"type": "string"},
                "Raw field receiving the CSS class of the row's first cell.",
            ),
            "empty_text": _d(
                {"type": "string"},
                "Regex of the table's empty-state text: no rows then means no "
                "calls, not a changed layout.",
            ),
            "add_fields": add_fields,
            "required": required,
        },
    }
    script = {
        "type": "object",
        "additionalProperties": False,
        "required": ["pattern"],
        "properties": {
            "name": _d({"type": "string"}, "Source name (exclusions, reports)."),
            "xpath": _d({"type": "string"}, "Script texts; default //script/text()."),
            "pattern": _d(
                {"type": "string"},
                "Regex locating the literal in a script: it starts at the end of "
                "the match (or at group 1). Parsed with chompjs, never run.",
            ),
            "path": _d(
                {"type": "string"},
                "Dotted path in the literal to the list of records ('' = itself).",
            ),
            "add_fields": add_fields,
            "join": _d(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key", "table_key"],
                    "properties": {
                        "key": {"type": "string"},
                        "table_key": {"type": "string"},
                        "as": {"type": "string"},
                    },
                },
                "Attach each script row to the table rows whose field "
                "`table_key` equals its field `key`, under `as` (default the "
                "source name; read it with a dotted path, `marker.Latitude`). "
                "Without join the rows "
                "are records of their own.",
            ),
            "required": required,
        },
    }
    return {
        "tables": _d(
            {"type": "array", "items": table, "minItems": 1},
            "html_table: the tables holding calls, each with its own layout.",
        ),
        "scripts": _d(
            {"type": "array", "items": script, "minItems": 1},
            "html_table: JavaScript array/object literals holding calls.",
        ),
        "empty_text": _d(
            {"type": "string"},
            "html_table (single row_xpath): regex of the page's empty-state text.",
        ),
    }
