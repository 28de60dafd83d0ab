"""The database's plan of a query, for the tests that a read stays on its index at any size."""

from django.db import connection


def plan(sql: str, params, *, no_bitmap: bool = False) -> str:
    """The plan as text. PostgreSQL: sequential scans off (and bitmap scans, with ``no_bitmap``), so that a table of
    a few rows is read through an index when one can answer, as it is at a million; SQLite: EXPLAIN QUERY PLAN."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            if no_bitmap:
                cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            text = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")
            return text
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
