"""How the feed spider builds a page's records: by rows (the reference) or by
columns (``records/columnar.py``), set up at the first page big enough for it.

Why a module of its own: the page path costs a cold process polars and the
compiled mapping (about 0.3 s); a poll of a few rows (an unchanged incremental
poll) is built by rows and never loads them. Counts say which path built each
page (``record_pages:<path>``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.http import Response

from ...config.loader import FeedConfig
from ...records.builder import RecordBuilder, merge_rows

if TYPE_CHECKING:
    from ...records.columnar import ColumnarBuilder

log = logging.getLogger(__name__)


class PageBuildMixin:
    """Needs the spider's ``run``, ``config``, ``builder``, ``columnar``,
    ``columnar_min_rows``, ``_columnar_pending`` and ``name``."""

    run: Any
    config: FeedConfig
    builder: RecordBuilder | None
    columnar: ColumnarBuilder | None
    columnar_min_rows: int
    _columnar_pending: tuple[bool, str | None] | None
    name: str
    # the record columns of the slice ``build_records`` built last, as Arrow
    # (``records/colarrow.py``); None when built by rows
    page_columns: Any = None

    def build_records(
        self, raw_records: list[Any], start: int, end: int, response: Response
    ) -> tuple[Any, bool]:
        """Common records of ``raw_records[start:end]`` (each raw row is let go
        once built); one bad record never stops the rest. And whether the floats
        the builder put in them are known finite (by columns: seen per column;
        by rows: not known, ``items.RecordBatch.finite``). Built by columns,
        the records are a ``colpage.ColumnPage`` (dicts made only if asked
        for), else a list of dicts."""
        assert self.run is not None and self.builder is not None
        self.page_columns = None  # the slice's columns, when built by columns
        n = min(end, len(raw_records)) - start
        if n >= self.columnar_min_rows and self._columnar_pending is not None:
            self._set_up_columnar(*self._columnar_pending)
        run, build = self.run, self.builder.build
        if self.columnar is not None:
            if n >= self.columnar_min_rows:
                got = self._build_columnar(raw_records, start, end, response)
                if got is not None:
                    return got
            elif n > 0:  # a small page: by rows (CFS_COLUMNAR_MIN_ROWS)
                self._count_page("reference")
        elif n > 0 and self._columnar_pending is not None:
            self._count_page("reference")  # small, before any page by columns
        built = []
        for index in range(start, min(end, len(raw_records))):
            raw, raw_records[index] = raw_records[index], None
            try:
                built.append(
                    build(
                        raw,
                        fetched_at=run.fetched_at,
                        source_url=response.url,
                        run_id=run.run_id,
                    )
                )
            except Exception as exc:  # one bad record never stops the feed
                run.bad_records += 1
                run.errors.append(
                    f"record {index} of {response.url}: {type(exc).__name__}: {exc}"
                )
                log.warning("%s: record %d skipped: %s", self.name, index, exc)
        return built, False

    def _merge(self, built: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A page's unit rows merged per call, by columns on the page path."""
        rows_per = self.config.get("rows_per", "call")
        if self.columnar is None:
            return merge_rows(built, rows_per)
        from ...records.colrows import merge_page

        return merge_page(built, rows_per)

    def _set_up_columnar(self, replay: bool, record_path: str | None) -> None:
        """The page path of this feed, once (``CFS_RECORD_PATH=reference`` or a
        mapping that does not compile: none). Its row builder takes over from
        the one of the pages built so far, with their counts."""
        from ...records.columnar import ColumnarBuilder, columnar_enabled

        self._columnar_pending = None
        if not columnar_enabled(record_path):
            return
        columnar = ColumnarBuilder(self.config, replay=replay)
        if not columnar.compiled:
            log.info("%s: row builder (%s)", self.name, columnar.fallback)
            return
        assert self.builder is not None
        columnar.counts.update(self.builder.counts)
        self.columnar, self.builder = columnar, columnar.reference

    def _build_columnar(
        self, raw_records: list[Any], start: int, end: int, response: Response
    ) -> tuple[Any, bool] | None:
        """The slice built by columns (and whether its floats are finite), or
        None (nothing consumed) when the page does not fit (mixed value types, a
        non-dict row): the rows then go to the row builder, which skips a bad
        record without losing the rest."""
        from ...records.columnar import PageFallback

        assert self.run is not None and self.columnar is not None
        raws = raw_records[start:end]
        counts = self.columnar.counts.copy()
        try:
            if not all(issubclass(k, dict) for k in set(map(type, raws))):
                raise PageFallback("a raw record that is not a mapping")
            built, finite = self.columnar.build_page_columns(
                raws,
                fetched_at=self.run.fetched_at,
                source_url=response.url,
                run_id=self.run.run_id,
            )
        except Exception as exc:  # the row builder is the reference: use it
            self.columnar.counts.clear()
            self.columnar.counts.update(counts)
            log.info(
                "%s: page built by rows (%s: %s)", self.name, type(exc).__name__, exc
            )
            self._count_page("reference")
            return None
        stop = min(end, len(raw_records))
        raw_records[start:stop] = [None] * (stop - start)  # each raw row let go
        self._count_page("columnar")
        self.page_columns = self.columnar.page_columns
        return built, finite

    def _count_page(self, path: str) -> None:
        """Which builder built a page: ``record_pages:<path>`` in the run report's
        counts (and the Scrapy stats)."""
        assert self.builder is not None
        self.builder.counts[f"record_pages:{path}"] += 1
        stats = getattr(getattr(self, "crawler", None), "stats", None)
        if stats is not None:
            stats.inc_value(f"cfs/record_pages/{path}")
