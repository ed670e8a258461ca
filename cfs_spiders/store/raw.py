"""The raw record of each version, kept compressed: zlib with a per-feed preset
dictionary.

Why: a raw record is a small JSON object (250 to 900 bytes in the bundled feeds),
and a feed's records share nearly all of their text (field names, fixed values,
the shape of a time). Compressed alone, one record barely shrinks (861 -> 393
bytes measured on the San Francisco bench rows); compressed against a dictionary of
the feed's own first records it comes to about 100 bytes (Houston's 269 -> 50).
zlib is in the standard library on every Python and in every language a
Datasette user might reach for, and its raw deflate format with a preset
dictionary (``zlib.compressobj(zdict=...)``, RFC 1950's FDICT without the
header) is stable: a store written today reads anywhere. Each record is
compressed on its own, so any version reads without the others.

The dictionaries are rows of ``raw_dicts`` (``codec`` says how a row's records
were compressed), written once and never changed. A feed's first batch with
versions makes its dictionary from the raw records of that batch (up to
``DICT_BYTES``); while the feed's is small (a first run of a few records), a
later batch with versions makes a larger one, the old dictionary followed by the
batch's records, when that is half as large again (at most ``MAX_DICTS``), so a
feed has one or a handful. Every version
names its dictionary (``observations.raw_dict``).

Mixed into the store (``RawStore``): ``_raw_encoder`` for the writers,
``raw_text`` and ``raw_versions`` for the readers, and the SQL function
``cfs_raw(raw_dict, raw_deflate)`` in cfs's own SQLite connections.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..records.encoding import change_hash

CODEC = "deflate-zdict-v1"  # raw deflate (wbits -15), level 6, a preset dictionary
DICT_BYTES = 32_768  # zlib's window: a longer dictionary is cut to its end
MAX_DICTS = 8  # per feed: a small dictionary grows (by half at least) this often
_LEVEL, _WBITS, _MEMLEVEL = 6, -15, 8


class RawRecordError(ValueError):
    """A stored raw record that does not read back (a damaged row, or a
    dictionary missing from ``raw_dicts``); the message names the row."""


def encode_text(text: str) -> bytes:
    # surrogatepass: a lone surrogate that json wrote unescaped reads back as it was
    return text.encode("utf-8", "surrogatepass")


def build_zdict(texts: Iterable[str]) -> bytes:
    """A preset dictionary from a feed's raw records: their text, in order, up to
    ``DICT_BYTES`` (the strings every record repeats are in the first few)."""
    parts, size = [], 0
    for text in texts:
        data = encode_text(text)
        parts.append(data)
        size += len(data)
        if size >= DICT_BYTES:
            break
    return b"".join(parts)[:DICT_BYTES]


class Compressor:
    """Compresses raw texts against one dictionary: the primed zlib state is built
    once and copied per record (priming costs more than compressing)."""

    def __init__(self, zdict: bytes) -> None:
        self._base = zlib.compressobj(
            _LEVEL, zlib.DEFLATED, _WBITS, _MEMLEVEL, zlib.Z_DEFAULT_STRATEGY, zdict
        )

    def __call__(self, text: str) -> bytes:
        c = self._base.copy()
        return c.compress(encode_text(text)) + c.flush()


def inflate(blob: bytes, zdict: bytes, where: str = "") -> str:
    """The raw JSON text of a stored version, exactly as it was written."""
    d = zlib.decompressobj(_WBITS, zdict)
    try:
        data = d.decompress(bytes(blob)) + d.flush()
    except zlib.error as e:
        raise RawRecordError(f"raw record {where} does not decompress: {e}") from e
    if not d.eof or d.unused_data:
        raise RawRecordError(f"raw record {where} is truncated or has trailing bytes")
    return data.decode("utf-8", "surrogatepass")


def _check(text: str, digest: str, where: str) -> None:
    """Raw deflate has no checksum: a text read against the wrong dictionary
    could come out different but well formed. The version's change hash, of
    the same values, catches it."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise RawRecordError(f"raw record {where} reads back as no JSON: {e}") from e
    if change_hash(value) != digest:
        raise RawRecordError(
            f"raw record {where} reads back with other values than its hash"
        )


@dataclass(frozen=True)
class RawVersion:
    feed_id: str
    record_key: str
    fetched_at: str
    last_seen: str
    run_id: str | None
    values_hash: str  # hex, as records.encoding.change_hash gives it
    raw_json: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RawStore:
    """The dictionaries and the raw texts; needs the store's ``_sql``,
    ``placeholder``, ``conn`` and ``dialect``."""

    placeholder: str
    dialect: str

    @property
    def _zdicts(self) -> dict[int, bytes]:
        """Dictionaries by id, as committed (never changed once written)."""
        return self.__dict__.setdefault("_zdict_cache", {})

    @property
    def _compressors(self) -> dict[int, Compressor]:
        return self.__dict__.setdefault("_compressor_cache", {})

    def _zdict(self, dict_id: int, cur: Any = None) -> bytes:
        found = self._zdicts.get(dict_id)
        if found is not None:
            return found
        cur = cur if cur is not None else self.conn.cursor()  # type: ignore[attr-defined]
        cur.execute(
            self._sql(  # type: ignore[attr-defined]
                f"SELECT codec, zdict FROM raw_dicts WHERE dict_id = {self.placeholder}"
            ),
            (dict_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise RawRecordError(f"raw dictionary {dict_id} is not in raw_dicts")
        if row[0] != CODEC:
            raise RawRecordError(
                f"raw dictionary {dict_id} is of codec {row[0]!r}; this cfs reads "
                f"{CODEC!r}"
            )
        return bytes(row[1])

    def _raw_encoder(
        self, cur: Any, feed_id: str, texts: list[str], new: dict[int, bytes]
    ) -> tuple[int, Callable[[str], bytes]]:
        """The feed's dictionary (made from ``texts`` when the feed has none, or
        only a small one) and a compressor for it. A dictionary made here goes
        into ``new``: the caller caches it once the transaction commits (an id
        rolled back may be given again to another dictionary)."""
        ph = self.placeholder
        cur.execute(
            self._sql(  # type: ignore[attr-defined]
                f"SELECT dict_id, length(zdict) FROM raw_dicts WHERE feed_id = {ph} "
                "ORDER BY dict_id DESC LIMIT 1"
            ),
            (feed_id,),
        )
        row = cur.fetchone()
        zdict = None
        if row is None:
            zdict = build_zdict(texts)
        elif int(row[1]) < DICT_BYTES // 2:  # a small one: grown from this batch
            cur.execute(
                self._sql(  # type: ignore[attr-defined]
                    f"SELECT COUNT(*) FROM raw_dicts WHERE feed_id = {ph}"
                ),
                (feed_id,),
            )
            if int(cur.fetchone()[0]) < MAX_DICTS:
                old = self._zdict(int(row[0]), cur)
                grown = (old + build_zdict(texts))[-DICT_BYTES:]
                if len(grown) >= len(old) * 3 // 2:
                    zdict = grown
        if zdict is not None:
            cur.execute(
                self._sql(  # type: ignore[attr-defined]
                    "INSERT INTO raw_dicts (feed_id, codec, zdict, created_at) "
                    f"VALUES ({ph}, {ph}, {ph}, {ph}) RETURNING dict_id"
                ),
                (feed_id, CODEC, zdict, _now()),
            )
            dict_id = int(cur.fetchone()[0])
            new[dict_id] = zdict
            return dict_id, Compressor(zdict)
        dict_id = int(row[0])
        assert dict_id is not None
        compressor = self._compressors.get(dict_id)
        if compressor is None:
            zdict = self._zdict(dict_id, cur)  # committed before this transaction
            self._zdicts[dict_id] = zdict
            compressor = self._compressors[dict_id] = Compressor(zdict)
        return dict_id, compressor

    def _committed_dicts(self, new: dict[int, bytes]) -> None:
        self._zdicts.update(new)

    # --------------------------------------------------------------- reading
    def inflate_raw(self, dict_id: int, blob: bytes, where: str = "") -> str:
        """The JSON text of one stored raw record (``observations.raw_dict``,
        ``raw_deflate``)."""
        zdict = self._zdicts.get(dict_id)
        if zdict is None:
            zdict = self._zdict(dict_id)
            self._zdicts[dict_id] = zdict
        return inflate(blob, zdict, where or f"(dictionary {dict_id})")

    def raw_versions(
        self, feed_id: str | None = None, record_key: str | None = None
    ) -> Iterator[RawVersion]:
        """Every stored version with its raw JSON text, in (feed, key, fetch)
        order; of one feed, or one call."""
        ph = self.placeholder
        where, params = [], []
        if feed_id is not None:
            where.append(f"feed_id = {ph}")
            params.append(feed_id)
        if record_key is not None:
            where.append(f"record_key = {ph}")
            params.append(record_key)
        sql = (
            "SELECT feed_id, record_key, fetched_at, last_seen, run_id, values_hash, "
            "raw_dict, raw_deflate FROM observations"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY feed_id, record_key, fetched_at"
        )
        cur = self.conn.cursor()  # type: ignore[attr-defined]
        cur.execute(self._sql(sql), tuple(params))  # type: ignore[attr-defined]
        while rows := cur.fetchmany(1000):
            for feed, key, start, end, run_id, digest, dict_id, blob in rows:
                where_ = f"{feed}/{key} at {start}"
                text = self.inflate_raw(dict_id, blob, where_)
                digest = bytes(digest).hex()
                _check(text, digest, where_)
                yield RawVersion(feed, key, start, end, run_id, digest, text)

    def raw_text(self, feed_id: str, record_key: str) -> str | None:
        """The call's raw record as last published (its current version), as JSON
        text; ``None`` for a call not in the store."""
        rows = self.query(  # type: ignore[attr-defined]
            "SELECT raw_dict, raw_deflate, version_fetched_at FROM call_raw WHERE "
            f"feed_id = {self.placeholder} AND record_key = {self.placeholder}",
            (feed_id, record_key),
        )
        if not rows:
            return None
        r = rows[0]
        return self.inflate_raw(
            r["raw_dict"],
            r["raw_deflate"],
            f"{feed_id}/{record_key} at {r['version_fetched_at']}",
        )

    def _sql_raw(self, dict_id: int | None, blob: bytes | None) -> str | None:
        """``cfs_raw(raw_dict, raw_deflate)``, the SQL function of cfs's SQLite
        connections."""
        if dict_id is None or blob is None:
            return None
        return self.inflate_raw(int(dict_id), blob)


def install_sql_function(conn: Any) -> None:
    """Give a plain ``sqlite3`` connection to a store the SQL function
    ``cfs_raw(raw_dict, raw_deflate)``: the raw record as JSON text (for Datasette,
    ``exports/datasette_raw.py`` does this; in Python, call it on a connection).
    Dictionaries are read from the store's ``raw_dicts`` as needed."""
    cache: dict[int, bytes] = {}

    def cfs_raw(dict_id: int | None, blob: bytes | None) -> str | None:
        if dict_id is None or blob is None:
            return None
        zdict = cache.get(dict_id)
        if zdict is None:
            row = conn.execute(
                "SELECT codec, zdict FROM raw_dicts WHERE dict_id = ?", (dict_id,)
            ).fetchone()
            if row is None or row[0] != CODEC:
                raise RawRecordError(
                    f"raw dictionary {dict_id}: missing or not {CODEC}"
                )
            zdict = cache[dict_id] = bytes(row[1])
        return inflate(blob, zdict, f"(dictionary {dict_id})")

    conn.create_function("cfs_raw", 2, cfs_raw, deterministic=True)
