"""The reference for bench_tags: the fastest hand-written full refresh of the same 50 rules (issue 10: Shoal's
first full refresh must take at most twice as long).

What a developer who knows the data would write (docs/performance-notes.md, "Evaluating many rules"):

1. fetch the columns the rules read once, range by range of ids, with the raw cursor, each column of a range
   as one aggregated value decoded by numpy (dates and times as numbers computed by the database; the custom
   fields out of ``attributes``: on SQLite ``json_extract`` once per key, measured as fast as ``json.loads`` in
   Python; on PostgreSQL ``jsonb_to_record``, which reads each JSON value once);
2. evaluate every rule in numpy, hand-coded (one boolean array per rule): text compared ignoring case, empty =
   NULL or "", a missing key NULL (NaN), dates and times as days / seconds since 1970 (UTC);
3. write the taggings in the key's order into a scratch table ``bench_hand_tagging``: SQLite one
   ``INSERT … SELECT ?, value FROM json_each(?)`` per tag in one transaction; PostgreSQL one binary ``COPY`` into
   the table without key, then the primary key built once.

Needs numpy (a dependency of the product since ``shoal.tags.columnar``).
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime

import numpy as np
from django.db import connection, transaction

TABLE = "bench_hand_tagging"
RANGE = 100_000  # customer ids per fetch

# The columns fetched, in order: (name, kind). kind "text": str ("" for NULL); "num": float64 (NaN for NULL).
# Dates are days since 1970-01-01, date-times seconds since 1970-01-01 UTC.
COLUMNS = (
    ("id", "id"), ("city", "text"), ("gender", "text"), ("status", "text"), ("source", "text"), ("name", "text"),
    ("email", "text"), ("mobile", "text"), ("qq", "text"), ("wechat", "text"),
    ("birthday", "num"), ("created_at", "num"), ("registered_at", "num"),
    ("plan", "text"), ("assets", "num"), ("files", "num"), ("vip", "num"), ("last_login", "num"),
    ("first_order_date", "num"), ("wechat_nickname", "text"),
)

# One row per customer: the columns in COLUMNS' order, named after them.
_SQLITE_ROWS = """SELECT id, city, gender, status, source, name, COALESCE(email, '') AS email,
    COALESCE(mobile, '') AS mobile, qq, wechat, unixepoch(birthday) / 86400 AS birthday,
    unixepoch(created_at) AS created_at, unixepoch(registered_at) AS registered_at,
    COALESCE(json_extract(attributes, '$.plan'), '') AS plan, json_extract(attributes, '$.assets') AS assets,
    json_extract(attributes, '$.files') AS files, json_extract(attributes, '$.vip') AS vip,
    unixepoch(json_extract(attributes, '$.last_login')) AS last_login,
    unixepoch(json_extract(attributes, '$.first_order_date')) / 86400 AS first_order_date,
    COALESCE(json_extract(attributes, '$.wechat_nickname'), '') AS wechat_nickname
    FROM customers_customer WHERE id >= %s AND id < %s ORDER BY id"""

_POSTGRESQL_ROWS = """SELECT c.id, c.city, c.gender, c.status, c.source, c.name, COALESCE(c.email, '') AS email,
    COALESCE(c.mobile, '') AS mobile, c.qq, c.wechat, (c.birthday - DATE '1970-01-01')::float8 AS birthday,
    extract(epoch FROM c.created_at)::float8 AS created_at,
    extract(epoch FROM c.registered_at)::float8 AS registered_at,
    COALESCE(a.plan, '') AS plan, a.assets, a.files, a.vip::int::float8 AS vip,
    extract(epoch FROM a.last_login)::float8 AS last_login,
    (a.first_order_date - DATE '1970-01-01')::float8 AS first_order_date,
    COALESCE(a.wechat_nickname, '') AS wechat_nickname
    FROM customers_customer c, jsonb_to_record(c.attributes) AS a(plan text, assets float8, files float8,
        vip boolean, last_login timestamptz, first_order_date date, wechat_nickname text)
    WHERE c.id >= %s AND c.id < %s ORDER BY c.id"""

SEPARATOR = "\x1f"  # between the texts of a column (unit separator: in no name, email or city)


def _aggregate(name: str, kind: str, vendor: str) -> str:
    """A column of a range as one value: the database builds it in C, Python decodes it with numpy (a row at a
    time, creating a Python object per value cost 1.2-1.3 s per 100k customers; aggregated 0.7-0.9 s).
    PostgreSQL sends numbers in binary (``float8send``), SQLite as text; texts are joined by SEPARATOR."""
    if vendor == "postgresql":
        if kind == "id":
            return f"string_agg(int8send({name}), ''::bytea)"
        if kind == "num":
            return f"string_agg(float8send(COALESCE({name}, 'NaN')), ''::bytea)"
        return f"string_agg({name}, E'\\x1f')"
    if kind == "num":
        return f"group_concat(COALESCE({name}, 'nan'), ',')"
    if kind == "id":
        return f"group_concat({name}, ',')"
    return f"group_concat({name}, char(31))"


def _decode(value, kind: str, vendor: str) -> np.ndarray:
    if kind == "text":
        return np.array(value.split(SEPARATOR), dtype=np.dtypes.StringDType())
    dtype = np.int64 if kind == "id" else np.float64
    if vendor == "postgresql":
        return np.frombuffer(value, ">i8" if kind == "id" else ">f8").astype(dtype)
    return np.array(value.split(","), dtype=dtype)


# -- 1. fetch -------------------------------------------------------------------------------------------------
def fetch() -> dict[str, np.ndarray]:
    """Every column of COLUMNS for every customer, in id order; one query per RANGE ids (in one query the
    columns line up: each aggregate reads the same rows in the same order)."""
    vendor = connection.vendor
    rows = _SQLITE_ROWS if vendor == "sqlite" else _POSTGRESQL_ROWS
    sql = f"SELECT COUNT(*), {', '.join(_aggregate(name, kind, vendor) for name, kind in COLUMNS)} FROM ({rows}) s"
    parts: dict[str, list[np.ndarray]] = {name: [] for name, _ in COLUMNS}
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM customers_customer")
        low, high = cursor.fetchone()
        for lo in range(low or 0, (high or 0) + 1, RANGE):
            cursor.execute(sql, [lo, lo + RANGE])
            count, *values = cursor.fetchone()
            if not count:
                continue
            for (name, kind), value in zip(COLUMNS, values, strict=True):
                column = _decode(value, kind, vendor)
                if len(column) != count:
                    raise ValueError(f"{name}: {len(column)} values for {count} customers (a separator in a text?)")
                parts[name].append(column)
    return {name: np.concatenate(chunks) if chunks else np.array([]) for name, chunks in parts.items()}


# -- 2. evaluate ----------------------------------------------------------------------------------------------
def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _days(text: str) -> float:
    return (date.fromisoformat(text) - date(1970, 1, 1)).days


class Columns:
    """The fetched columns, with the lower-cased text ones computed once."""

    def __init__(self, raw: dict[str, np.ndarray]):
        self.raw = raw
        self._lower: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.raw[name]

    def lower(self, name: str) -> np.ndarray:
        if name not in self._lower:
            self._lower[name] = np.strings.lower(self.raw[name])
        return self._lower[name]

    def ieq(self, name: str, value: str) -> np.ndarray:
        return self.lower(name) == value.lower()

    def iin(self, name: str, values: list[str]) -> np.ndarray:
        return np.isin(self.lower(name), [v.lower() for v in values])

    def istarts(self, name: str, prefix: str) -> np.ndarray:
        return np.strings.startswith(self.lower(name), prefix.lower())

    def iends(self, name: str, suffix: str) -> np.ndarray:
        return np.strings.endswith(self.lower(name), suffix.lower())

    def filled(self, name: str) -> np.ndarray:
        column = self.raw[name]
        return column != "" if column.dtype.kind in "TU" else ~np.isnan(column)


def evaluate(raw: dict[str, np.ndarray]) -> list[np.ndarray]:
    """One boolean array per rule of ``bench_tags.RULES``, in that order (NaN compares false: empty never
    matches a comparison)."""
    c = Columns(raw)
    plan, assets, files, vip = c["plan"], c["assets"], c["files"], c["vip"]
    birthday, created, last_login = c["birthday"], c["created_at"], c["last_login"]
    shanghai = c.ieq("city", "上海")
    male = c["gender"] == "male"
    with np.errstate(invalid="ignore"):
        return [
            c.iin("city", ["上海", "北京"]),
            c.iin("city", ["深圳", "广州"]),
            c.iin("city", ["杭州", "成都", "重庆", "武汉"]),
            c.iin("city", ["南京", "西安", "苏州", "天津"]),
            c.iin("city", ["长沙", "郑州", "东莞", "青岛", "沈阳", "宁波"]),
            male,
            c["gender"] == "female",
            np.isin(c["status"], ["unpaid", "banned"]),
            plan == "free",
            plan == "basic",
            plan == "pro",
            plan == "enterprise",
            assets >= 100000,
            (assets >= 10000) & (assets <= 50000),
            assets < 5000,
            np.isnan(assets),
            vip == 1,
            files >= 20,
            files < 5,
            birthday < _days("1980-01-01"),
            birthday >= _days("1995-01-01"),
            created >= _seconds("2026-06-01T00:00:00+08:00"),
            created < _seconds("2025-06-01T00:00:00+08:00"),
            np.isnan(c["registered_at"]),
            c.filled("email"),
            c.iends("email", "qq.com"),
            c.iends("email", "163.com"),
            c.filled("wechat_nickname"),
            c.filled("first_order_date"),
            last_login >= _seconds("2026-09-01T00:00:00+08:00"),
            np.isin(plan, ["pro", "enterprise"]) & (assets >= 10000),
            shanghai & (c["gender"] == "female"),
            (vip == 1) | (plan == "enterprise"),
            (c["status"] == "active") & (files >= 50),
            ~c.iin("city", ["上海", "北京", "深圳", "广州"]),
            c.istarts("name", "王"),
            c.istarts("name", "李"),
            c["source"] == "natural",
            c["source"] == "ads",
            c["source"] == "referral",
            c["source"] == "agent",
            c.filled("qq"),
            c.filled("wechat"),
            male & (birthday >= _days("1990-01-01")),
            (assets >= 50000) & (vip == 0),
            c.ieq("city", "杭州") | c.ieq("city", "苏州"),
            (plan == "free") & (files < 10),
            (plan == "pro") | (assets > 200000),  # the custom-SQL rule
            c.istarts("mobile", "+86139"),
            ~c.filled("email") & ~c.filled("wechat"),
        ]


# -- 3. write -------------------------------------------------------------------------------------------------
def _write_sqlite(cursor, tag_ids: list[int], ids: np.ndarray, masks: list[np.ndarray]) -> None:
    """One statement per tag, in one transaction. WITHOUT ROWID: the key is the table (one b-tree, not a table and an index; measured at 100k: 0.56 s
    instead of 0.80 s); a 256 MB page cache for the transaction (0.51 s instead of 0.56 s)."""
    cursor.execute("PRAGMA cache_size")
    cache_size = cursor.fetchone()[0]
    cursor.execute("PRAGMA cache_size = -262144")
    try:
        cursor.execute(f"CREATE TABLE {TABLE} (tag_id integer NOT NULL, customer_id integer NOT NULL, "
                       f"PRIMARY KEY (tag_id, customer_id)) WITHOUT ROWID")
        for tag_id, mask in sorted(zip(tag_ids, masks, strict=True), key=lambda pair: pair[0]):
            cursor.execute(f"INSERT INTO {TABLE} (tag_id, customer_id) SELECT %s, value FROM json_each(%s)",
                           [tag_id, json.dumps(ids[mask].tolist())])
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")


_COPY_ROW = np.dtype([("fields", ">i2"), ("tag_length", ">i4"), ("tag", ">i4"), ("customer_length", ">i4"),
                      ("customer", ">i4")])


def _write_postgresql(cursor, tag_ids: list[int], ids: np.ndarray, masks: list[np.ndarray]) -> None:
    """Binary COPY (rows built by numpy, 18 bytes each) in the key's order, then the key built once. The larger
    sort memory is for 1M customers (11M rows); at 100k it changes nothing (measured)."""
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    cursor.execute(f"CREATE TABLE {TABLE} (tag_id integer NOT NULL, customer_id integer NOT NULL)")
    with cursor.cursor.copy(f"COPY {TABLE} (tag_id, customer_id) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))  # signature, flags, header extension length
        for tag_id, mask in sorted(zip(tag_ids, masks, strict=True), key=lambda pair: pair[0]):
            chosen = ids[mask]
            rows = np.empty(len(chosen), dtype=_COPY_ROW)
            rows["fields"], rows["tag_length"], rows["tag"], rows["customer_length"] = 2, 4, tag_id, 4
            rows["customer"] = chosen
            copy.write(rows.tobytes())
        copy.write(b"\xff\xff")
    cursor.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (tag_id, customer_id)")


def bench_tag_ids(count: int) -> list[int]:
    """The ids of the bench tags (``bench_tags.ensure_tags``) in rule order; 1, 2, … when they do not exist."""
    from shoal.tags.models import Tag

    names = [f"bench-{i:02d}" for i in range(count)]
    found = dict(Tag.objects.filter(category__name="bench", name__in=names).values_list("name", "pk"))
    return [found[name] for name in names] if len(found) == count else list(range(1, count + 1))


def refresh_by_hand() -> dict:
    """Fetch, evaluate and write the 50 rules by hand; the times of each step and the taggings written
    (``counts``: per tag id, to compare with Shoal's). The scratch table is dropped afterwards."""
    started = time.perf_counter()
    raw = fetch()
    fetched = time.perf_counter()
    masks = evaluate(raw)
    evaluated = time.perf_counter()
    from bench.bench_tags import RULES

    assert len(masks) == len(RULES), (len(masks), len(RULES))
    tag_ids = bench_tag_ids(len(masks))
    write = _write_sqlite if connection.vendor == "sqlite" else _write_postgresql
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        written = time.perf_counter()
        with transaction.atomic():
            write(cursor, tag_ids, raw["id"], masks)
        done = time.perf_counter()
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
        taggings = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {TABLE}")
    return {"seconds": round(done - written + evaluated - started, 3), "fetch_seconds": round(fetched - started, 3),
            "eval_seconds": round(evaluated - fetched, 3), "write_seconds": round(done - written, 3),
            "taggings": taggings,
            "counts": {tag_id: int(mask.sum()) for tag_id, mask in zip(tag_ids, masks, strict=True)}}
