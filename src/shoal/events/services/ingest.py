"""Receiving events (单条/批量接入): check them, find or create their customers, record every one of them in
the history (accepted or refused, with the reason), and queue the accepted ones for the workers.

One request (one event or a batch of up to 1,000) is one transaction, so an accepted event is durable
before the answer says so. Set-based: the event types in one query, the dedup keys in one statement, the
customers through ``BatchIdentify`` (one query per identity field of the batch), the events and the queue
rows in one multi-row INSERT each (COPY on PostgreSQL).

Dedup: an accepted event's ``(source, id)`` is the primary key of ``EventKey``: a resent event (the
same application and id) is answered ``duplicate`` and neither recorded nor processed again, for ever.
Two requests carrying the same event at once: the second waits on the first's key and is a duplicate.
A refused event leaves no key (its resend after a fix is accepted)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.core.db import insert_rows
from shoal.core.errors import ShoalError

from .. import ratelimit
from ..models import Event, EventKey, EventSource, EventStatus, EventType, PendingEvent
from ..params import MAX_EVENT_BYTES, RATE_LIMIT
from ..reasons import Refusal, invalid, reason_error, reason_status
from ..validation import check_data, parse_timestamp

MAX_BATCH = 1000
EVENT_KEYS = frozenset({"event", "id", "timestamp", "customer", "data"})
IDENTITY_KEYS = ("ent_user_id", "mobile", "email")
CUSTOMER_KEYS = frozenset({*IDENTITY_KEYS, "name"})


@dataclass
class Caller:
    """Who sends: an application (its secret key, or its publishable key from a web page), a user (a
    personal token or a session), or the command line (neither)."""

    application: Any = None
    user: Any = None
    source: str = EventSource.API
    ip: str | None = None
    origin: str | None = None
    publishable: bool = False
    rate_limited: bool = True

    @property
    def actor(self):
        return self.user or self.application or SYSTEM

    @property
    def dedup_source(self) -> int:
        return self.application.pk if self.application is not None else 0

    @property
    def rate_bucket(self) -> str:
        if self.application is not None:
            return f"app:{self.application.pk}"
        return f"user:{getattr(self.user, 'pk', 0)}"


@dataclass(frozen=True)
class BadBody:
    """A request body that is not an event (not JSON, or not the batch's shape): recorded as refused."""

    text: str
    problem: str = "bad_json"


@dataclass
class _Item:
    index: int
    payload: str  # the event as received, as JSON text
    code: str = ""
    client_id: str = ""
    generated: bool = False
    occurred_at: datetime | None = None
    customer: dict | None = None
    data: dict = field(default_factory=dict)
    event_type: _Type | None = None
    refusal: Refusal | None = None
    duplicate: bool = False
    identity: dict = field(default_factory=dict)
    customer_id: int | None = None
    created: bool = False

    def refuse(self, refusal: Refusal) -> None:
        if self.refusal is None:
            self.refusal = refusal


# -- reading ------------------------------------------------------------------------------------------
def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def loads(body) -> Any:
    """Strict JSON (no NaN or Infinity, which the databases' JSON types refuse)."""
    return json.loads(body, parse_constant=_reject_constant)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _prepare(index: int, raw, max_bytes: int) -> _Item:
    if isinstance(raw, BadBody):
        item = _Item(index=index, payload=_dumps({"body": raw.text[:500]}))
        item.refuse(invalid(raw.problem))
        return item
    try:
        text = _dumps(raw)
    except (TypeError, ValueError):  # not JSON data (the command line's own callers only)
        text = _dumps(repr(raw)[:200])
    item = _Item(index=index, payload=text)
    if isinstance(raw, dict):
        code = raw.get("event")
        item.code = code.strip()[:64] if isinstance(code, str) else ""
        client_id = raw.get("id")
        if isinstance(client_id, int) and not isinstance(client_id, bool):
            client_id = str(client_id)
        item.client_id = client_id.strip()[:128] if isinstance(client_id, str) else ""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        item.payload = _dumps({"truncated": True, "size": size, "event": item.code})
        item.refuse(Refusal("too_large", limit=max_bytes))
        return item
    try:
        _check_shape(item, raw)
    except Refusal as refusal:
        item.refuse(refusal)
    if not item.client_id and item.refusal is None:
        item.client_id, item.generated = uuid.uuid4().hex, True
    return item


def _plain_value(value) -> bool:
    return value is None or (type(value) in (str, int))


def _check_shape(item: _Item, raw) -> None:
    if type(raw) is not dict:
        raise invalid("not_object")
    if not raw.keys() <= EVENT_KEYS:
        unknown = sorted(str(k)[:40] for k in raw.keys() - EVENT_KEYS)
        raise invalid("unknown_keys", keys=", ".join(unknown[:10]))
    code = raw.get("event")
    if not item.code or type(code) is not str or len(code) > 64 and len(code.strip()) > 64:
        raise invalid("no_event")
    client_id = raw.get("id")
    if client_id is not None and client_id != "" and (type(client_id) not in (str, int)
                                                      or len(str(client_id).strip()) > 128):
        raise invalid("bad_id")
    timestamp = raw.get("timestamp")
    if timestamp is not None:
        item.occurred_at = parse_timestamp(timestamp)
    customer = raw.get("customer")
    if type(customer) is not dict or not customer or not customer.keys() <= CUSTOMER_KEYS \
            or not all(_plain_value(v) for v in customer.values()):
        raise invalid("bad_customer")
    identity = {k: v for k, v in customer.items() if v is not None and v != ""}
    if not any(k in identity for k in IDENTITY_KEYS):
        raise invalid("bad_customer")
    item.customer = identity
    data = raw.get("data")
    if data is None:
        data = {}
    elif type(data) is not dict:
        raise invalid("bad_data")
    item.data = data


def _caller_refusal(caller: Caller) -> Refusal | None:
    app = caller.application
    if app is None:
        return None
    if not app.enabled:
        return Refusal("application_disabled")
    if not app.allows_ip(caller.ip):
        return Refusal("ip_not_allowed", ip=caller.ip or "")
    if caller.publishable and not app.allows_origin(caller.origin):
        return Refusal("origin_not_allowed", origin=(caller.origin or "")[:200])
    return None


@dataclass(frozen=True)
class _Type:
    """What ingestion needs of an event type (read with one plain query)."""

    pk: int
    code: str
    enabled: bool
    create_customers: bool
    fields: list


def _types(codes: set[str]) -> dict[str, _Type]:
    if not codes:
        return {}
    table = connection.ops.quote_name(EventType._meta.db_table)
    ordered = sorted(codes)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, code, enabled, create_customers, fields FROM {table} "
                       f"WHERE code IN ({', '.join(['%s'] * len(ordered))})", ordered)
        rows = cursor.fetchall()
    return {code: _Type(pk, code, bool(enabled), bool(create), json.loads(fields) if isinstance(fields, str) else fields)
            for pk, code, enabled, create, fields in rows}


def _match_types(items: list[_Item], caller: Caller) -> None:
    types = _types({i.code for i in items if i.code})
    allowed = set(caller.application.publishable_event_types or []) if caller.publishable else None
    for item in items:
        item.event_type = types.get(item.code)
        if item.refusal is not None:
            continue
        event_type = item.event_type
        try:
            if event_type is None:
                raise Refusal("unknown_event", event=item.code)
            if allowed is not None and item.code not in allowed:
                raise Refusal("event_not_allowed", event=item.code)
            if not event_type.enabled:
                raise Refusal("event_disabled", event=item.code)
            check_data(event_type.fields, item.data)
        except Refusal as refusal:
            item.refuse(refusal)


# -- writing ------------------------------------------------------------------------------------------
def _db_time(value: datetime | None):
    """A time as the database column takes it: as it is for PostgreSQL; for SQLite the UTC text Django
    writes (``adapt_datetimefield_value``, without its per-call settings look-ups)."""
    if value is None or connection.vendor == "postgresql":
        return value
    return str(value.astimezone(UTC).replace(tzinfo=None))


def _insert_keys(source: int, client_ids: list[str]) -> set[str]:
    """Insert the dedup keys; the ones that were new (the others are duplicates)."""
    if not client_ids:
        return set()
    client_ids = sorted(client_ids)  # every request takes the key locks in one order: no deadlock between two
    table = connection.ops.quote_name(EventKey._meta.db_table)
    new: set[str] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"INSERT INTO {table} (source, client_id) SELECT %s, unnest(%s::varchar[]) "
                           f"ON CONFLICT DO NOTHING RETURNING client_id", [source, client_ids])
            new.update(row[0] for row in cursor.fetchall())
            return new
        for start in range(0, len(client_ids), 400):
            chunk = client_ids[start:start + 400]
            cursor.execute(f"INSERT INTO {table} (source, client_id) VALUES {', '.join(['(%s, %s)'] * len(chunk))} "
                           f"ON CONFLICT DO NOTHING RETURNING client_id", [v for c in chunk for v in (source, c)])
            new.update(row[0] for row in cursor.fetchall())
    return new


def _delete_keys(source: int, client_ids: list[str]) -> None:
    if client_ids:
        EventKey.objects.filter(source=source, client_id__in=client_ids).delete()


def _customer_refusal(exc: ShoalError) -> Refusal:
    if exc.status == 409:
        return Refusal("customer_conflict", **{k: v for k, v in exc.detail.items() if isinstance(v, str | int | list)})
    return Refusal("invalid_customer", problem=exc.message[:200])


_IN_CHUNK = 900  # values per IN (...): SQLite's default limit is 999 variables


def _identities(items: list[_Item]) -> dict[str, set[str]]:
    """Each item's identity values, normalised as stored (``item.identity``); the values per field."""
    from shoal.customers.identity import NORMALISERS, identity_fields

    fields = identity_fields()
    wanted: dict[str, set[str]] = {f: set() for f in fields}
    for item in items:
        values = {}
        try:
            for f in fields:
                raw = item.customer.get(f)
                if raw not in (None, ""):
                    values[f] = NORMALISERS[f](raw, field=f)
            if not any(values.values()):
                raise ShoalError("identity_required", gettext("At least one identity field is needed: %(fields)s")
                                 % {"fields": ", ".join(fields)}, {"fields": list(fields)})
        except ShoalError as exc:
            item.refuse(_customer_refusal(exc))
            continue
        item.identity = {f: v for f, v in values.items() if v}
        for f, v in item.identity.items():
            wanted[f].add(v)
    return wanted


def _resolve_customers(items: list[_Item], caller: Caller) -> None:
    """Find each item's customer by its identity values (one query per identity field and 900 values for the
    whole batch, reading ids only); create the unknown ones (source ``api``) where the type allows it,
    through the customers' batch identify (in the order of the items: a customer created by an earlier
    event of the batch is found by a later one)."""
    from shoal.customers.models import Customer

    items = [i for i in items if i.refusal is None]
    if not items:
        return
    holders: dict[tuple[str, str], int] = {}
    table = connection.ops.quote_name(Customer._meta.db_table)
    for f, values in _identities(items).items():
        if not values:
            continue
        ordered = sorted(values)
        column = connection.ops.quote_name(Customer._meta.get_field(f).column)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # one array parameter, however many values
                cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} = ANY(%s)", [ordered])
                holders.update(((f, value), pk) for value, pk in cursor.fetchall())
                continue
            for start in range(0, len(ordered), _IN_CHUNK):
                chunk = ordered[start:start + _IN_CHUNK]
                cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} IN ({', '.join(['%s'] * len(chunk))})",
                               chunk)
                holders.update(((f, value), pk) for value, pk in cursor.fetchall())
    hidden = _out_of_scope(caller, set(holders.values()))
    unknown = []
    for item in items:
        if item.refusal is not None:
            continue
        found = {holders[(f, v)] for f, v in item.identity.items() if (f, v) in holders}
        if len(found) > 1:
            item.refuse(Refusal("customer_conflict", customers=sorted(found - hidden)))
        elif found and found & hidden:
            item.refuse(Refusal("invalid_customer", problem=gettext("the customer is outside your data scope")))
        elif found:
            item.customer_id = found.pop()
        elif not item.event_type.create_customers:
            item.refuse(Refusal("unknown_customer"))
        else:
            unknown.append(item)
    if unknown:
        _create_customers(unknown, caller)


def _out_of_scope(caller: Caller, pks: set[int]) -> set[int]:
    """Of ``pks``, the customers a user caller may not see (applications and the command line see all)."""
    if caller.user is None or not pks:
        return set()
    from shoal.customers.selectors import customer_queryset

    scoped = customer_queryset(actor=caller.user)
    if not scoped.query.where:
        return set()
    ordered = sorted(pks)
    visible: set[int] = set()
    for start in range(0, len(ordered), _IN_CHUNK):
        visible |= set(scoped.filter(pk__in=ordered[start:start + _IN_CHUNK]).values_list("pk", flat=True))
    return pks - visible


def _create_customers(items: list[_Item], caller: Caller) -> None:
    from shoal.customers import cleaning
    from shoal.customers.services.identify_batch import BatchIdentify

    batch = BatchIdentify(caller.actor, [i.customer for i in items], cleaning.enabled_definitions())
    made = []
    for index, item in enumerate(items):
        try:
            customer, item.created, _changed = batch.identify(index, {**item.customer, "source": "api"})
            made.append((item, customer))
        except ShoalError as exc:
            item.refuse(_customer_refusal(exc))
    batch.flush()
    for item, customer in made:
        item.customer_id = customer.pk


EVENT_COLUMNS = ("received_at", "occurred_at", "application_id", "event_type_id", "event_code", "client_id",
                 "customer_id", "customer_created", "status", "reason", "reason_detail", "source", "ip", "payload")


def _write(items: list[_Item], caller: Caller, now: datetime) -> None:
    candidates = []
    seen: set[str] = set()
    for item in items:
        if item.refusal is not None:
            continue
        if not item.generated and item.client_id in seen:
            item.duplicate = True  # the same id twice in one batch: the first one counts
            continue
        seen.add(item.client_id)
        candidates.append(item)
    source = caller.dedup_source
    keyed = [i.client_id for i in candidates if not i.generated]
    new = _insert_keys(source, keyed)
    for item in candidates:
        if not item.generated and item.client_id not in new:
            item.duplicate = True
    candidates = [i for i in candidates if not i.duplicate]
    _resolve_customers(candidates, caller)
    _delete_keys(source, [i.client_id for i in candidates if i.refusal is not None and not i.generated])

    recorded = [i for i in items if not i.duplicate]
    received = _db_time(now)
    app_id = caller.application.pk if caller.application is not None else None
    rows = []
    for item in recorded:
        refusal = item.refusal
        rows.append([
            received, _db_time(item.occurred_at), app_id, item.event_type.pk if item.event_type else None,
            item.code, item.client_id, item.customer_id,
            item.created, EventStatus.FAILED if refusal else EventStatus.SUCCESS, refusal.code if refusal else "",
            _dumps(refusal.detail) if refusal else "{}", caller.source, caller.ip, item.payload,
        ])
    ids = insert_rows(Event._meta.db_table, EVENT_COLUMNS, rows, returning="id")
    pending = [[event_id, received] for event_id, item in zip(ids, recorded, strict=True) if item.refusal is None]
    insert_rows(PendingEvent._meta.db_table, ("event_id", "received_at"), pending)


def _result(item: _Item) -> dict:
    if item.duplicate:
        return {"id": item.client_id, "status": "duplicate", "error": None, "http_status": 202}
    if item.refusal is not None:
        return {"id": item.client_id or None, "status": "failed",
                "error": reason_error(item.refusal.code, item.refusal.detail),
                "http_status": reason_status(item.refusal.code)}
    return {"id": item.client_id, "status": "accepted", "error": None, "http_status": 202}


def ingest(*, caller: Caller, items: list) -> list[dict]:
    """Receive ``items`` (event objects as sent); a result per item, in order: ``{"id", "status":
    "accepted"|"duplicate"|"failed", "error": None|{"code", "message", "detail"}, "http_status"}``.

    Raises ShoalError 429 (``detail.retry_after`` in seconds) when the caller's rate limit would be
    passed; nothing is recorded then."""
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        raise ShoalError("too_many", gettext("At most %(limit)s events per batch") % {"limit": MAX_BATCH},
                         {"max": MAX_BATCH}, status=400)
    if not items:
        return []
    now = timezone.now()
    with parameters.cached():
        parameters.prefetch(MAX_EVENT_BYTES.code, RATE_LIMIT.code, "CUSTOMER_IDENTITY_FIELDS", "DEFAULT_PHONE_REGION")
        max_bytes, limit = parameters.get(MAX_EVENT_BYTES.code), parameters.get(RATE_LIMIT.code)
        prepared = [_prepare(index, raw, max_bytes) for index, raw in enumerate(items)]
        refusal = _caller_refusal(caller)
        if refusal is not None:
            for item in prepared:
                item.refusal = refusal
        _match_types(prepared, caller)
        for attempt in range(3):
            try:
                with transaction.atomic():
                    if caller.rate_limited:
                        wait = ratelimit.take(caller.rate_bucket, len(prepared), limit)
                        if wait is not None:
                            raise ShoalError("throttled", gettext("Too many events; retry in %(seconds)s s")
                                             % {"seconds": max(1, round(wait))},
                                             {"retry_after": max(1, round(wait + 0.499)), "limit": limit}, status=429)
                    _write(prepared, caller, now)
                break
            except (IntegrityError, OperationalError):
                # another request created one of these customers between our read and our write (or two
                # requests creating the same new customers deadlocked, and this one was chosen): again
                if attempt == 2:
                    raise
                for item in prepared:
                    item.duplicate, item.customer_id, item.created = False, None, False
                    if item.refusal is not None and item.refusal.code in ("unknown_customer", "invalid_customer",
                                                                          "customer_conflict"):
                        item.refusal = None
    if any(item.refusal is None and not item.duplicate for item in prepared):
        from ..tasks import request_processing

        request_processing()
    return [_result(item) for item in prepared]
