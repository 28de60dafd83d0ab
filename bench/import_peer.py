"""The peer for bench_import: the same CSV's first rows through django-import-export 4.x in its bulk mode.

A ``ModelResource`` for Shoal's Customer as its documentation sets one up for a big file: customers matched by
mobile (``import_id_fields``), ``use_bulk`` with ``batch_size=1000``, ``skip_unchanged`` (with the HTML diff
off), one transaction, the default instance loader. The file's cells are made storable the way a Django
project would do it with this library: widgets for gender (男/女), source (enum label → code), dates, emails
(blank → NULL, lower case); the mobile column normalised to E.164 (phonenumbers, as Shoal stores it) before the
rows are looked up; the three custom fields packed into the JSON ``attributes``.

Run in a child process by bench_import (``python -m bench.bench_import --worker peer FILE ROWS``).
"""

from __future__ import annotations

import json
import time


def build_resource():
    import phonenumbers
    from import_export import fields, resources, widgets

    from shoal.customers.models import Customer, EnumItem

    from .import_data import HEADERS

    h = dict(zip(("name", "mobile", "email", "city", "gender", "birthday", "source", "store", "points", "purchase"),
                 HEADERS, strict=True))
    sources = dict(EnumItem.objects.filter(group__code="customer_source").values_list("label", "code"))

    class GenderWidget(widgets.Widget):
        def clean(self, value, row=None, **kwargs):
            return {"男": "male", "女": "female"}.get((value or "").strip(), "")

    class SourceWidget(widgets.Widget):
        def clean(self, value, row=None, **kwargs):
            value = (value or "").strip()
            return sources.get(value, value)

    class EmailWidget(widgets.Widget):
        def clean(self, value, row=None, **kwargs):
            value = (value or "").strip().lower()
            return value or None

    class CustomerResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name=h["name"], widget=widgets.CharWidget())
        mobile = fields.Field(attribute="mobile", column_name=h["mobile"], widget=widgets.CharWidget())
        email = fields.Field(attribute="email", column_name=h["email"], widget=EmailWidget())
        city = fields.Field(attribute="city", column_name=h["city"], widget=widgets.CharWidget())
        gender = fields.Field(attribute="gender", column_name=h["gender"], widget=GenderWidget())
        birthday = fields.Field(attribute="birthday", column_name=h["birthday"], widget=widgets.DateWidget("%Y-%m-%d"))
        source = fields.Field(attribute="source", column_name=h["source"], widget=SourceWidget())
        attributes = fields.Field(attribute="attributes", column_name="attributes", widget=widgets.JSONWidget())

        class Meta:
            model = Customer
            fields = ("name", "mobile", "email", "city", "gender", "birthday", "source", "attributes")
            import_id_fields = ("mobile",)
            use_bulk = True
            batch_size = 1000
            skip_unchanged = True
            skip_html_diff = True
            report_skipped = False
            use_transactions = True

        def before_import(self, dataset, **kwargs):
            # identity first: the instance loader looks customers up by the column as it stands
            e164 = phonenumbers.PhoneNumberFormat.E164
            column = [phonenumbers.format_number(phonenumbers.parse(v, "CN"), e164) if v.strip() else None
                      for v in dataset[h["mobile"]]]
            del dataset[h["mobile"]]
            dataset.append_col(column, header=h["mobile"])

        def before_import_row(self, row, **kwargs):
            attrs = {}
            store, points, purchase = (row[h[k]].strip() for k in ("store", "points", "purchase"))
            if store:
                attrs["store"] = store
            if points:
                attrs["points"] = int(points)
            if purchase:
                attrs["last_purchase"] = purchase
            row["attributes"] = json.dumps(attrs, ensure_ascii=False)

    return CustomerResource


def run_peer(path: str, rows: int) -> dict:
    import tablib

    from shoal.customers.models import Customer

    from .import_data import HEADERS, read_rows

    started = time.perf_counter()
    dataset = tablib.Dataset(headers=[h for h in HEADERS])
    for row in read_rows(path, rows):
        dataset.append(row)
    read = time.perf_counter() - started
    resource = build_resource()()
    t = time.perf_counter()
    result = resource.import_data(dataset, dry_run=False, raise_errors=False)
    imported = time.perf_counter() - t
    seconds = time.perf_counter() - started
    errors = [str(e.error)[:300] for e in result.base_errors[:3]]
    errors += [str(e.error)[:300] for _, row_errors in result.row_errors()[:3] for e in row_errors[:1]]
    return {
        "rows": len(dataset), "seconds": round(seconds, 2), "read_seconds": round(read, 2),
        "import_seconds": round(imported, 2), "rows_per_s": round(len(dataset) / seconds),
        "totals": {k.lower(): v for k, v in result.totals.items()}, "customers": Customer.objects.count(),
        "invalid_rows": len(result.invalid_rows), "errors": errors,
        "settings": "use_bulk, batch_size=1000, skip_unchanged, skip_html_diff, one transaction, "
                    "import_id_fields=('mobile',), ModelInstanceLoader",
    }
