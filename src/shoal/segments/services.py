from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from shoal.core.errors import Conflict, NotFound, PermissionDenied, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update
from shoal.customers.masking import masked_field_keys

from .catalog import field_catalog
from .masked import check_sort
from .models import SavedQuery
from .rows import clean_rows, rows_to_tree
from .selectors import validate


def _check(name, query, sql, *, actor, sort=None):
    if not (name or "").strip():
        raise ShoalError("invalid", gettext("A saved query needs a name"), {"field": "name"})
    catalog = field_catalog()
    masked = masked_field_keys(viewer=actor)
    validate(query=query, sql=sql, catalog=catalog, masked=masked, viewer=actor)
    check_sort(sort, masked, catalog=catalog)


def _from_rows(rows, query):
    """(rows, query): with rows, the query is the tree they make; a different query given with them is refused."""
    if rows is None:
        return None, query
    rows = clean_rows(rows)
    tree = rows_to_tree(rows)
    if query is not None and query != tree:
        raise ShoalError("invalid_rows", gettext("The rows and the query say different things; send one of them"),
                         {"field": "rows"})
    return rows, tree


def saved_query_create(*, actor, name: str, query=None, sql: str = "", sort=None, shared: bool = False,
                       rows=None) -> SavedQuery:
    rows, query = _from_rows(rows, query)
    _check(name, query, sql, actor=actor, sort=sort)
    try:
        with transaction.atomic():
            saved = SavedQuery.objects.create(name=name.strip(), owner=actor, query=query, rows=rows, sql=sql or "",
                                              sort=sort or [], shared=shared)
    except IntegrityError:
        raise Conflict("duplicate", gettext("You already have a saved query with this name"), {"field": "name"})
    log_operation(actor=actor, action="saved_query.create", obj=saved)
    return saved


def saved_query_get(*, actor, pk: int, for_write: bool = False) -> SavedQuery:
    saved = SavedQuery.objects.filter(pk=pk).first()
    if saved is None or (saved.owner_id != actor.pk and not saved.shared):
        raise NotFound(gettext("Saved query not found"))
    if for_write and saved.owner_id != actor.pk:
        raise PermissionDenied(gettext("Only its owner may change a saved query"))
    return saved


def saved_query_update(*, actor, saved: SavedQuery, data: dict) -> SavedQuery:
    values = {key: data[key] for key in ("name", "query", "sql", "sort", "shared")
              if key in data and (data[key] is not None or key == "query")}
    if data.get("rows") is not None:
        values["rows"], values["query"] = _from_rows(data["rows"], data.get("query"))
    elif "query" in data or "rows" in data:
        values["rows"] = None  # a new tree without rows: the old rows no longer describe it
    values["sql"] = values.get("sql", saved.sql) or ""
    after = {key: values.get(key, getattr(saved, key)) for key in ("name", "query", "sql", "sort")}
    _check(after["name"], after["query"], after["sql"], actor=actor, sort=after["sort"])
    try:
        with transaction.atomic():
            model_update(instance=saved, fields=("name", "query", "sql", "sort", "shared", "rows"), data=values)
    except IntegrityError:
        raise Conflict("duplicate", gettext("You already have a saved query with this name"), {"field": "name"})
    log_operation(actor=actor, action="saved_query.update", obj=saved)
    return saved


def saved_query_delete(*, actor, saved: SavedQuery) -> None:
    log_operation(actor=actor, action="saved_query.delete", obj=saved)
    saved.delete()
