"""Tag conditions in trees and custom SQL. (Placeholder of the lead: the condition-language branch
replaces this file; keep the two functions' signatures.)"""

from __future__ import annotations

TAG_KEYS = ("tags_any", "tags_all", "tags_none")
RELATIVE_OPS = ("within_last_days", "older_than_days")


def _walk(node):
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def referenced_tag_ids(*, query=None, sql: str = "") -> set[int]:
    ids: set[int] = set()
    for node in _walk(query):
        for key in TAG_KEYS:
            if isinstance(node.get(key), list):
                ids.update(v for v in node[key] if isinstance(v, int))
    return ids


def is_relative(*, query=None, sql: str = "") -> bool:
    if any(node.get("op") in RELATIVE_OPS for node in _walk(query)):
        return True
    lowered = (sql or "").lower()
    return "days_ago" in lowered or "current_date" in lowered or "now(" in lowered
