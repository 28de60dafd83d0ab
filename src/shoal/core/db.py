"""Small database helpers shared by the bulk write paths."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """PostgreSQL: write ``rows`` into ``table``'s ``columns`` with COPY (psycopg formats the rows in C).
    psycopg's errors come out as Django's (IntegrityError…), as through Django's own cursor."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor, connection.wrap_database_errors, \
            cursor.cursor.copy(f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
