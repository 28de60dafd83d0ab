"""Over real HTTP with a personal API token: the advanced query's search sorted by quality score, both ways, page by
page, equals the full sort (score, then id descending), the pages read from the score index included (the search
runs inside the read-only guard, which refuses table functions on SQLite)."""

from shoal.accounts.demo import ensure_default_roles
from shoal.customers.models import Customer
from shoal.customers.quality import set_scores
from tests.conftest import make_user


def test_token_search_sorted_by_quality_score_pages_as_the_full_sort(http, raw_token):
    roles = ensure_default_roles()
    carol = make_user("carol", roles["admin"], language="en")
    customers = [Customer.objects.create(name=f"客户{i}", city="上海" if i % 3 else "北京") for i in range(30)]
    scores = {c.pk: (i * 7) % 11 - 3 for i, c in enumerate(customers) if i % 5}  # every 5th: no row (0)
    set_scores(scores)
    headers = {"Authorization": f"Bearer {raw_token(carol)}", "Accept-Language": "en"}
    for way in ("desc", "asc"):
        for query in (None, {"field": "city", "op": "eq", "value": "上海"}):
            kept = [c for c in customers if query is None or c.city == "上海"]
            sign = -1 if way == "desc" else 1
            expected = [c.pk for c in sorted(kept, key=lambda c: (sign * scores.get(c.pk, 0), -c.pk))]
            got = []
            for page in (1, 2, 3, 4):
                resp = http.post("/api/v1/customers/search", headers=headers, json={
                    "query": query, "sort": [{"field": "quality_score", "dir": way}], "page": page, "page_size": 8})
                assert resp.status_code == 200, resp.text
                body = resp.json()
                assert body["total"] == len(kept)
                got += [item["id"] for item in body["items"]]
                assert [item["quality_score"] for item in body["items"]] == [
                    scores.get(pk, 0) for pk in expected[(page - 1) * 8:page * 8]]
            assert got == expected, (way, query)
