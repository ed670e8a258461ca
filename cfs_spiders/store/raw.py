"""The raw record of each version, kept compressed against a per-feed dictionary:
zlib with a preset dictionary, or (a batch of a thousand records or more)
Zstandard with a dictionary trained on the feed's records.

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

Zstandard (``ZSTD``): zlib costs ~15 us a record, most of it copying the primed
state; ``zstandard`` with a dictionary trained on a backfill's first batch costs
~2 us and is smaller for the records of a large feed (San Francisco's bench rows
97 bytes against 112, Houston's 44 against 42). A trained dictionary needs many
records, so a batch of fewer than ``TRAIN_MIN`` keeps zlib, and so does a batch
whose records the trained dictionary would not compress at most a fifth larger
than zlib (tried on the batch's last records, left out of the training). Its
frames are magicless, with the content size and without checksum or dictionary
id (the row names its dictionary; the change hash checks what reads back).

The dictionaries are rows of ``raw_dicts`` (``codec`` says how a row's records
were compressed: ``DEFLATE`` or ``ZSTD``), written once and never changed; a
store holding both reads both. A feed's first batch with
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

import zstandard

from ..records.encoding import change_hash
from .base import OBSERVATION_COLUMNS, by_call

DEFLATE = "deflate-zdict-v1"  # raw deflate (wbits -15), level 6, a preset dictionary
ZSTD = "zstd-dict-v1"  # Zstandard level 3, magicless frames, a trained dictionary
CODECS = (DEFLATE, ZSTD)
CODEC = DEFLATE  # the codec of a dictionary made from few records
DICT_BYTES = 32_768  # zlib's window: a longer dictionary is cut to its end
MAX_DICTS = 8  # per feed: a small dictionary grows (by half at least) this often
TRAIN_MIN = 1_000  # records a batch needs for a trained Zstandard dictionary
TRAIN_SAMPLES = 5_000  # records it is trained on at most (~0.1 s for 5,000)
_PROBE = 200  # the batch's last records, not trained on: which codec is smaller
_ZSTD_SLACK = 1.2  # Zstandard is taken up to a fifth larger than zlib (8x faster)
_LEVEL, _WBITS, _MEMLEVEL = 6, -15, 8
_ZSTD_LEVEL = 3
_ZSTD_FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS


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


class ZstdCompressor:
    """Compresses raw texts against a trained Zstandard dictionary (``ZSTD``)."""

    def __init__(self, zdict: bytes) -> None:
        params = zstandard.ZstdCompressionParameters.from_level(
            _ZSTD_LEVEL,
            format=_ZSTD_FORMAT,
            write_checksum=0,
            write_content_size=1,
            write_dict_id=0,
        )
        data = zstandard.ZstdCompressionDict(
            zdict, dict_type=zstandard.DICT_TYPE_FULLDICT
        )
        # the dictionary digested once (a CDict), not loaded again for every
        # record: 4.4 -> 3.0 us a record of San Francisco's bench rows, the
        # same frames (the parameters are the same)
        data.precompute_compress(compression_params=params)
        self._zstd = zstandard.ZstdCompressor(dict_data=data, compression_params=params)
        self._compress = self._zstd.compress

    def __call__(self, text: str) -> bytes:
        return self._compress(encode_text(text))

    def many(self, texts: list[str]) -> list[bytes]:
        """Each text compressed on its own (a frame each, as ``__call__``
        makes it), in one call into the library."""
        if len(texts) < 2:
            return [self(t) for t in texts]
        frames = self._zstd.multi_compress_to_buffer(
            [encode_text(t) for t in texts], threads=1
        )
        return [bytes(f) for f in frames]


def compressor(codec: str, zdict: bytes) -> Callable[[str], bytes]:
    """The compressor of a dictionary of ``codec``."""
    return ZstdCompressor(zdict) if codec == ZSTD else Compressor(zdict)


def make_dict(texts: list[str]) -> tuple[str, bytes]:
    """A new dictionary for a feed from a batch's raw texts, and its codec: a
    trained Zstandard one when the batch is large enough and the dictionary
    pays (see the module's docstring), else zlib's preset dictionary."""
    preset = build_zdict(texts)
    if len(texts) < TRAIN_MIN:
        return DEFLATE, preset
    samples = [encode_text(t) for t in texts[:-_PROBE][:TRAIN_SAMPLES]]
    try:
        trained = zstandard.train_dictionary(DICT_BYTES, samples).as_bytes()
    except zstandard.ZstdError:  # records too few or too alike to train on
        return DEFLATE, preset
    probe = texts[-_PROBE:]
    deflate, zstd = Compressor(preset), ZstdCompressor(trained)
    deflated = sum(len(deflate(t)) for t in probe)
    if sum(len(zstd(t)) for t in probe) <= deflated * _ZSTD_SLACK:
        return ZSTD, trained
    return DEFLATE, preset


class ZstdReader:
    """Reads the records of one ``ZSTD`` dictionary."""

    def __init__(self, zdict: bytes) -> None:
        data = zstandard.ZstdCompressionDict(
            zdict, dict_type=zstandard.DICT_TYPE_FULLDICT
        )
        self._d = zstandard.ZstdDecompressor(dict_data=data, format=_ZSTD_FORMAT)

    def __call__(self, blob: bytes, where: str = "") -> str:
        d = self._d.decompressobj()
        try:
            data = d.decompress(bytes(blob))
        except zstandard.ZstdError as e:
            raise RawRecordError(f"raw record {where} does not decompress: {e}") from e
        if not d.eof or d.unused_data:
            raise RawRecordError(
                f"raw record {where} is truncated or has trailing bytes"
            )
        return data.decode("utf-8", "surrogatepass")


def reader(codec: str, zdict: bytes, where: str = "") -> Callable[..., str]:
    """What reads a record of a dictionary of ``codec`` (``(blob, where)`` to
    its text); a codec this cfs does not know is refused, naming it."""
    if codec == DEFLATE:
        return lambda blob, at="": inflate(blob, zdict, at)
    if codec == ZSTD:
        return ZstdReader(zdict)
    raise RawRecordError(
        f"raw dictionary {where} is of codec {codec!r}; this cfs reads "
        f"{', '.join(map(repr, CODECS))}"
    )


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
    # the column of raw_dicts naming the feed (its key; ``feed_id`` while a
    # schema-3 store is migrated through this code, ``migrate_v3.py``)
    _dicts_feed = "feed_key"

    @property
    def _zdicts(self) -> dict[int, tuple[str, bytes]]:
        """(codec, dictionary) by id, as committed (never changed once written)."""
        return self.__dict__.setdefault("_zdict_cache", {})

    @property
    def _compressors(self) -> dict[int, Callable[[str], bytes]]:
        return self.__dict__.setdefault("_compressor_cache", {})

    @property
    def _inflaters(self) -> dict[int, Callable[..., str]]:
        # not ``_readers``: the SQLite store's Arrow batch readers have that name
        return self.__dict__.setdefault("_reader_cache", {})

    def _zdict(self, dict_id: int, cur: Any = None) -> tuple[str, bytes]:
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
        if row[0] not in CODECS:
            raise RawRecordError(
                f"raw dictionary {dict_id} is of codec {row[0]!r}; this cfs reads "
                f"{', '.join(map(repr, CODECS))}"
            )
        return row[0], bytes(row[1])

    def _raw_encoder(
        self,
        cur: Any,
        feed: int | str,
        texts: list[str],
        new: dict[int, tuple[str, bytes]],
    ) -> tuple[int, Callable[[str], bytes]]:
        """The dictionary of the feed whose key is ``feed`` (its id in a
        schema-3 store being migrated, ``_dicts_feed``) (made from ``texts`` when the feed has none, or
        only a small one) and a compressor for it. A dictionary made here goes
        into ``new``: the caller caches it once the transaction commits (an id
        rolled back may be given again to another dictionary)."""
        ph = self.placeholder
        cur.execute(
            self._sql(  # type: ignore[attr-defined]
                f"SELECT dict_id, length(zdict), codec FROM raw_dicts WHERE "
                f"{self._dicts_feed} = {ph} ORDER BY dict_id DESC LIMIT 1"
            ),
            (feed,),
        )
        row = cur.fetchone()
        made: tuple[str, bytes] | None = None
        if row is None:
            made = make_dict(texts)
        elif row[2] == DEFLATE and int(row[1]) < DICT_BYTES // 2:
            # a small one: replaced by one trained on a large batch, or grown
            cur.execute(
                self._sql(  # type: ignore[attr-defined]
                    f"SELECT COUNT(*) FROM raw_dicts WHERE {self._dicts_feed} = {ph}"
                ),
                (feed,),
            )
            if int(cur.fetchone()[0]) < MAX_DICTS:
                if len(texts) >= TRAIN_MIN:
                    trained = make_dict(texts)
                    made = trained if trained[0] == ZSTD else None
                if made is None:
                    old = self._zdict(int(row[0]), cur)[1]
                    grown = (old + build_zdict(texts))[-DICT_BYTES:]
                    if len(grown) >= len(old) * 3 // 2:
                        made = (DEFLATE, grown)
        if made is not None:
            codec, zdict = made
            cur.execute(
                self._sql(  # type: ignore[attr-defined]
                    f"INSERT INTO raw_dicts ({self._dicts_feed}, codec, zdict, "
                    "created_at) "
                    f"VALUES ({ph}, {ph}, {ph}, {ph}) RETURNING dict_id"
                ),
                (feed, codec, zdict, _now()),
            )
            dict_id = int(cur.fetchone()[0])
            new[dict_id] = made
            return dict_id, compressor(codec, zdict)
        dict_id = int(row[0])
        assert dict_id is not None
        compress = self._compressors.get(dict_id)
        if compress is None:
            found = self._zdict(dict_id, cur)  # committed before this transaction
            self._zdicts[dict_id] = found
            compress = self._compressors[dict_id] = compressor(*found)
        return dict_id, compress

    def _committed_dicts(self, new: dict[int, tuple[str, bytes]]) -> None:
        self._zdicts.update(new)

    # --------------------------------------------------------------- reading
    def inflate_raw(self, dict_id: int, blob: bytes, where: str = "") -> str:
        """The JSON text of one stored raw record (``observations.raw_dict``,
        ``raw_deflate``), of either codec."""
        read = self._inflaters.get(dict_id)
        if read is None:
            found = self._zdicts.get(dict_id)
            if found is None:
                found = self._zdicts[dict_id] = self._zdict(dict_id)
            read = self._inflaters[dict_id] = reader(*found, str(dict_id))
        return read(blob, where or f"(dictionary {dict_id})")

    def raw_versions(
        self, feed_id: str | None = None, record_key: str | None = None
    ) -> Iterator[RawVersion]:
        """Every stored version with its raw JSON text, in (feed, key, fetch)
        order; of one feed, or one call."""
        ph = self.placeholder
        where, params = [], []
        if feed_id is not None:
            where.append(f"f.feed_id = {ph}")
            params.append(feed_id)
        if record_key is not None:
            where.append(f"o.record_key = {ph}")
            params.append(record_key)
        sql = (
            "SELECT f.feed_id, o.record_key, o.fetched_at, o.last_seen, r.run_id, "
            "o.values_hash, o.raw_dict, o.raw_deflate FROM feeds f JOIN "
            + by_call("observations", OBSERVATION_COLUMNS, alias="o")
            + " ON o.feed_key = f.feed_key LEFT JOIN runs r ON r.run_key = o.run_key"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY f.feed_id, o.record_key, o.fetched_at"
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
    cache: dict[int, Callable[..., str]] = {}

    def cfs_raw(dict_id: int | None, blob: bytes | None) -> str | None:
        if dict_id is None or blob is None:
            return None
        read = cache.get(dict_id)
        if read is None:
            row = conn.execute(
                "SELECT codec, zdict FROM raw_dicts WHERE dict_id = ?", (dict_id,)
            ).fetchone()
            if row is None:
                raise RawRecordError(f"raw dictionary {dict_id} is not in raw_dicts")
            read = cache[dict_id] = reader(row[0], bytes(row[1]), str(dict_id))
        return read(blob, f"(dictionary {dict_id})")

    conn.create_function("cfs_raw", 2, cfs_raw, deterministic=True)
