"""Masked values cannot be recovered through conditions, custom SQL, sorts or keyword search.

A user whose masking policy hides mobiles and emails may test them only exactly (equals, is one
of, is empty); a prefix, substring, comparison, function or sort over them is a 400
``masked_field`` naming the field. A "no masking" user keeps every operator."""

import json

import pytest

from shoal.core import parameters
from shoal.core.errors import ShoalError
from shoal.customers import services as customer_services
from shoal.customers.models import CustomField
from shoal.segments import services as segment_services
from tests.conftest import make_user

MOBILE = "+8613812345678"


def post(client, path, body, headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def people(db, roles):
    """Scope "all" for both users: only the masking policy differs."""
    parameters.set_value("MASKING_ENABLED", True)
    CustomField.objects.create(key="backup_phone", label="备用电话", type="phone", show_in_filter=True)
    CustomField.objects.create(key="work_email", label="工作邮箱", type="email", show_in_filter=True)
    CustomField.objects.create(key="plan", label="套餐", type="text", show_in_filter=True)
    target = customer_services.customer_create(actor=None, data={
        "name": "Target", "mobile": MOBILE, "phone": "075512345678", "email": "secret.person@example.com",
        "attributes": {"backup_phone": "13712345678", "work_email": "boss@corp.example", "plan": "pro"}})
    other = customer_services.customer_create(actor=None, data={"name": "Other", "mobile": "13900000001",
                                                                "email": "other@example.com"})
    return {"masked": make_user("masked_admin", roles["admin"], masking_policy="mask_all"),
            "private": make_user("private_admin", roles["admin"], masking_policy="except_private"),
            "clear": make_user("clear_admin", roles["admin"], masking_policy="none"),
            "target": target, "other": other}


ORACLES = [
    {"field": "mobile", "op": "starts_with", "value": "+86138"},
    {"field": "mobile", "op": "contains", "value": "1234"},
    {"field": "mobile", "op": "ends_with", "value": "5678"},
    {"field": "mobile", "op": "not_contains", "value": "1234"},
    {"field": "email", "op": "starts_with", "value": "s"},
    {"field": "email", "op": "contains", "value": "@example"},
    {"field": "phone", "op": "starts_with", "value": "0755"},
    {"field": "backup_phone", "op": "contains", "value": "137"},
    {"field": "work_email", "op": "ends_with", "value": "corp.example"},
]


@pytest.mark.django_db
@pytest.mark.parametrize("leaf", ORACLES)
@pytest.mark.parametrize("endpoint", ["/api/v1/segments/preview", "/api/v1/customers/search",
                                      "/api/v1/segments/validate"])
def test_partial_match_on_a_masked_field_is_refused_naming_it(client, people, bearer, leaf, endpoint):
    tree = {"all": [{"field": "name", "op": "is_not_empty"}, leaf]}
    response = post(client, endpoint, {"query": tree}, bearer(people["masked"]))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "masked_field"
    assert error["detail"]["field"] == leaf["field"] and error["detail"]["path"] == "$.all[1]"
    assert leaf["field"] in error["message"]


@pytest.mark.django_db
def test_masking_policy_except_private_is_masked_too(client, people, bearer):
    response = post(client, "/api/v1/segments/preview", {"query": ORACLES[0]}, bearer(people["private"]))
    assert response.status_code == 400 and response.json()["error"]["code"] == "masked_field"


@pytest.mark.django_db
@pytest.mark.parametrize("leaf, count", [
    ({"field": "mobile", "op": "eq", "value": "138 1234 5678"}, 1),
    ({"field": "mobile", "op": "in", "value": ["13812345678", "13900000001"]}, 2),
    ({"field": "mobile", "op": "ne", "value": "13812345678"}, 1),
    ({"field": "email", "op": "eq", "value": "Secret.Person@example.com"}, 1),
    ({"field": "email", "op": "is_empty"}, 0),
    ({"field": "backup_phone", "op": "is_not_empty"}, 1),
    ({"field": "work_email", "op": "eq", "value": "boss@corp.example"}, 1),
    ({"not": {"field": "mobile", "op": "in", "value": ["13812345678"]}}, 1),
])
def test_exact_values_and_emptiness_stay_allowed_on_masked_fields(client, people, bearer, leaf, count):
    response = post(client, "/api/v1/segments/preview", {"query": leaf}, bearer(people["masked"]))
    assert response.status_code == 200, response.content
    assert response.json()["count"] == count


@pytest.mark.django_db
@pytest.mark.parametrize("leaf", ORACLES[:3] + ORACLES[-2:])
def test_no_masking_policy_keeps_every_operator(client, people, bearer, leaf):
    response = post(client, "/api/v1/segments/preview", {"query": leaf}, bearer(people["clear"]))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_with_masking_off_every_operator_is_allowed(client, people, bearer):
    parameters.set_value("MASKING_ENABLED", False)
    response = post(client, "/api/v1/segments/preview", {"query": ORACLES[0]}, bearer(people["masked"]))
    assert response.status_code == 200 and response.json()["count"] == 1


SQL_ORACLES = [
    ("mobile LIKE '+86138%'", "mobile"),
    ("mobile ILIKE '%5678'", "mobile"),
    ("substr(mobile, 4, 1) = '1'", "mobile"),
    ("length(email) > 10", "email"),
    ("mobile > '+86138'", "mobile"),
    ("mobile BETWEEN '+86130' AND '+86139'", "mobile"),
    ("lower(email) = 'secret.person@example.com'", "email"),
    ("coalesce(mobile, '') = '+8613812345678'", "mobile"),
    ("mobile = email", "mobile"),
    ("(mobile) LIKE '1%'", "mobile"),
    ("plan = 'pro' AND backup_phone LIKE '%137%'", "backup_phone"),
    ("upper(work_email) IN ('BOSS@CORP.EXAMPLE')", "work_email"),
    ("phone < '1'", "phone"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("text, field", SQL_ORACLES)
def test_custom_sql_over_a_masked_field_is_refused(client, people, bearer, text, field):
    for endpoint in ("/api/v1/segments/preview", "/api/v1/customers/search", "/api/v1/segments/validate"):
        response = post(client, endpoint, {"sql": text}, bearer(people["masked"]))
        assert response.status_code == 400, (endpoint, response.content)
        error = response.json()["error"]
        assert error["code"] == "masked_field" and error["detail"]["field"] == field and field in error["message"]
    assert post(client, "/api/v1/segments/preview", {"sql": text}, bearer(people["clear"])).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("text, count", [
    ("mobile = '+8613812345678'", 1),
    ("'+8613812345678' = mobile", 1),
    ("mobile <> '+8613812345678'", 1),
    ("mobile IN ('+8613812345678', '+8613900000001')", 2),
    ("NOT (mobile IN ('+8613812345678'))", 1),
    ("email IS NULL", 0),
    ("(email) IS NOT NULL AND plan = 'pro'", 1),
])
def test_custom_sql_exact_uses_of_masked_fields_are_allowed(client, people, bearer, text, count):
    response = post(client, "/api/v1/segments/preview", {"sql": text}, bearer(people["masked"]))
    assert response.status_code == 200, response.content
    assert response.json()["count"] == count


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["mobile", "email", "phone", "backup_phone"])
def test_sorting_by_a_masked_field_is_refused(client, people, bearer, field):
    body = {"query": {"field": "name", "op": "is_not_empty"}, "sort": [{"field": "name"}, {"field": field}]}
    response = post(client, "/api/v1/customers/search", body, bearer(people["masked"]))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "masked_field" and error["detail"] == {"field": field, "path": "$.sort[1]"}
    assert post(client, "/api/v1/customers/search", body, bearer(people["clear"])).status_code == 200


@pytest.mark.django_db
def test_from_rows_refuses_an_oracle_row(client, people, bearer):
    rows = [{"field": "name", "op": "is_not_empty", "logic": "and"},
            {"field": "mobile", "op": "starts_with", "value": "+86138"}]
    response = post(client, "/api/v1/segments/from-rows", {"rows": rows}, bearer(people["masked"]))
    assert response.status_code == 400 and response.json()["error"]["detail"]["field"] == "mobile"
    assert post(client, "/api/v1/segments/from-rows", {"rows": rows}, bearer(people["clear"])).status_code == 200


@pytest.mark.django_db
def test_saved_queries_refuse_oracles_and_masked_sorts(client, people, bearer):
    headers = bearer(people["masked"])
    for body in ({"name": "a", "query": ORACLES[0]}, {"name": "b", "sql": "mobile LIKE '1%'"},
                 {"name": "c", "query": {"field": "name", "op": "is_empty"}, "sort": [{"field": "email"}]}):
        response = post(client, "/api/v1/saved-queries", body, headers)
        assert response.status_code == 400 and response.json()["error"]["code"] == "masked_field", body
    saved = post(client, "/api/v1/saved-queries", {"name": "ok", "query": {"field": "mobile", "op": "is_empty"}},
                 headers)
    assert saved.status_code == 201
    patched = client.patch(f"/api/v1/saved-queries/{saved.json()['id']}", data=json.dumps({"query": ORACLES[1]}),
                           content_type="application/json", **headers)
    assert patched.status_code == 400 and patched.json()["error"]["code"] == "masked_field"
    # the service itself checks, whatever calls it
    with pytest.raises(ShoalError) as exc:
        segment_services.saved_query_create(actor=people["masked"], name="d", query=ORACLES[4])
    assert exc.value.code == "masked_field"
    segment_services.saved_query_create(actor=people["clear"], name="d", query=ORACLES[4])


@pytest.mark.django_db
def test_a_shared_oracle_query_cannot_be_run_by_a_masked_user(client, people, bearer):
    saved = segment_services.saved_query_create(actor=people["clear"], name="prefix", query=ORACLES[0], shared=True)
    response = post(client, "/api/v1/customers/search", {"query": saved.query}, bearer(people["masked"]))
    assert response.status_code == 400 and response.json()["error"]["code"] == "masked_field"


@pytest.mark.django_db
def test_keyword_search_matches_masked_values_only_whole(client, people, bearer):
    headers = bearer(people["masked"])

    def found(keyword):
        body = {"keyword": keyword}
        return {c["name"] for c in post(client, "/api/v1/customers/search", body, headers).json()["items"]}

    assert found("13812345678") == {"Target"}
    assert found("secret.person@example.com") == {"Target"}
    for partial in ("1381234", "138", "5678", "secret", "example.com", "@example.com", "+86138"):
        assert found(partial) == set(), partial


@pytest.mark.django_db
def test_field_list_offers_masked_fields_only_exact_operators(client, people, bearer):
    fields = {f["key"]: f for f in client.get("/api/v1/segments/fields", **bearer(people["masked"])).json()}
    for key in ("mobile", "email", "phone", "backup_phone", "work_email"):
        assert set(fields[key]["operators"]) == {"eq", "ne", "in", "not_in", "is_empty", "is_not_empty"}, key
    assert "starts_with" in fields["plan"]["operators"] and "contains" in fields["name"]["operators"]
    clear = {f["key"]: f for f in client.get("/api/v1/segments/fields", **bearer(people["clear"])).json()}
    assert "starts_with" in clear["mobile"]["operators"]


# -- how many values a query may compare with masked fields ----------------------------------------
@pytest.mark.django_db
def test_guessing_a_masked_value_by_long_lists_is_refused(personas):
    """A shown "138****5678" leaves 10,000 candidates: a list of them is an oracle, not a search."""
    from shoal.segments.masked import MASKED_VALUES_LIMIT
    from shoal.segments.selectors import validate

    actor = personas["salesperson"]
    guesses = [f"+86138{n:04d}5678" for n in range(MASKED_VALUES_LIMIT + 1)]
    from shoal.customers.masking import masked_field_keys

    masked = masked_field_keys(viewer=actor)
    assert "mobile" in masked
    validate(query={"field": "mobile", "op": "in", "value": guesses[:MASKED_VALUES_LIMIT]}, masked=masked)
    for query in ({"field": "mobile", "op": "in", "value": guesses},
                  {"any": [{"field": "mobile", "op": "eq", "value": g} for g in guesses]}):
        with pytest.raises(ShoalError) as err:
            validate(query=query, masked=masked)
        assert err.value.code == "masked_field", err.value.message
        assert err.value.detail["limit"] == MASKED_VALUES_LIMIT
    sql = "mobile IN (" + ", ".join(f"'{g}'" for g in guesses) + ")"
    with pytest.raises(ShoalError) as err:
        validate(sql=sql, masked=masked)
    assert err.value.code == "masked_field"
    or_sql = " OR ".join(f"mobile = '{g}'" for g in guesses)
    with pytest.raises(ShoalError):
        validate(sql=or_sql, masked=masked)
    # an unmasked user keeps long lists
    validate(query={"field": "mobile", "op": "in", "value": guesses}, masked=frozenset())
