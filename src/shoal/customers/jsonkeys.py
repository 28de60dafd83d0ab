"""JSON key transforms whose SQLite SQL spells the key path as a literal.

Django binds the JSON path as a parameter (``JSON_EXTRACT(attributes, ?)``); SQLite can only match
an expression index (``customers.indexes``) when the path is written in the SQL itself. Keys of
custom fields are validated identifiers (``^[a-z][a-z0-9_]*$``), so writing them in is safe; any
other key falls back to Django's parameterised form. PostgreSQL is unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models.fields.json import KeyTextTransform, KeyTransform, KeyTransformFactory

from .standard import KEY_RE

SAFE_KEY = KEY_RE


# Django takes these from a frozenset, so their order changes from process to process; an index
# expression must match the query's text exactly, so both use this fixed order.
DATATYPES = "'null','true','false'"


def sqlite_key_sql(column_sql: str, key: str) -> str:
    """SQLite's value of ``column -> key`` as Django computes it, with the key written in (indexable)."""
    if not SAFE_KEY.match(key):
        raise ValueError(f"not a custom field key: {key!r}")
    path = f"'$.\"{key}\"'"
    return (f"(CASE WHEN JSON_TYPE({column_sql}, {path}) IN ({DATATYPES}) "
            f"THEN JSON_TYPE({column_sql}, {path}) ELSE JSON_EXTRACT({column_sql}, {path}) END)")


_PLAIN = ContextVar("shoal_plain_key_paths", default=False)


@contextmanager
def plain_key_paths():
    """Within this block SQLite queries use Django's bound-path form, which no index matches.

    For a list page sorted by created time over many matches, scanning the created-time index and
    stopping after one page beats fetching every match through a JSON index and sorting them."""
    token = _PLAIN.set(True)
    try:
        yield
    finally:
        _PLAIN.reset(token)


def _inline_sqlite(transform, compiler, connection):
    if _PLAIN.get():
        return None
    lhs, params, keys = transform.preprocess_lhs(compiler, connection)
    if len(keys) != 1 or not isinstance(keys[0], str) or not SAFE_KEY.match(keys[0]):
        return None
    return sqlite_key_sql(lhs, keys[0]), tuple(params) * 3


class IndexableKeyTransform(KeyTransform):
    def as_sqlite(self, compiler, connection):
        return _inline_sqlite(self, compiler, connection) or super().as_sqlite(compiler, connection)


class IndexableKeyTextTransform(KeyTextTransform):
    def as_sqlite(self, compiler, connection):
        return _inline_sqlite(self, compiler, connection) or super().as_sqlite(compiler, connection)


class IndexableKeyTransformFactory(KeyTransformFactory):
    def __call__(self, *args, **kwargs):
        return IndexableKeyTransform(self.key_name, *args, **kwargs)
