"""Tags in the condition language (registered with ``shoal.segments.extensions``; segments never imports tags).

- tree nodes ``{"tags_any": [ids]}`` (has any of these tags), ``{"tags_all": [ids]}`` (has all of them),
  ``{"tags_none": [ids]}`` (has none of them): a non-empty list of at most 1000 tag ids, each a tag of
  object type customer usable by the viewer (see :func:`usable_tags`); compiled to ``EXISTS`` over the
  taggings, so they are two-valued and ``not`` is their exact complement;
- custom SQL ``has_tag(<id>)``: true when the customer has the tag (an ``EXISTS`` over the taggings);
- the advanced query page's pickers: include tags (any of) and exclude tags (none of);
- for the refresh engine: :func:`referenced_tag_ids` and :func:`is_relative`.

A customer "has" a tag when a tagging row exists (an expired one until the expiry job removes it).
"""

from __future__ import annotations

from functools import reduce

import sqlglot
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from shoal.core.actors import is_system
from shoal.segments.extensions import (
    NodeKind,
    Picker,
    SqlFunction,
    node_kind,
    register_node_kind,
    register_picker,
    register_sql_function,
    sql_function,
)
from shoal.segments.sql import TABLE, sql_error
from shoal.segments.tree import MAX_LIST, condition_error

from .models import ObjectType, Tag, TagCategory, Tagging, TagKind

KINDS = ("tags_any", "tags_all", "tags_none")
MAX_ID = 2**63 - 1
ALL_BY_EXISTS = 10  # tags_all of up to this many ids: one EXISTS each; more: one count (see _compile_all)
RELATIVE_OPS = frozenset({"within_last_days", "older_than_days"})
RELATIVE_WORDS = frozenset({"now", "today", "yesterday", "tomorrow"})  # PostgreSQL's special date/time texts


def usable_tags(viewer=None):
    """The tags a condition checked for ``viewer`` may use: customer tags that are not personal, and the
    viewer's own personal tags (none at system level: ``viewer`` None or SYSTEM)."""
    qs = Tag.objects.filter(category__object_type=ObjectType.CUSTOMER)
    mine = Q(owner_id=viewer.pk) if not is_system(viewer) and getattr(viewer, "pk", None) else Q(pk__in=[])
    return qs.filter(~Q(kind=TagKind.PERSONAL) | mine)


def _known(ids, context) -> set[int]:
    """Which of ``ids`` the context's viewer may use (looked up once per id and parse)."""
    known = context.cache.setdefault("tags.usable", {})
    missing = [i for i in ids if i not in known]
    if missing:
        found = set(usable_tags(context.viewer).filter(pk__in=missing).values_list("pk", flat=True))
        known.update({i: i in found for i in missing})
    return {i for i in ids if known[i]}


def _parse_ids(body, *, path: str, context) -> tuple[int, ...]:
    if not isinstance(body, list) or not body or len(body) > MAX_LIST:
        raise condition_error(path, gettext("give a list of 1 to %(limit)s tag ids") % {"limit": MAX_LIST})
    for i, item in enumerate(body):
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item <= MAX_ID:
            raise condition_error(f"{path}[{i}]", gettext("a tag id is a positive whole number"), value=repr(item)[:50])
    usable = _known(set(body), context)
    for i, item in enumerate(body):
        if item not in usable:
            raise condition_error(f"{path}[{i}]", gettext("unknown tag %(id)s") % {"id": item}, tag_id=item)
    return tuple(sorted(set(body)))


def _has_any(ids) -> Exists:
    match = {"tag_id": ids[0]} if len(ids) == 1 else {"tag_id__in": ids}
    return Exists(Tagging.objects.filter(customer_id=OuterRef("pk"), **match))


def _compile_any(ids) -> Q:
    return Q(_has_any(ids))


def _compile_all(ids) -> Q:
    """One EXISTS per tag AND-ed (each a probe of the (tag, customer) key): at 100k customers with
    ~3 taggings each it took 0.13 s (SQLite) / 0.08 s (PostgreSQL) for 2 tags and 0.31 s / 0.43-0.6 s for
    10, where counting the customer's taggings among the ids took 0.18 / 0.33 and 0.68 / 0.71-0.84 s.
    SQLite refuses an expression of 1000 ANDs, so longer lists are counted: the customer's taggings
    among the ids (no duplicates: the key is the pair) equal their number; COUNT is never NULL."""
    if len(ids) <= ALL_BY_EXISTS:
        return reduce(lambda q, tag_id: q & Q(_has_any([tag_id])), ids, Q())
    among = (Tagging.objects.filter(customer_id=OuterRef("pk"), tag_id__in=ids).order_by().values("customer_id")
             .annotate(n=Count("*")).values("n"))
    return Q(Exact(Coalesce(Subquery(among, output_field=IntegerField()), Value(0)), len(ids)))


def _compile_none(ids) -> Q:
    return ~Q(_has_any(ids))


# -- custom SQL: has_tag(<id>) -------------------------------------------------------------------
def _tag_literal(node: exp.Anonymous) -> int | None:
    args = node.expressions
    if len(args) != 1 or not isinstance(args[0], exp.Literal) or args[0].is_string:
        return None
    text = args[0].this
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        return None
    return int(text)


def _check_has_tag(node: exp.Anonymous, *, context) -> None:
    tag_id = _tag_literal(node)
    if tag_id is None:
        raise sql_error(gettext("has_tag takes one tag id (a whole number), e.g. has_tag(12)"), node.sql())
    if not _known({tag_id}, context):
        raise sql_error(gettext("Unknown tag %(id)s") % {"id": tag_id}, node.sql())


def _render_has_tag(node: exp.Anonymous, vendor: str) -> str:
    table = Tagging._meta.db_table
    return (f'EXISTS (SELECT 1 FROM "{table}" WHERE "{table}"."tag_id" = {_tag_literal(node)} '
            f'AND "{table}"."customer_id" = "{TABLE}"."id")')


# -- the query page's pickers ----------------------------------------------------------------------
def tag_choices(viewer) -> list[dict]:
    """The tags ``viewer`` may use, grouped by category (path "parent / child", in the tree's order):
    ``[{"group": path, "items": [{"id", "label", "personal"}]}]``."""
    categories = {c.pk: c for c in TagCategory.objects.filter(object_type=ObjectType.CUSTOMER)}

    def lineage(pk):
        chain, seen = [], set()
        while pk in categories and pk not in seen:
            seen.add(pk)
            chain.append(categories[pk])
            pk = categories[pk].parent_id
        return chain[::-1]

    groups: dict[int, dict] = {}
    for tag in sorted(usable_tags(viewer), key=lambda t: (t.name, t.pk)):  # the same order on every database
        if tag.category_id not in groups:
            chain = lineage(tag.category_id)
            groups[tag.category_id] = {"group": " / ".join(c.name for c in chain),
                                       "order": [(c.order, c.name, c.pk) for c in chain], "items": []}
        groups[tag.category_id]["items"].append({"id": tag.pk, "label": tag.name,
                                                 "personal": tag.kind == TagKind.PERSONAL})
    ordered = sorted(groups.values(), key=lambda g: g["order"])
    return [{"group": g["group"], "items": g["items"]} for g in ordered]


# -- for the refresh engine ------------------------------------------------------------------------
def _walk(node):
    """Every dict of a raw (stored) condition tree."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def _sql_tree(sql: str):
    if not sql or not isinstance(sql, str):
        return None
    try:
        return sqlglot.parse_one(sql, read="postgres")
    except (ParseError, TokenError, RecursionError):
        return None


def referenced_tag_ids(*, query=None, sql: str = "") -> set[int]:
    """Every tag id a rule (a stored, valid condition tree and/or custom SQL) uses."""
    ids: set[int] = set()
    for node in _walk(query) if query is not None else ():
        for kind in KINDS:
            if isinstance(node.get(kind), list):
                ids.update(i for i in node[kind] if isinstance(i, int) and not isinstance(i, bool))
    tree = _sql_tree(sql)
    if tree is not None:
        for call in tree.find_all(exp.Anonymous):
            if str(call.this).lower() == "has_tag" and _tag_literal(call) is not None:
                ids.add(_tag_literal(call))
    return ids


def _volatile_node(node: dict) -> bool:
    return any(kind is not None and kind.volatile for kind in map(node_kind, node))


def is_relative(*, query=None, sql: str = "") -> bool:
    """The rule compares with today (its answer changes with the date alone): ``within_last_days`` /
    ``older_than_days`` leaves; ``days_ago(n)``, CURRENT_DATE, CURRENT_TIMESTAMP, now() or a 'now' /
    'today' text in custom SQL. Or it reads what changes with no write to the customer: a volatile node kind
    or SQL function (the events' ``event_count``…). Such rules are re-evaluated in full by the daily refresh."""
    if query is not None and any(node.get("op") in RELATIVE_OPS or _volatile_node(node) for node in _walk(query)):
        return True
    tree = _sql_tree(sql)
    if tree is None:
        return False
    for node in tree.walk():
        if isinstance(node, exp.CurrentDate | exp.CurrentTimestamp | exp.CurrentTime):
            return True
        if isinstance(node, exp.Anonymous) and (str(node.this).lower() == "days_ago" or (
                sql_function(node.this) is not None and sql_function(node.this).volatile)):
            return True
        if isinstance(node, exp.Literal) and node.is_string and node.this.strip().lower() in RELATIVE_WORDS:
            return True
    return False


for _key, _compile in (("tags_any", _compile_any), ("tags_all", _compile_all), ("tags_none", _compile_none)):
    register_node_kind(NodeKind(_key, parse=_parse_ids, compile=_compile))
register_sql_function(SqlFunction("has_tag", check=_check_has_tag, render=_render_has_tag,
                                  help=_("has_tag(id): the customer has the tag with this id.")))
register_picker(Picker("tags_any", _("Include tags (any of)"), tag_choices))
register_picker(Picker("tags_none", _("Exclude tags (none of)"), tag_choices))
