"""A changelist URL filter whose value cannot be converted (a year past datetime's range, month 13,
a text id, an integer past the database's range) is refused like the other refused filters: the list
without it and a message, never a 500. Over real HTTP, for every changelist of Shoal's admin site."""

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from shoal.core.site import site
from tests.conftest import make_user

BAD = [{"created_at__year": "99999999999"}, {"created_at__month": "13"}, {"id": "abc"},
       {"id__gt": "99999999999999999999999"}, {"created_at__year": "2024", "created_at__month": "13"},
       {"created_at__year": "2024", "created_at__month": "2", "created_at__day": "31"}]
CHANGELISTS = sorted(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist" for m in site._registry)


@pytest.mark.parametrize("params", BAD, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_unconvertible_filter_values_are_refused_on_every_changelist(session_http, params):
    make_user("root", is_superuser=True, language="en")
    client = session_http("root")
    for name in CHANGELISTS:
        url = reverse(name)
        resp = client.get(url, params=params)
        assert resp.status_code in (200, 302), (url, params, resp.status_code)
        if resp.status_code == 302:
            target = resp.headers["location"]
            assert urlsplit(target).path == url, (url, target)
            page = client.get(target)
            assert page.status_code == 200, (url, params, page.status_code)
            assert "was left out" in page.text, (url, params)


@pytest.mark.parametrize("name", ["admin:accounts_user_reset_password_one", "admin:schedules_scheduledjob_run_now",
                                  "admin:customers_customer_open_detail_page"])
@pytest.mark.parametrize("object_id", ["abc", "99999", "99999999999999999999999"])
def test_object_actions_answer_404_for_a_malformed_or_missing_id(session_http, name, object_id):
    make_user("root", is_superuser=True, language="en")
    client = session_http("root")
    resp = client.get(reverse(name, args=[object_id]))
    assert resp.status_code == 404, (name, object_id, resp.status_code)
