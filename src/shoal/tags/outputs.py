"""What tags add to customers' output and timeline (registered in ``registry.py`` through
``shoal.customers.extensions``): the visible tags of a page of customers, and tag history as timeline entries
(no ``TimelineEntry`` rows are written for taggings: a refresh may add millions)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .models import TagHistory, TagSource
from .selectors import customer_tags, history_feed


def customer_tag_outputs(*, viewer, customer_ids) -> dict[int, dict]:
    """``{customer id: {"tags": [{"id", "name", "kind"}]}}`` for a page of customers: one query."""
    return {pk: {"tags": tags} for pk, tags in customer_tags(actor=viewer, customer_ids=customer_ids).items()}


def who(row: dict) -> str:
    """Who added or removed the tag: the user or application, else the rule, else the source."""
    if row["actor_name"] and row["actor_name"] != "system":
        return row["actor_name"]
    if row["source"] == TagSource.RULE and row["rule_id"] is not None:
        return _("rule #%(id)s") % {"id": row["rule_id"]}
    return str(TagSource(row["source"]).label) if row["source"] in TagSource.values else row["source"]


def timeline_entry(row: dict) -> dict:
    name = row["tag_name"]
    added = row["action"] == TagHistory.ADD
    return {
        "id": row["id"], "kind": "tag", "field": "", "old": None,
        "new": (_("Added tag %(name)s") if added else _("Removed tag %(name)s")) % {"name": name},
        "actor_id": row["actor_id"], "actor_name": who(row), "created_at": row["at"],
        "detail": {"action": row["action"], "tag_id": row["tag_id"], "tag_name": name, "source": row["source"],
                   "rule_id": row["rule_id"]},
    }


def timeline_count(*, viewer, customer) -> int:
    return history_feed(actor=viewer, customer_id=customer.pk).count()


def timeline_entries(*, viewer, customer, limit: int) -> list[dict]:
    rows = history_feed(actor=viewer, customer_id=customer.pk).with_names()[:limit]
    return [timeline_entry(row) for row in rows]
