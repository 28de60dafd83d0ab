"""JSON key transforms whose SQLite SQL spells the key path as a literal.

Django binds the JSON path as a parameter (``JSON_EXTRACT(attributes, ?)``); SQLite can only match
an expression index (``customers.indexes``) when the path is written in the SQL itself. Keys of
custom fields are validated identifiers (``^[a-z][a-z0-9_]*$``), so writing them in is safe; any
other key falls back to Django's parameterised form. PostgreSQL is unchanged.
"""

from __future__ import annotations

import re

from django.db.models.fields.json import KeyTextTransform, KeyTransform, KeyTransformFactory

SAFE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _inline_sqlite(transform, compiler, connection):
    lhs, params, keys = transform.preprocess_lhs(compiler, connection)
    if len(keys) != 1 or not isinstance(keys[0], str) or not SAFE_KEY.match(keys[0]):
        return None
    path = f"'$.\"{keys[0]}\"'"
    datatypes = ",".join(repr(t) for t in connection.ops.jsonfield_datatype_values)
    sql = (f"(CASE WHEN JSON_TYPE({lhs}, {path}) IN ({datatypes}) "
           f"THEN JSON_TYPE({lhs}, {path}) ELSE JSON_EXTRACT({lhs}, {path}) END)")
    return sql, tuple(params) * 3


class IndexableKeyTransform(KeyTransform):
    def as_sqlite(self, compiler, connection):
        return _inline_sqlite(self, compiler, connection) or super().as_sqlite(compiler, connection)


class IndexableKeyTextTransform(KeyTextTransform):
    def as_sqlite(self, compiler, connection):
        return _inline_sqlite(self, compiler, connection) or super().as_sqlite(compiler, connection)


class IndexableKeyTransformFactory(KeyTransformFactory):
    def __call__(self, *args, **kwargs):
        return IndexableKeyTransform(self.key_name, *args, **kwargs)
