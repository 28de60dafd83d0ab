"""ORM expressions the compiler needs beyond Django's built-in lookups (parameterised SQL only)."""

from django.db.models import BooleanField, F, Func, Value


class JSONArrayHasItem(Func):
    """attributes[key] is a JSON array containing the text ``item``."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, key: str, item: str):
        super().__init__(F("attributes"), Value(key), Value(item))

    def as_sqlite(self, compiler, connection, **extra):
        sources = [compiler.compile(e) for e in self.get_source_expressions()]
        (col, col_params), (key, key_params), (item, item_params) = sources
        path_params = ["$." + p if isinstance(p, str) else p for p in key_params]
        sql = (f"(json_type({col}, {key}) = 'array' AND EXISTS (SELECT 1 FROM json_each({col}, {key}) "
               f"WHERE json_each.type = 'text' AND json_each.value = {item}))")
        return sql, (*col_params, *path_params, *col_params, *path_params, *item_params)

    def as_postgresql(self, compiler, connection, **extra):
        sources = [compiler.compile(e) for e in self.get_source_expressions()]
        (col, col_params), (key, key_params), (item, item_params) = sources
        sql = f"(({col} -> {key}::text) @> jsonb_build_array({item}::text))"
        return sql, (*col_params, *key_params, *item_params)


class JSONValuePresent(Func):
    """attributes[key] exists and is not JSON null, "" or [] — always true or false, never NULL.

    Tested by JSON type, so a stored text such as "null" is a value like any other (Django's
    ``key=None`` on SQLite compares the extracted text with 'null')."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, key: str):
        from shoal.customers.jsonkeys import SAFE_KEY

        if not SAFE_KEY.match(key):
            raise ValueError(f"not a custom field key: {key!r}")
        self.key = key
        super().__init__(F("attributes"))

    def as_sqlite(self, compiler, connection, **extra):
        col, params = compiler.compile(self.get_source_expressions()[0])
        path = f"'$.\"{self.key}\"'"
        kind = f"JSON_TYPE({col}, {path})"
        sql = (f"(COALESCE({kind}, 'missing') NOT IN ('null', 'missing')"
               f" AND NOT ({kind} = 'text' AND JSON_EXTRACT({col}, {path}) = '')"
               f" AND NOT ({kind} = 'array' AND JSON_ARRAY_LENGTH({col}, {path}) = 0))")
        return sql, (*params,) * 5

    def as_postgresql(self, compiler, connection, **extra):
        col, params = compiler.compile(self.get_source_expressions()[0])
        value = f"({col} -> '{self.key}')"
        sql = (f"(COALESCE(jsonb_typeof({value}), 'missing') NOT IN ('null', 'missing')"
               f" AND {value} <> '\"\"'::jsonb AND {value} <> '[]'::jsonb)")
        return sql, (*params,) * 3


class TextInIgnoringCase(Func):
    """UPPER(text) equals UPPER of one of ``values`` (the ``in`` of case-insensitive text), as ``iexact``
    compares: UPPER on both sides, in the database. One ``IN`` of bound values, written here rather
    than as one Django expression per value (1,000 of those cost a second to build)."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, text, values):
        self.values = tuple(values)
        super().__init__(text)

    def _sql(self, compiler, template):
        text, params = compiler.compile(self.get_source_expressions()[0])
        items = ", ".join(["UPPER(%s)"] * len(self.values))
        return f"({template % text} IN ({items}))", (*params, *self.values)

    def as_sqlite(self, compiler, connection, **extra):
        return self._sql(compiler, "UPPER(%s)")

    def as_postgresql(self, compiler, connection, **extra):
        return self._sql(compiler, "UPPER((%s)::text)")
