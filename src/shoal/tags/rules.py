"""Auto-tag rules: validation, compilation to ``Q`` (through the query engine) and dependencies."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from shoal.core.errors import ShoalError
from shoal.segments.catalog import field_catalog
from shoal.segments.selectors import condition_q, validate

from .conditions import is_relative, referenced_tag_ids
from .models import Tag, Tagging, TagKind, TagRule

MAX_RULE_TAGS = 1000


def _tag_list(value, key: str) -> list[int]:
    if value is None:
        return []
    if (not isinstance(value, list) or len(value) > MAX_RULE_TAGS
            or any(isinstance(v, bool) or not isinstance(v, int) for v in value)):
        raise ShoalError("invalid_rule", _("%(key)s must be a list of tag ids") % {"key": key}, {"field": key})
    ids = sorted(set(value))
    known = set(Tag.objects.filter(pk__in=ids).exclude(kind=TagKind.PERSONAL).values_list("pk", flat=True))
    unknown = [v for v in ids if v not in known]
    if unknown:
        raise ShoalError("unknown_tag", _("Unknown tags in %(key)s: %(ids)s") % {"key": key, "ids": unknown},
                         {"field": key, "ids": unknown})
    return ids


def clean_conditions(*, query=None, sql: str | None = None, include_tags=None, exclude_tags=None,
                     catalog=None, optional: bool = False) -> dict:
    """Check which customers a system-level rule takes (a tag rule, a pool rule): a condition tree and/or
    custom SQL (through the query engine's checks) plus include/exclude tags (known, not personal).
    At least one of query, sql or include tags is needed unless ``optional`` (then none: every customer).
    The cleaned values; raises ``ShoalError`` (400)."""
    sql = (sql or "").strip()
    include, exclude = _tag_list(include_tags, "include_tags"), _tag_list(exclude_tags, "exclude_tags")
    if query is None and not sql and not include and not optional:
        raise ShoalError("invalid_rule", _("A rule needs a condition tree (query), custom SQL (sql) or include tags"))
    if query is not None or sql:
        validate(query=query, sql=sql or None, catalog=catalog if catalog is not None else field_catalog())
    used = referenced_tag_ids(query=query, sql=sql) | set(include) | set(exclude)
    personal = list(Tag.objects.filter(pk__in=used, kind=TagKind.PERSONAL).values_list("pk", flat=True))
    if personal:
        raise ShoalError("unknown_tag", _("A rule cannot use personal tags: %(ids)s") % {"ids": personal},
                         {"ids": personal})
    return {"query": query, "sql": sql, "include_tags": include, "exclude_tags": exclude}


def clean_rule(*, tag: Tag, query=None, sql: str | None = None, include_tags=None, exclude_tags=None,
               catalog=None) -> dict:
    """Check a rule's parts; the cleaned values for ``TagRule``. Raises ``ShoalError`` (400)."""
    cleaned = clean_conditions(query=query, sql=sql, include_tags=include_tags, exclude_tags=exclude_tags,
                               catalog=catalog)
    used = (referenced_tag_ids(query=cleaned["query"], sql=cleaned["sql"]) | set(cleaned["include_tags"])
            | set(cleaned["exclude_tags"]))
    if tag.pk in used:
        raise ShoalError("tag_cycle", _("A tag's rule cannot depend on the tag itself"), {"ids": [tag.pk]})
    cycle = _cycle_through(tag.pk, used)
    if cycle:
        raise ShoalError("tag_cycle", _("The rule would make tags depend on each other in a circle: %(path)s")
                         % {"path": " → ".join(cycle)}, {"ids": cycle})
    return cleaned


def dependencies(rule: TagRule) -> set[int]:
    return referenced_tag_ids(query=rule.query, sql=rule.sql) | set(rule.include_tags) | set(rule.exclude_tags)


def dependency_map(tag_ids=None) -> dict[int, set[int]]:
    """Auto tag → the tags its rules read."""
    rules = TagRule.objects.filter(tag__kind=TagKind.AUTO)
    if tag_ids is not None:
        rules = rules.filter(tag_id__in=tag_ids)
    deps: dict[int, set[int]] = {}
    for rule in rules:
        deps.setdefault(rule.tag_id, set()).update(dependencies(rule))
    return deps


def _cycle_through(tag_id: int, used: set[int]) -> list[str]:
    """A path of tag names from a used tag back to ``tag_id`` if the new rule would close a circle."""
    deps = dependency_map()
    stack = [(u, [u]) for u in used]
    seen = set()
    while stack:
        node, path = stack.pop()
        if node == tag_id:
            names = dict(Tag.objects.filter(pk__in=path + [tag_id]).values_list("pk", "name"))
            return [names.get(tag_id, str(tag_id))] + [names.get(p, str(p)) for p in path]
        if node in seen:
            continue
        seen.add(node)
        stack.extend((d, path + [d]) for d in deps.get(node, ()))
    return []


def rule_is_relative(rule: TagRule) -> bool:
    return is_relative(query=rule.query, sql=rule.sql)


def has_any(tag_ids) -> Exists:
    return Exists(Tagging.objects.filter(customer_id=OuterRef("pk"), tag_id__in=list(tag_ids)))


def rule_q(rule, catalog) -> Q:
    """The customers a rule matches (a ``TagRule`` or any object with ``query``, ``sql``, ``include_tags``
    and ``exclude_tags``, e.g. a pool rule). Rules are system-level: no masking, no scope."""
    q = Q()
    if rule.query is not None or rule.sql:
        q &= condition_q(query=rule.query, sql=rule.sql or None, catalog=catalog)
    if rule.include_tags:
        q &= Q(has_any(rule.include_tags))
    if rule.exclude_tags:
        q &= ~Q(has_any(rule.exclude_tags))
    return q


def order_by_dependencies(tags: list[Tag], deps: dict[int, set[int]]) -> list[list[Tag]]:
    """Levels: the tags of a level read only tags of earlier levels (or tags outside the list)."""
    ids = {t.pk for t in tags}
    remaining = {t.pk: t for t in tags}
    levels: list[list[Tag]] = []
    done: set[int] = set()
    while remaining:
        level = [t for pk, t in remaining.items() if not ((deps.get(pk, set()) & ids) - done)]
        if not level:  # a circle (refused when rules are saved): evaluate the rest together
            level = list(remaining.values())
        levels.append(sorted(level, key=lambda t: t.pk))
        for t in level:
            done.add(t.pk)
            remaining.pop(t.pk)
    return levels
