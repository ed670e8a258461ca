"""The store pipeline's buffer of records: runs of records as they came, each
as dicts (``RowPart``) or as the columns of a page (``PagePart``), in order.

Why a module of its own: the store pipeline keeps it for every run, a poll's
too, and it needs neither polars nor pyarrow; it only slices the parts it
holds. A batch cut from the buffer is a list of parts: the store's writer
process takes the pages' columns as Arrow (``store/arrow_batch.py``) and the
record dicts are then never made; any other store path reads the parts'
records and texts (``records_of``, ``texts_of``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any


class RowPart:
    """Records as dicts, with their JSON texts and whether each text reads
    back as its record (``encoding.json_texts_exact``), and, where they were
    built by columns, those columns as Arrow (``colarrow.PageColumns``)."""

    __slots__ = ("columns", "exact", "records", "texts")

    def __init__(
        self,
        records: list[dict[str, Any]],
        texts: Sequence[str],
        exact: list[bool],
        columns: Any = None,
    ) -> None:
        self.records, self.texts, self.exact = records, texts, exact
        self.columns = columns

    @property
    def n(self) -> int:
        return len(self.records)

    def split(self, k: int) -> tuple[RowPart, RowPart]:
        """The first ``k`` records, and the rest."""
        cols = self.columns
        return (
            RowPart(
                self.records[:k],
                self.texts[:k],
                self.exact[:k],
                None if cols is None else cols.slice(0, k),
            ),
            RowPart(
                self.records[k:],
                self.texts[k:],
                self.exact[k:],
                None if cols is None else cols.slice(k, self.n),
            ),
        )

    def text_list(self) -> list[str]:
        return list(self.texts)

    def text_bytes(self) -> int:
        return sum(map(len, self.texts))


class PagePart:
    """Rows ``start:stop`` of a page built by columns
    (``colpage.ColumnPage``), with its texts made by columns (``PageText``:
    each record's JSON text, the raw texts and change hashes)."""

    __slots__ = ("page", "start", "stop", "text")

    def __init__(self, page: Any, text: Any, start: int, stop: int) -> None:
        self.page, self.text, self.start, self.stop = page, text, start, stop

    @property
    def n(self) -> int:
        return self.stop - self.start

    def split(self, k: int) -> tuple[PagePart, PagePart]:
        at = self.start + k
        return (
            PagePart(self.page, self.text, self.start, at),
            PagePart(self.page, self.text, at, self.stop),
        )

    @property
    def records(self) -> list[dict[str, Any]]:
        """The rows' record dicts (the page's, made once when first asked)."""
        return self.page.records()[self.start : self.stop]

    @property
    def texts(self) -> Any:
        """The rows' JSON texts, as a polars column (iterates as ``str``)."""
        return self.text.lines.slice(self.start, self.n)

    @property
    def exact(self) -> list[bool]:
        return [True] * self.n  # written as orjson writes them: see coljson.py

    @property
    def columns(self) -> Any:
        return self.page.arrow.slice(self.start, self.stop)

    def text_list(self) -> list[str]:
        return self.texts.to_list()

    def text_bytes(self) -> int:
        return int(self.texts.str.len_bytes().sum() or 0)


Part = RowPart | PagePart


class RecordQueue:
    """The buffered records, as parts in the order they came."""

    def __init__(self) -> None:
        self._parts: deque[Part] = deque()
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Part]:
        return iter(self._parts)

    def add(self, part: Part) -> None:
        if part.n:
            self._parts.append(part)
            self._n += part.n

    def put_back(self, parts: Iterable[Part]) -> None:
        """``parts`` back at the buffer's front, in their order."""
        for part in reversed(list(parts)):
            if part.n:
                self._parts.appendleft(part)
                self._n += part.n

    def take(self, n: int) -> list[Part]:
        """The parts of the buffer's first ``n`` records, taken off (the last
        one cut where the ``n`` end)."""
        taken: list[Part] = []
        while n > 0 and self._parts:
            part = self._parts.popleft()
            if part.n > n:  # the rest stays at the front
                part, rest = part.split(n)
                self._parts.appendleft(rest)
            taken.append(part)
            self._n -= part.n
            n -= part.n
        return taken


def records_of(parts: Iterable[Part]) -> list[dict[str, Any]]:
    return [r for part in parts for r in part.records]


def texts_of(parts: Iterable[Part]) -> list[str]:
    return [t for part in parts for t in part.text_list()]


def exact_of(parts: Iterable[Part]) -> list[bool]:
    return [x for part in parts for x in part.exact]


class Deferred(Sequence):
    """A list made only when first read; its length is known before. The
    record dicts and texts of a batch the store's writer process takes as
    Arrow columns are passed so (``store.process.StoreProcess.submit``): made
    only if the batch falls back to JSON texts. Pickles as the list."""

    __slots__ = ("_items", "_make", "_n")

    def __init__(self, n: int, make: Callable[[], list[Any]]) -> None:
        self._n, self._make = n, make
        self._items: list[Any] | None = None

    def _got(self) -> list[Any]:
        if self._items is None:
            self._items = self._make()
        return self._items

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        return self._got()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._got())

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (self._got(),))
