"""Demo customers: realistic zh_CN customers generated fast, deterministic per seed.

``load_customers(count=N, seed=S)`` appends N customers (Chinese names, valid unique mobiles in
E.164, emails, cities, sources from the ``customer_source`` enum, gender, birthday, created times
over two years, registration times), fills the demo custom fields (created if missing: plan, assets,
files, vip, last_login, first_order_date, wechat_nickname) and puts some customers into demo
customer groups, some with a demo salesperson, so data scopes have data.

Speed: rows are generated in batches (memory stays flat) and written on the bulk path of each
database: one transaction with ``executemany`` on SQLite, ``COPY`` on PostgreSQL; for large loads the
secondary indexes are dropped and rebuilt after the rows (into an empty table also the unique identity
indexes), and SQLite writes through a rollback journal for the load. No timeline entries are written
for demo customers.

Identities never clash with existing customers: the n-th demo customer's mobile comes from a
bijection of n over a pool of ~2 billion valid numbers, n starts after the customers already
there (offset by the seed), and when the table was not empty each batch is checked against the
existing mobiles and emails (a clashing candidate is skipped).
"""

from __future__ import annotations

import contextlib
import json
import logging
import marshal
import multiprocessing
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from shoal.core.actors import SYSTEM
from shoal.core.db import insert_rows, secondary_indexes

from .models import Customer, CustomerGroup, CustomerGroupMembership, CustomField, EnumGroup, EnumItem

log = logging.getLogger(__name__)

BATCH = 10_000
DROP_INDEXES_FROM = 50_000  # rebuild secondary indexes instead of maintaining them row by row
PARALLEL_FROM = 50_000  # generate rows in a second process while this one writes

# Prefixes of Chinese mobile numbers that libphonenumber accepts with any 8 following digits.
MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
                   "153", "155", "156", "157", "158", "159", "176", "177", "178", "180", "181", "182", "183",
                   "184", "185", "186", "187", "188", "189", "191", "199")
_POOL = len(MOBILE_PREFIXES) * 10**8
_STRIDE = 2_654_435_761  # prime, coprime with the pool size: n -> (a*n + b) mod pool is a bijection

SURNAMES = [("王", "wang", 72), ("李", "li", 72), ("张", "zhang", 68), ("刘", "liu", 52), ("陈", "chen", 45),
            ("杨", "yang", 31), ("黄", "huang", 23), ("赵", "zhao", 22), ("吴", "wu", 20), ("周", "zhou", 20),
            ("徐", "xu", 15), ("孙", "sun", 14), ("马", "ma", 13), ("朱", "zhu", 12), ("胡", "hu", 11),
            ("郭", "guo", 11), ("何", "he", 10), ("高", "gao", 10), ("林", "lin", 10), ("罗", "luo", 9),
            ("郑", "zheng", 9), ("梁", "liang", 8), ("谢", "xie", 7), ("宋", "song", 7), ("唐", "tang", 7),
            ("许", "xu", 6), ("韩", "han", 6), ("冯", "feng", 6), ("邓", "deng", 6), ("曹", "cao", 6),
            ("彭", "peng", 5), ("曾", "zeng", 5), ("肖", "xiao", 5), ("田", "tian", 5), ("董", "dong", 5),
            ("袁", "yuan", 4), ("潘", "pan", 4), ("于", "yu", 4), ("蒋", "jiang", 4), ("蔡", "cai", 4),
            ("余", "yu", 4), ("杜", "du", 4), ("叶", "ye", 4), ("程", "cheng", 4), ("苏", "su", 3),
            ("魏", "wei", 3), ("吕", "lv", 3), ("丁", "ding", 3), ("任", "ren", 3), ("沈", "shen", 3),
            ("欧阳", "ouyang", 1), ("司马", "sima", 1), ("上官", "shangguan", 1)]
GIVEN_MALE = [("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"),
              ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("辉", "hui"), ("鹏", "peng"),
              ("华", "hua"), ("飞", "fei"), ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"),
              ("建", "jian"), ("国", "guo"), ("志", "zhi"), ("文", "wen"), ("俊", "jun"), ("博", "bo"),
              ("子", "zi"), ("轩", "xuan"), ("晨", "chen"), ("峰", "feng"), ("龙", "long"), ("海", "hai")]
GIVEN_FEMALE = [("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"),
                ("娟", "juan"), ("霞", "xia"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("欣", "xin"),
                ("怡", "yi"), ("佳", "jia"), ("梦", "meng"), ("雨", "yu"), ("萱", "xuan"), ("晓", "xiao"),
                ("慧", "hui"), ("玲", "ling"), ("倩", "qian"), ("颖", "ying"), ("璐", "lu"), ("月", "yue")]
CITIES = [("上海", 9), ("北京", 9), ("深圳", 8), ("广州", 8), ("杭州", 6), ("成都", 6), ("重庆", 5), ("武汉", 5),
          ("南京", 5), ("西安", 4), ("苏州", 4), ("天津", 4), ("长沙", 3), ("郑州", 3), ("东莞", 3), ("青岛", 3),
          ("沈阳", 2), ("宁波", 2), ("昆明", 2), ("合肥", 2), ("佛山", 2), ("厦门", 2), ("福州", 2), ("济南", 2),
          ("大连", 1), ("哈尔滨", 1), ("南宁", 1), ("贵阳", 1), ("石家庄", 1), ("无锡", 1), ("", 3)]
EMAIL_DOMAINS = [("qq.com", 40), ("163.com", 20), ("126.com", 8), ("gmail.com", 8), ("sina.com", 5),
                 ("outlook.com", 6), ("foxmail.com", 5), ("hotmail.com", 3), ("aliyun.com", 3), ("139.com", 2)]
NICK_WORDS = ["小", "大", "阿", "老", "快乐", "阳光", "星空", "清风", "明月", "向日葵", "咖啡", "猫", "鱼", "木木"]

PLAN_ITEMS = [("free", "免费版"), ("basic", "基础版"), ("pro", "专业版"), ("enterprise", "企业版")]
PLAN_WEIGHTS = [50, 30, 15, 5]
# key: (label, type, show_in_filter, show_in_list)
DEMO_FIELDS = {
    "plan": ("套餐", "enum", True, True),
    "assets": ("资产", "money", True, True),
    "files": ("文件数", "integer", False, True),
    "vip": ("VIP", "boolean", True, True),
    "last_login": ("最近登录", "datetime", True, False),
    "first_order_date": ("首单日期", "date", False, False),
    "wechat_nickname": ("微信昵称", "text", False, False),
}
DEMO_GROUPS = {"华东大客户组": (["manager01"], ["sales01", "sales02"]), "华南销售组": (["manager01"], ["sales03"])}


def _weighted(pairs):
    values, weights = zip(*pairs, strict=True)
    return list(values), list(weights)


def mobile_for(n: int) -> str:
    """The demo mobile number (E.164) of sequence number ``n``: distinct n give distinct numbers."""
    v = (_STRIDE * n + 977_123_457) % _POOL
    return f"+86{MOBILE_PREFIXES[v // 10**8]}{v % 10**8:08d}"


# -- set-up: enum, custom fields, groups ------------------------------------------------------------
def ensure_demo_fields() -> dict[str, CustomField]:
    """The demo custom fields, created (through the service, so filter indexes follow) if missing."""
    from . import services

    group = EnumGroup.objects.filter(code="plan").first()
    if group is None:
        group = services.enum_group_create(actor=SYSTEM, code="plan", name="套餐",
                                           items=[{"code": c, "label": label} for c, label in PLAN_ITEMS])
    else:
        for order, (code, label) in enumerate(PLAN_ITEMS):
            EnumItem.objects.get_or_create(group=group, code=code, defaults={"label": label, "order": order})
    fields = {}
    for order, (key, (label, kind, in_filter, in_list)) in enumerate(DEMO_FIELDS.items()):
        definition = CustomField.objects.filter(key=key).first()
        if definition is None:
            definition = services.custom_field_create(
                actor=SYSTEM, key=key, label=label, type=kind, enum_group_id=group.pk if kind == "enum" else None,
                show_in_filter=in_filter, show_in_list=in_list, order=100 + order)
        if definition.type == kind and definition.enabled:  # never write values of another type
            fields[key] = definition
    return fields


def ensure_demo_groups() -> list[tuple[int, list[int]]]:
    """[(group id, [salesperson ids])] of the demo customer groups (users from the accounts demo)."""
    from shoal.accounts.models import User

    users = dict(User.objects.filter(username__in={u for a, s in DEMO_GROUPS.values() for u in a + s})
                 .values_list("username", "pk"))
    out = []
    for name, (admins, sales) in DEMO_GROUPS.items():
        group, _ = CustomerGroup.objects.get_or_create(name=name)
        group.admins.add(*[users[u] for u in admins if u in users])
        sales_ids = [users[u] for u in sales if u in users]
        group.salespeople.add(*sales_ids)
        out.append((group.pk, sales_ids))
    return out


# -- row generation -------------------------------------------------------------------------------------
# The generated columns, in the order of the tuples the generator yields (values ready for the database).
GENERATED = ("name", "mobile", "email", "gender", "birthday", "city", "qq", "wechat", "source", "customer_type",
             "status", "attributes", "created_at", "updated_at", "registered_at")
MOBILE_POS, EMAIL_POS, CREATED_POS = GENERATED.index("mobile"), GENERATED.index("email"), GENERATED.index("created_at")


def _lut(pairs, size: int = 1000) -> list:
    """A lookup list where each value appears in proportion to its weight: lut[int(random() * size)]."""
    total = sum(w for _, w in pairs)
    out: list = []
    for value, weight in pairs:
        out += [value] * round(weight * size / total)
    return (out + [pairs[0][0]] * size)[:size]


_TIMES = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


class Generator:
    """Rows (tuples of GENERATED values, as the database stores them) for sequence numbers start, start+1, …

    Written for speed (~20 µs a row): lookup lists instead of weighted choices, precomputed date
    and time strings, JSON built as text.
    """

    BIRTHDAYS = [(date(1960, 1, 1) + timedelta(days=i)).isoformat() for i in range(16_800)]

    def __init__(self, *, seed: int, start: int, now: datetime, fields: dict, sources: list[str],
                 customer_types: list[str], vendor: str | None = None):
        self.rng = random.Random(f"shoal-demo:{seed}:{start}")
        self.n = (seed * 104_729_417 + start) % _POOL
        now = now.astimezone(UTC).replace(microsecond=0)
        self.now_ts = int(now.timestamp())
        self.span = 730 * 86400
        self.base_day = self.now_ts // 86400 - 731
        epoch = date(1970, 1, 1)
        self.days = [(epoch + timedelta(days=self.base_day + i)).isoformat() for i in range(800)]
        self.tz = "+00:00" if (vendor or connection.vendor) == "postgresql" else ""
        self.fields = set(fields)
        self.sources = sources or [""]
        self.customer_types = customer_types or [""]
        self.surnames = _lut([((s, p), w) for s, p, w in SURNAMES])
        self.cities = _lut(CITIES)
        self.domains = _lut(EMAIL_DOMAINS)
        self.plans = _lut(list(zip([c for c, _ in PLAN_ITEMS], PLAN_WEIGHTS, strict=True)), 100)

    def __iter__(self) -> Iterator[tuple]:
        return self

    def _stamp(self, ts: int, sep: str = " ") -> str:
        d, t = divmod(ts, 86400)
        return self.days[d - self.base_day] + sep + _TIMES[t]

    def __next__(self) -> tuple:
        rnd = self.rng.random
        n = self.n
        self.n = (n + 1) % _POOL
        v = (_STRIDE * n + 977_123_457) % _POOL
        mobile = f"+86{MOBILE_PREFIXES[v // 100_000_000]}{v % 100_000_000:08d}"
        male = rnd() < 0.52
        surname, sp = self.surnames[int(rnd() * 1000)]
        pool = GIVEN_MALE if male else GIVEN_FEMALE
        k = len(pool)
        c1, p1 = pool[int(rnd() * k)]
        if rnd() < 0.7:
            c2, p2 = pool[int(rnd() * k)]
            name, pinyin = surname + c1 + c2, sp + p1 + p2
        else:
            name, pinyin = surname + c1, sp + p1
        email = f"{pinyin}{v}@{self.domains[int(rnd() * 1000)]}" if rnd() < 0.7 else None
        ts = self.now_ts - int(rnd() * self.span)
        created = self._stamp(ts) + self.tz
        registered = self._stamp(ts - int(rnd() * 2_592_000)) + self.tz if rnd() < 0.8 else None
        birthday = self.BIRTHDAYS[int(rnd() * 16_800)] if rnd() < 0.6 else None
        f = self.fields
        parts = []
        if "plan" in f:
            parts.append(f'"plan":"{self.plans[int(rnd() * 100)]}"')
        if "assets" in f and rnd() < 0.9:
            assets = round(self.rng.lognormvariate(10, 1.6), 2)
            parts.append(f'"assets":{int(assets) if assets == int(assets) else assets!r}')
        if "files" in f and rnd() < 0.85:
            parts.append(f'"files":{int(self.rng.expovariate(0.05))}')
        if "vip" in f:
            parts.append('"vip":true' if rnd() < 0.08 else '"vip":false')
        if "last_login" in f and rnd() < 0.9:
            parts.append(f'"last_login":"{self._stamp(ts + int(rnd() * (self.now_ts - ts)), "T")}Z"')
        if "first_order_date" in f and rnd() < 0.4:
            parts.append(f'"first_order_date":"{self.days[min(ts + int(rnd() * 5_184_000), self.now_ts) // 86400 - self.base_day]}"')
        if "wechat_nickname" in f and rnd() < 0.5:
            parts.append(f'"wechat_nickname":"{NICK_WORDS[int(rnd() * len(NICK_WORDS))]}{c1}"')
        status_r = rnd()
        return (
            name, mobile, email, "male" if male else "female", birthday,
            self.cities[int(rnd() * 1000)],
            str(10_000_000 + v % 2_000_000_000) if rnd() < 0.3 else "",
            f"wx_{pinyin}{v % 100_000}" if rnd() < 0.5 else "",
            self.sources[int(rnd() * len(self.sources))],
            self.customer_types[int(rnd() * len(self.customer_types))],
            "active" if status_r < 0.92 else ("unpaid" if status_r < 0.98 else "banned"),
            "{" + ",".join(parts) + "}", created, created, registered,
        )


# -- bulk writing ---------------------------------------------------------------------------------------
class _Table:
    """Rows into a model's table (:func:`shoal.core.db.insert_rows`): the given columns (in the order of the value tuples), then every
    other column with its default, then the id when ids are given."""

    def __init__(self, model, given: tuple[str, ...], *, with_id: bool):
        self.model = model
        fields = {f.attname: f for f in model._meta.concrete_fields}
        rest = [f for f in model._meta.concrete_fields if f.attname not in given and not f.primary_key]
        self.names = [fields[g].column for g in given] + [f.column for f in rest]
        self.tail = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
        self.with_id = with_id
        if with_id:
            self.names.append(model._meta.pk.column)

    def insert(self, values: list[tuple], ids: list[int] | None = None) -> None:
        tail = self.tail
        rows = [v + tail + (i,) for v, i in zip(values, ids, strict=True)] if self.with_id else [v + tail for v in values]
        insert_rows(self.model._meta.db_table, self.names, rows)


def _existing(cursor, column: str, values: list[str]) -> set[str]:
    """The ``values`` some customer already has in ``column`` (one query per batch)."""
    if not values:
        return set()
    table = Customer._meta.db_table
    if connection.vendor == "postgresql":
        cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" = ANY(%s)', [values])
    else:
        cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IN (SELECT value FROM json_each(%s))',
                       [json.dumps(values)])
    return {row[0] for row in cursor.fetchall()}


def _first_id(cursor) -> int:
    table = Customer._meta.db_table
    if connection.vendor == "postgresql":
        cursor.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute(f'SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM "{table}"), '
                       f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}))")
        return cursor.fetchone()[0] + 1
    cursor.execute(f'SELECT MAX(COALESCE((SELECT MAX(id) FROM "{table}"), 0), '
                   f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0))")
    return cursor.fetchone()[0] + 1


class _InProcess:
    def __init__(self, gen: Generator):
        self.gen = gen

    def take(self, n: int) -> list[tuple]:
        gen = self.gen
        return [next(gen) for _ in range(n)]

    def close(self) -> None:
        pass


def _produce(gen: Generator, size: int, queue) -> None:
    # The parent may have a SIGTERM handler (e.g. a task worker's): this child must die on terminate(), and
    # without waiting to flush rows nobody will read.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    queue.cancel_join_thread()
    while True:  # marshal: the rows are tuples of str/None; about twice as fast as pickle both ways
        queue.put(marshal.dumps([next(gen) for _ in range(size)]))


class _Forked:
    """Batches generated in a forked process (the second core) while this one writes; same sequence
    of rows as in-process. Batches are ``size`` rows; a request for fewer takes from a buffer."""

    def __init__(self, gen: Generator, size: int):
        ctx = multiprocessing.get_context("fork")
        self.queue = ctx.Queue(maxsize=4)
        self.proc = ctx.Process(target=_produce, args=(gen, size, self.queue), daemon=True)
        self.proc.start()
        self.buffer: list[tuple] = []

    def take(self, n: int) -> list[tuple]:
        while len(self.buffer) < n:
            self.buffer += marshal.loads(self.queue.get(timeout=120))
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def close(self) -> None:
        self.proc.terminate()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.queue.close()
        self.queue.cancel_join_thread()


def _batches(gen: Generator, size: int, *, parallel: bool):
    # Fork only a single-threaded process: a child forked while another thread holds a lock (logging, I/O)
    # can wait for it forever (a server or test process with live-server threads generates in-process).
    if parallel and "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return _Forked(gen, size)
    return _InProcess(gen)


@contextlib.contextmanager
def _write_once(wanted: bool):
    """SQLite, ``shoal demo --exclusive`` (a large load outside any transaction, on a database nothing else
    uses): a rollback journal for the load, so the new pages are written once, into the database file (in
    WAL mode every page goes to the WAL first and is copied into the database by the checkpoint after the
    commit, ~4 s at a million). Opt-in: while the load runs, other connections cannot open the database
    (a running server would answer errors). ``synchronous = FULL`` meanwhile (in rollback-journal mode
    NORMAL is not safe on power loss). When another connection holds the database the mode stays WAL."""
    if not (wanted and connection.vendor == "sqlite" and not connection.in_atomic_block):
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        switched = False
        if str(cursor.fetchone()[0]).lower() == "wal":
            try:
                cursor.execute("PRAGMA journal_mode = DELETE")
                switched = str(cursor.fetchone()[0]).lower() == "delete"
            except OperationalError:  # another connection holds the database
                switched = False
        if switched:
            cursor.execute("PRAGMA synchronous")
            synchronous = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA synchronous = FULL")
    try:
        yield
    finally:
        if switched:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"PRAGMA synchronous = {synchronous}")
                    cursor.execute("PRAGMA journal_mode = WAL")
            except OperationalError as exc:  # a reader still holds it: the next connection sets WAL again
                log.warning("demo: could not switch the database back to WAL (%s); the next connection will", exc)


# The unique identity indexes (Customer.Meta.constraints). Into an empty table they are dropped and rebuilt
# like the others: the generated mobiles and emails are distinct by construction, and the rebuild checks it
# (a duplicate fails the load, which rolls back).
IDENTITY_INDEXES = {c.name for c in Customer._meta.constraints if c.name.endswith("_uniq")}

MEMBERSHIP_COLUMNS = ("customer_id", "group_id", "salesperson_id", "assigned_at", "created_at")


def load_customers(*, count: int, seed: int = 1, now: datetime | None = None,
                   progress: Callable[[int, int, float], None] | None = None, batch: int = BATCH,
                   exclusive: bool = False) -> dict:
    """Append ``count`` demo customers. Returns a summary ({"customers", "memberships", "seconds"}).

    ``exclusive``: the database is not in use; SQLite may take it for itself during a large load (faster)."""
    started = time.perf_counter()
    now = now or timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    fields = ensure_demo_fields()
    groups = ensure_demo_groups()
    sources = list(EnumItem.objects.filter(group__code="customer_source", enabled=True).values_list("code", flat=True))
    types = list(EnumItem.objects.filter(group__code="customer_type", enabled=True).values_list("code", flat=True))
    table = Customer._meta.db_table
    customers = _Table(Customer, GENERATED, with_id=True)
    links_table = _Table(CustomerGroupMembership, MEMBERSHIP_COLUMNS, with_id=False)
    memberships = 0
    with _write_once(exclusive and count >= DROP_INDEXES_FROM), transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA cache_size")
            old_cache = cursor.fetchone()[0]
            # 512 MiB: fewer pages spilled (in WAL mode written twice) while the rows and the indexes go in
            cursor.execute("PRAGMA cache_size = -524288")
            cursor.execute("PRAGMA mmap_size")
            old_mmap = cursor.fetchone()[0]
            cursor.execute("PRAGMA mmap_size = 2147483648")  # index builds read the table through the map
            # The rows' JSON is built valid (tests parse it): skip the per-row JSON_VALID check of attributes.
            cursor.execute("PRAGMA ignore_check_constraints = ON")
        stack = contextlib.ExitStack()
        if connection.vendor == "sqlite":
            stack.callback(cursor.execute, "PRAGMA ignore_check_constraints = OFF")
            stack.callback(cursor.execute, f"PRAGMA cache_size = {int(old_cache)}")
            stack.callback(cursor.execute, f"PRAGMA mmap_size = {int(old_mmap)}")
        with stack:
            if connection.vendor == "postgresql":  # no customer may arrive between this look and the load
                cursor.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
            existing = Customer.objects.exists()
            dropped = []
            if count >= DROP_INDEXES_FROM and (not existing or count >= Customer.objects.count()):
                dropped = secondary_indexes(cursor, table)
                if existing:  # the identity indexes answer the per-batch clash checks against the rows there
                    dropped = [(name, sql) for name, sql in dropped if name not in IDENTITY_INDEXES]
                dropped += secondary_indexes(cursor, CustomerGroupMembership._meta.db_table)
                for name, _ in dropped:
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
            next_id = _first_id(cursor)  # SQLite: a write before our next insert makes it fail, never clash
            start = Customer.objects.count() if existing else 0
            gen = Generator(seed=seed, start=start, now=now, fields=fields, sources=sources, customer_types=types)
            mrng = random.Random(f"shoal-demo-groups:{seed}:{start}")
            done = 0
            batches = _batches(gen, batch, parallel=count >= PARALLEL_FROM)
            stack.callback(batches.close)
            while done < count:
                records = batches.take(min(batch, count - done))
                if existing:
                    taken_m = _existing(cursor, "mobile", [r[MOBILE_POS] for r in records])
                    taken_e = _existing(cursor, "email", [r[EMAIL_POS] for r in records if r[EMAIL_POS]])
                    records = [r for r in records if r[MOBILE_POS] not in taken_m and r[EMAIL_POS] not in taken_e]
                ids = list(range(next_id, next_id + len(records)))
                next_id += len(records)
                customers.insert(records, ids)
                links = []
                rnd = mrng.random
                for pk, rec in zip(ids, records, strict=True):
                    r = rnd()
                    if groups and r < 0.3:
                        group_id, sales = groups[0] if r < 0.2 or len(groups) == 1 else groups[1]
                        person = sales[int(rnd() * len(sales))] if sales and rnd() < 0.7 else None
                        links.append((pk, group_id, person, rec[CREATED_POS] if person else None, rec[CREATED_POS]))
                links_table.insert(links)
                memberships += len(links)
                done += len(records)
                if progress:
                    progress(done, count, time.perf_counter() - started)
            batches.close()
            rows_done = time.perf_counter()
            phases = {"rows": round(rows_done - started, 2)}
            if connection.vendor == "postgresql" and dropped:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # CREATE INDEX refuses pending FK checks
            for name, sql in dropped:
                t0 = time.perf_counter()
                cursor.execute(sql)
                log.info("demo: index %s rebuilt in %.2f s", name, time.perf_counter() - t0)
            if connection.vendor == "postgresql" and count:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [next_id - 1])
            elif count:
                cursor.execute("UPDATE sqlite_sequence SET seq = MAX(seq, %s) WHERE name = %s", [next_id - 1, table])
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) SELECT %s, %s WHERE NOT EXISTS "
                               "(SELECT 1 FROM sqlite_sequence WHERE name = %s)", [table, next_id - 1, table])
            phases["indexes"] = round(time.perf_counter() - rows_done, 2)
    if connection.vendor == "postgresql" and count >= DROP_INDEXES_FROM:
        # Statistics for the planner; outside a transaction also VACUUM, which fills the visibility map so
        # counts over an index can be answered from the index alone (index-only scans).
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        vacuum_started = time.perf_counter()
        with connection.cursor() as cursor:
            for name in (table, CustomerGroupMembership._meta.db_table):
                cursor.execute(f'{command} "{name}"')
        phases["vacuum"] = round(time.perf_counter() - vacuum_started, 2)
    return {"customers": count, "memberships": memberships, "seconds": round(time.perf_counter() - started, 2),
            "phases": phases}
