"""Removing rows older than a cut-off, in chunks: what the retention jobs share (the event history, the
automation logs). Each chunk is one transaction: its ids are read (on PostgreSQL ``FOR UPDATE SKIP LOCKED``:
two workers pruning at once take different chunks, neither waits on the other), the rows that point at them
(``dependents``) go first, then the rows. Running it twice, or on two workers at once, deletes each row once
and never fails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Model, Q
from django.utils import timezone

from . import parameters
from .db import ids_subquery

CHUNK = 20000


def cutoff_of(parameter_code: str, *, days: int | None = None, now=None):
    """Now less the retention in days (``days``, or the parameter's value)."""
    days = int(days if days is not None else parameters.get(parameter_code))
    return (now or timezone.now()) - timedelta(days=days)


def delete_before(model: type[Model], column: str, cutoff, *, where: Q | None = None,
                  dependents: Sequence[tuple[type[Model], str]] = (), chunk: int | None = None) -> dict[type[Model], int]:
    """Delete the rows of ``model`` whose ``column`` is before ``cutoff`` (and that match ``where``), with the
    rows of each ``(dependent model, its column holding model's id)`` that point at them. How many of each
    were deleted."""
    chunk = chunk or CHUNK
    qn = connection.ops.quote_name
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    stamp = qn(model._meta.get_field(column).column)
    value = cutoff if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(cutoff)
    counts = {model: 0, **{dep: 0 for dep, _ in dependents}}
    rows = model._base_manager.filter(**{f"{column}__lt": cutoff})
    if where is not None:
        rows = rows.filter(where)
    while True:
        with transaction.atomic():
            found = rows.select_for_update(skip_locked=True) if connection.vendor == "postgresql" else rows
            ids = list(found.order_by().values_list("pk", flat=True)[:chunk])
            if ids:
                listed = ids_subquery(ids)
                with connection.cursor() as cursor:
                    for dep, fk in dependents:
                        cursor.execute(f"DELETE FROM {qn(dep._meta.db_table)} WHERE {qn(fk)} IN ({listed.sql})",
                                       listed.params)
                        counts[dep] += max(cursor.rowcount, 0)
                    # the cut-off again: the partitions of a partitioned table are pruned
                    cursor.execute(f"DELETE FROM {table} WHERE {stamp} < %s AND {pk} IN ({listed.sql})",
                                   [value, *listed.params])
                    counts[model] += max(cursor.rowcount, 0)
        if len(ids) < chunk:
            return counts
