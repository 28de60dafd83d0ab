"""Over real HTTP with a personal API token: a search by tags_any works; another user's personal tag is
refused (400, the error shape, naming the tag) as if it did not exist."""

from shoal.accounts.demo import ensure_default_roles
from shoal.customers.models import Customer
from shoal.tags.models import Tag, TagCategory, Tagging
from tests.conftest import make_user


def test_token_search_by_tags_and_someone_elses_personal_tag(http, raw_token):
    roles = ensure_default_roles()
    carol = make_user("carol", roles["admin"], language="en")
    dave = make_user("dave", roles["admin"])
    category = TagCategory.objects.create(name="Value")
    vip = Tag.objects.create(name="vip", category=category)
    dave_only = Tag.objects.create(name="watch", category=category, kind="personal", owner=dave)
    first, second, _ = (Customer.objects.create(name=name) for name in ("甲", "乙", "丙"))
    Tagging.objects.create(tag=vip, customer=first, source="user")
    Tagging.objects.create(tag=dave_only, customer=second, source="user")
    headers = {"Authorization": f"Bearer {raw_token(carol)}", "Accept-Language": "en"}

    resp = http.post("/api/v1/customers/search", json={"query": {"tags_any": [vip.pk]}}, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["total"] == 1 and [c["name"] for c in resp.json()["items"]] == ["甲"]

    resp = http.post("/api/v1/customers/search", json={"query": {"tags_any": [vip.pk, dave_only.pk]}}, headers=headers)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_condition"
    assert error["detail"] == {"path": "$.tags_any[1]", "tag_id": dave_only.pk}
    assert f"unknown tag {dave_only.pk}" in error["message"]

    resp = http.post("/api/v1/customers/search", json={"sql": f"has_tag({dave_only.pk})"},
                     headers={"Authorization": f"Bearer {raw_token(dave)}"})
    assert resp.status_code == 200 and [c["name"] for c in resp.json()["items"]] == ["乙"]
