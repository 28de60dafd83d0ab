"""The masking oracle of issue 8 over real HTTP: a masked mobile recovered digit by digit through
``POST /api/v1/segments/preview`` counts (39 requests) is refused at the first probe."""

import pytest

from shoal.core import parameters
from shoal.customers import services as customer_services
from tests.conftest import make_user

MOBILE = "+8613812345678"


@pytest.fixture
def target(roles):
    parameters.set_value("MASKING_ENABLED", True)
    make_user("masked_admin", roles["admin"], masking_policy="mask_all")
    make_user("clear_admin", roles["admin"], masking_policy="none")
    customer_services.customer_create(actor=None, data={"name": "Target", "mobile": MOBILE})
    customer_services.customer_create(actor=None, data={"name": "Other", "mobile": "13900000001"})


def _recover_mobile(http, headers, known="+86"):
    """The attack: grow a prefix digit by digit while the preview count says it still matches."""
    statuses = []
    prefix = known
    while len(prefix) < len(MOBILE):
        for digit in "0123456789":
            response = http.post("/api/v1/segments/preview", headers=headers,
                                 json={"query": {"all": [{"field": "name", "op": "eq", "value": "Target"},
                                                         {"field": "mobile", "op": "starts_with",
                                                          "value": prefix + digit}]}})
            statuses.append(response.status_code)
            if response.status_code != 200:
                return prefix, statuses, response
            if response.json()["count"]:
                prefix += digit
                break
        else:
            break
    return prefix, statuses, None


@pytest.mark.django_db(transaction=True)
def test_preview_oracle_over_http_cannot_recover_a_masked_mobile(http, session_http, target):
    attacker = session_http("masked_admin")
    headers = {"X-CSRFToken": attacker.csrf, "Referer": str(http.base_url)}
    recovered, statuses, refusal = _recover_mobile(attacker, headers)
    assert recovered != MOBILE
    assert statuses == [400]  # refused at the first probe
    assert refusal.json()["error"]["code"] == "masked_field"
    assert refusal.json()["error"]["detail"]["field"] == "mobile"

    # the same probes by a user allowed to see mobiles do recover it: the attack itself works
    viewer = session_http("clear_admin")
    recovered, statuses, _ = _recover_mobile(viewer, {"X-CSRFToken": viewer.csrf, "Referer": str(http.base_url)})
    assert recovered == MOBILE and set(statuses) == {200}
