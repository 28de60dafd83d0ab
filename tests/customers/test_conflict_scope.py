"""409 ``identity_conflict`` / ``duplicate_value`` name only customers in the caller's data scope;
a customer out of scope "belongs to a customer you cannot see", without its id, and the error never
echoes a value back."""

import json

import pytest

from shoal.customers import services
from shoal.customers.models import Customer

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def send(client, method, path, body, headers):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json", **headers, **EN)


def _hides(response, *secrets):
    text = response.content.decode()
    for secret in secrets:
        assert str(secret) not in text, secret


def test_identity_conflict_with_a_customer_out_of_scope_names_only_mine(client, world, bearer):
    mine, theirs = world["mine"], world["theirs"]
    response = send(client, "post", "/api/v1/customers/identify",
                    {"mobile": "13800138000", "email": "theirs@example.com"}, bearer(world["salesperson"]))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "identity_conflict"
    assert error["detail"] == {"customer_ids": [mine.pk], "fields": {"mobile": mine.pk, "email": None}}
    assert "email belongs to a customer you cannot see" in error["message"]
    _hides(response, f"{theirs.pk}", "+8613900139000", "Theirs")


def test_identity_conflict_names_every_customer_for_a_caller_who_sees_them(client, world, bearer):
    mine, theirs = world["mine"], world["theirs"]
    response = send(client, "post", "/api/v1/customers/identify",
                    {"mobile": "13800138000", "email": "theirs@example.com"}, bearer(world["admin"]))
    error = response.json()["error"]
    assert error["detail"]["customer_ids"] == sorted([mine.pk, theirs.pk])
    assert error["detail"]["fields"] == {"mobile": mine.pk, "email": theirs.pk}
    assert "cannot see" not in error["message"]


def test_duplicate_value_out_of_scope_gives_no_id(client, world, bearer):
    headers = bearer(world["salesperson"])
    theirs = world["theirs"]
    response = send(client, "patch", f"/api/v1/customers/{world['mine'].pk}", {"email": "theirs@example.com"},
                    headers)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error == {"code": "duplicate_value", "message": "This email belongs to a customer you cannot see",
                     "detail": {"field": "email"}}
    _hides(response, "theirs@example.com", f"{theirs.pk}")
    response = send(client, "post", "/api/v1/customers", {"name": "Copy", "mobile": "13600136000"}, headers)
    assert response.status_code == 409
    assert response.json()["error"]["detail"] == {"field": "mobile"}
    _hides(response, "13600136000", f"{world['company_pool'].pk}")
    assert Customer.objects.filter(name="Copy").count() == 0


def test_duplicate_value_in_scope_names_the_holder(client, world, bearer):
    response = send(client, "patch", f"/api/v1/customers/{world['theirs'].pk}", {"email": "mine@example.com"},
                    bearer(world["admin"]))
    assert response.status_code == 409
    assert response.json()["error"]["detail"] == {"field": "email", "customer_id": world["mine"].pk}


def test_batch_identify_hides_out_of_scope_customers_too(client, world, bearer):
    body = {"customers": [{"mobile": "13800138000", "email": "theirs@example.com"},
                          {"ent_user_id": "new-one", "mobile": "13700137000"}]}
    response = send(client, "post", "/api/v1/customers/identify/batch", body, bearer(world["salesperson"]))
    assert response.status_code == 200, response.content
    first, second = response.json()["results"]
    assert first["error"]["detail"] == {"customer_ids": [world["mine"].pk],
                                        "fields": {"mobile": world["mine"].pk, "email": None}}
    assert second["error"]["code"] in ("identity_out_of_scope", "duplicate_value")
    _hides(response, f"{world['theirs'].pk}", f"{world['group_pool'].pk}")


def test_systems_and_applications_see_every_customer_in_conflicts(world):
    with pytest.raises(services.Conflict) as exc:
        services.customer_identify(actor=None, data={"mobile": "13800138000", "email": "theirs@example.com"})
    assert exc.value.detail["customer_ids"] == sorted([world["mine"].pk, world["theirs"].pk])
