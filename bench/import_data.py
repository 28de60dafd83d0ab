"""Customer import files for bench_import: realistic CSV encoded GB18030, deterministic (seeded), written fast.

Ten columns, headers mixed as people write them (Chinese labels, field keys, odd case and spaces)::

    姓名, 手机号, 邮箱, 城市, 性别, birthday, 来源,  所属门店, Points, 最近购买日期
    name  mobile  email city gender birthday source | store (text), points (integer), last_purchase (date)

The last three are custom fields (:data:`CUSTOM_FIELDS`, created by the bench before importing). Mobiles are
unique, valid mainland numbers (``shoal.customers.demo.mobile_for``), written as people type them (mostly 11
digits, some ``+86 138 0013 8000``, some ``86-138…``); ~4% of the rows have an email, unique too.

``write_clean(path, rows)`` writes the big file (1M rows in a few seconds): every row valid and distinct.
``write_with_errors(path, rows)`` writes a small file with bad rows mixed in (bad mobiles, a bad integer, a
bad date, duplicates of earlier rows, blank and whitespace-only rows) and returns the expected summary and
the data-row numbers of the bad rows, so the bench can check the counts and the error report.

    python -m bench.import_data OUT.csv [--rows N] [--errors]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date, timedelta

ENCODING = "gb18030"
SEED = 20261201
HEADERS = ["姓名", "手机号", "邮箱", "城市", "性别", "birthday", "来源", "所属门店", " Points ", "最近购买日期"]
# key: (label, type), created through shoal.customers.services.custom_fields.custom_field_create
CUSTOM_FIELDS = {"store": ("所属门店", "text"), "points": ("积分", "integer"), "last_purchase": ("最近购买日期", "date")}
# the file's columns as field keys (what the import should map the headers to)
FIELDS = ["name", "mobile", "email", "city", "gender", "birthday", "source", "store", "points", "last_purchase"]
GENDERS = ("男", "女")  # how Chinese files write it; blank for unknown
# customer_source enum labels (the import matches enum values by code or label)
SOURCES = [("自然流量", 30), ("广告投放", 25), ("好友推荐", 15), ("代理推荐", 10), ("导入", 10), ("手工录入", 10)]
STORES = ["旗舰店", "中心店", "万达店", "国贸店", "西湖店", "天河店", "南山店", "高新店", "江北店", "滨江店"]
EMAIL_SHARE = 0.04


def _lut(pairs, size: int = 1000) -> list:
    total = sum(w for _, w in pairs)
    out: list = []
    for value, weight in pairs:
        out += [value] * round(weight * size / total)
    return (out + [pairs[0][0]] * size)[:size]


def _demo():
    """shoal.customers.demo (names, cities, mobile_for); it imports models, so Django is set up first."""
    from django.apps import apps

    if not apps.ready:
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
        django.setup()
    from shoal.customers import demo

    return demo


class Rows:
    """Row ``i`` (0-based) of the file as a list of 10 strings; rows are produced in order (one seeded RNG)."""

    def __init__(self, seed: int = SEED, first: int = 0):
        demo = _demo()
        CITIES, SURNAMES, EMAIL_DOMAINS = demo.CITIES, demo.SURNAMES, demo.EMAIL_DOMAINS  # noqa: N806
        self.mobile_for, self.given_male, self.given_female = demo.mobile_for, demo.GIVEN_MALE, demo.GIVEN_FEMALE
        self.rng = random.Random(seed)
        self.i = first
        self.offset = seed * 7919  # mobile_for(offset + i): distinct rows, distinct numbers
        self.surnames = _lut([((s, p), w) for s, p, w in SURNAMES])
        self.cities = _lut(CITIES)
        self.domains = _lut(EMAIL_DOMAINS)
        self.sources = _lut(SOURCES)
        epoch = date(1960, 1, 1)
        self.birthdays = [(epoch + timedelta(days=d)).isoformat() for d in range(16_800)]
        recent = date(2024, 1, 1)
        self.purchases = [(recent + timedelta(days=d)).isoformat() for d in range(1000)]
        self.stores = [f"{city}{store}" for city, _ in CITIES if city for store in STORES]

    def mobile(self, i: int) -> str:
        return self.mobile_for(self.offset + i)

    def __iter__(self):
        return self

    def __next__(self) -> list[str]:
        rnd = self.rng.random
        i = self.i
        self.i = i + 1
        e164 = self.mobile_for(self.offset + i)
        local = e164[3:]
        style = rnd()
        if style < 0.9:
            mobile = local
        elif style < 0.96:
            mobile = f"+86 {local[:3]} {local[3:7]} {local[7:]}"
        else:
            mobile = f"86-{local}"
        male = rnd() < 0.52
        surname, sp = self.surnames[int(rnd() * 1000)]
        pool = self.given_male if male else self.given_female
        k = len(pool)
        c1, p1 = pool[int(rnd() * k)]
        if rnd() < 0.7:
            c2, p2 = pool[int(rnd() * k)]
            name, pinyin = surname + c1 + c2, sp + p1 + p2
        else:
            name, pinyin = surname + c1, sp + p1
        email = f"{pinyin}{i}@{self.domains[int(rnd() * 1000)]}" if rnd() < EMAIL_SHARE else ""
        g = rnd()
        gender = GENDERS[0] if g < 0.47 else (GENDERS[1] if g < 0.94 else "")
        birthday = self.birthdays[int(rnd() * 16_800)] if rnd() < 0.6 else ""
        store = self.stores[int(rnd() * len(self.stores))] if rnd() < 0.8 else ""
        points = str(int(rnd() * rnd() * 20_000)) if rnd() < 0.7 else ""
        purchase = self.purchases[int(rnd() * 1000)] if rnd() < 0.5 else ""
        return [name, mobile, email, self.cities[int(rnd() * 1000)], gender, birthday,
                self.sources[int(rnd() * 1000)], store, points, purchase]


def _line(cells: list[str]) -> str:
    out = []
    for cell in cells:
        if any(c in cell for c in ',"\r\n'):
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return ",".join(out) + "\r\n"


def write_clean(path, rows: int, *, seed: int = SEED, chunk: int = 20_000) -> dict:
    """The big file: ``rows`` valid, distinct rows. Returns {"rows", "bytes", "seconds"}."""
    started = time.perf_counter()
    gen = Rows(seed)
    size = 0
    with open(path, "wb") as out:
        size += out.write((",".join(HEADERS) + "\r\n").encode(ENCODING))
        done = 0
        while done < rows:
            n = min(chunk, rows - done)
            # no value of the clean file needs quoting (checked by the tests of this module's caller)
            text = "".join([",".join(next(gen)) + "\r\n" for _ in range(n)])
            size += out.write(text.encode(ENCODING))
            done += n
    return {"rows": rows, "bytes": size, "seconds": round(time.perf_counter() - started, 2)}


def write_with_errors(path, rows: int = 20_000, *, seed: int = SEED + 1) -> dict:
    """A file of ``rows`` data rows of which about 3% are bad. Returns {"rows", "bytes", "expected": the summary
    into an empty database, "bad_rows": {data-row number (1 = first row after the header): kind}}."""
    rng = random.Random(seed)
    gen = Rows(seed)
    lines, bad, valid = [], {}, []
    bad_mobiles = ["1380013800", "12345678901", "1380013800000", "手机号码", "138-0013-800a", "10086"]
    for number in range(1, rows + 1):
        r = rng.random()
        if r < 0.005:  # blank: every cell empty or whitespace
            cells = [""] * len(HEADERS) if rng.random() < 0.5 else [" ", "", "\t", "  ", "", "", " ", "", "", ""]
            bad[number] = "empty"
        elif r < 0.015 and valid:  # the same identity as an earlier row of the file: a duplicate
            cells = list(rng.choice(valid))
            cells[0] = cells[0] + "(重复)"
            bad[number] = "duplicate"
        elif r < 0.025:  # no valid identity: a bad mobile and no email
            cells = next(gen)
            cells[1], cells[2] = rng.choice(bad_mobiles), ""
            bad[number] = "invalid"
        elif r < 0.03:  # a value of the wrong type in a custom field
            cells = next(gen)
            if rng.random() < 0.5:
                cells[8] = rng.choice(["十二", "12.5.1", "1e", "abc"])
            else:
                cells[9] = rng.choice(["2025-13-01", "2025/02/30", "昨天", "31.02.2025"])
            bad[number] = "invalid"
        else:
            cells = next(gen)
            if rng.random() < 0.002:
                cells[7] = "=HYPERLINK(\"http://x\",\"门店\")"  # a formula cell: stored as text
            if rng.random() < 0.002:
                cells[0] = "𠮷野家, 分店"  # CJK extension B and a comma (quoted)
            valid.append(cells)
        lines.append(_line(cells))
    data = (",".join(HEADERS) + "\r\n" + "".join(lines)).encode(ENCODING)
    with open(path, "wb") as out:
        out.write(data)
    counts = {k: sum(1 for v in bad.values() if v == k) for k in ("empty", "invalid", "duplicate")}
    expected = {"rows": rows, **counts, "created": rows - sum(counts.values()), "updated": 0, "unchanged": 0}
    return {"rows": rows, "bytes": len(data), "expected": expected, "bad_rows": bad}


def read_rows(path, limit: int | None = None):
    """The data rows of a bench file, decoded (for spot checks and the peer)."""
    import csv

    with open(path, encoding=ENCODING, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for n, row in enumerate(reader):
            if limit is not None and n >= limit:
                break
            yield row


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--errors", action="store_true", help="the small file with bad rows")
    args = parser.parse_args(argv)
    if args.errors:
        result = write_with_errors(args.out, args.rows)
        result["bad_rows"] = len(result["bad_rows"])
    else:
        result = write_clean(args.out, args.rows)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
