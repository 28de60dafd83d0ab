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
