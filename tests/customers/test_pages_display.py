"""Issue 8 §5 on the customer pages: saving an unchanged edit form changes nothing, masked values
stay masked on the form and are not written back, times read in TIME_ZONE, enum values read as
their labels, money and decimals are grouped."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from shoal.customers import services
from shoal.customers.models import Customer, TimelineEntry
from tests.conftest import make_user
from tests.customers.formdata import form_data


@pytest.fixture
def rich_customer(db):
    """A customer with a value of every kind of field: seconds in its datetimes, a phone, money…"""
    group = services.enum_group_create(actor=None, code="plan", name="Plan",
                                       items=[{"code": "free", "label": "Free plan"},
                                              {"code": "pro", "label": "Pro plan"}])
    fields = [("seen_at", "datetime"), ("alt_phone", "phone"), ("alt_email", "email"), ("assets", "money"),
              ("ratio", "decimal"), ("visits", "integer"), ("since", "date"), ("vip", "boolean"),
              ("plan", "enum"), ("plans", "multi_enum"), ("memo", "long_text")]
    for key, kind in fields:
        services.custom_field_create(actor=None, key=key, label=key.title(), type=kind, show_in_list=True,
                                     enum_group_id=group.pk if "enum" in kind else None)
    return services.customer_create(actor=None, data={
        "name": "Rich", "mobile": "13800138000", "email": "rich@example.com", "phone": "0755-1234",
        "registered_at": "2026-01-02T08:20:05+08:00", "birthday": "1990-05-06", "source": "ads",
        "customer_type": "deal", "gender": "female", "notes": "line one\nline two",
        "attributes": {"seen_at": "2026-11-30T22:54:34Z", "alt_phone": "13720000004", "alt_email": "alt@example.com",
                       "assets": 919007.5, "ratio": 1234567.125, "visits": 3, "since": "2020-02-03", "vip": True,
                       "plan": "pro", "plans": ["free", "pro"], "memo": "a\nb"}})


def logged_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def change_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def test_saving_an_unchanged_form_changes_nothing(personas, rich_customer, masking_off):
    customer = Customer.objects.get(pk=rich_customer.pk)
    client = logged_in(personas["admin"])
    html = client.get(change_url(customer)).content.decode()
    assert 'value="08:20:05"' in html and 'value="06:54:34"' in html  # the time widgets keep the seconds
    data = form_data(html, "customer_form")
    response = client.post(change_url(customer), data)  # the CSRF token of the page goes with it
    assert response.status_code == 302, response.content.decode()[:3000]
    after = Customer.objects.get(pk=customer.pk)
    assert not TimelineEntry.objects.filter(customer=customer, kind="changed").exists()
    for name in ("registered_at", "attributes", "updated_at", "birthday", "source", "customer_type", "notes"):
        assert getattr(after, name) == getattr(customer, name), name
    assert after.registered_at.second == 5 and after.attributes["seen_at"] == "2026-11-30T22:54:34Z"


def test_an_edit_writes_only_the_changed_field(personas, rich_customer, masking_off):
    client = logged_in(personas["admin"])
    data = form_data(client.get(change_url(rich_customer)).content.decode(), "customer_form")
    data["cf_assets"] = "1000.5"
    assert client.post(change_url(rich_customer), data).status_code == 302
    entries = list(TimelineEntry.objects.filter(customer=rich_customer, kind="changed").values_list("field", "new"))
    assert entries == [("assets", 1000.5)]


def test_the_edit_form_shows_masked_values_and_keeps_the_real_ones(roles, rich_customer, masking_on):
    viewer = make_user("masked_editor", roles["admin"], masking_policy="mask_all")
    client = logged_in(viewer)
    html = client.get(change_url(rich_customer)).content.decode()
    for real in ("13720000004", "alt@example.com", "13800138000", "rich@example.com"):
        assert real not in html
    assert 'value="137****0004"' in html and 'value="a***@example.com"' in html
    assert "138****8000" in html and "r***@example.com" in html  # the standard ones, read-only
    data = form_data(html, "customer_form")
    assert client.post(change_url(rich_customer), data).status_code == 302
    after = Customer.objects.get(pk=rich_customer.pk)
    assert after.attributes["alt_phone"] == "+8613720000004" and after.attributes["alt_email"] == "alt@example.com"
    assert after.mobile == "+8613800138000"
    assert not TimelineEntry.objects.filter(customer=rich_customer, kind="changed").exists()
    # a real new value is written
    data["cf_alt_phone"] = "13720000009"
    assert client.post(change_url(rich_customer), data).status_code == 302
    after = Customer.objects.get(pk=rich_customer.pk)
    assert after.attributes["alt_phone"] == "+8613720000009" and after.attributes["alt_email"] == "alt@example.com"


def test_standard_enum_fields_are_selects_of_their_items(personas, rich_customer, masking_off):
    client = logged_in(personas["admin"])
    html = client.get(change_url(rich_customer)).content.decode()
    source = re.search(r'<select[^>]*name="source".*?</select>', html, re.S)
    assert source, "source is a select"
    assert '<option value="ads" selected>广告投放</option>' in source.group(0)
    assert re.search(r'<select[^>]*name="customer_type"', html)
    data = form_data(html, "customer_form")
    data["customer_type"] = "potential"
    assert client.post(change_url(rich_customer), data).status_code == 302
    assert Customer.objects.get(pk=rich_customer.pk).customer_type == "potential"
    data["customer_type"] = "no-such-type"
    assert client.post(change_url(rich_customer), data).status_code == 200  # refused on the form
    assert Customer.objects.get(pk=rich_customer.pk).customer_type == "potential"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_detail_page_reads_local_times_labels_and_grouped_money(personas, rich_customer, masking_off,
                                                                     language):
    client = logged_in(personas["admin"])
    with translation.override(language):
        client.cookies["django_language"] = language
        html = client.get(reverse("admin:customers_customer_detail", args=[rich_customer.pk]),
                          HTTP_ACCEPT_LANGUAGE=language).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert ("Basic info" if language == "en" else "基本信息") in text
    assert "2026-12-01 06:54:34" in text and "2026-11-30T22:54:34Z" not in html  # custom datetime, local
    assert "2026-01-02 08:20:05" in text  # registered_at, local
    assert "919,007.50" in text and "1,234,567.125" in text
    assert "广告投放" in text and "成交客户" in text and "Pro plan" in text and "Free plan, Pro plan" in text
    # the customer type shows its label, not its code (the follow-up form's "Closed deal" status is no code)
    basic = html[html.index('id="basic-info"'):html.index('id="detail-tabs"')]
    assert not re.search(r"\bdeal\b", re.sub(r"<[^>]+>", " ", basic))


def test_the_timeline_reads_local_times_and_labels(personas, rich_customer, masking_off):
    services.customer_update(actor=None, customer=rich_customer, data={
        "registered_at": "2026-03-04T05:06:07Z", "source": "agent", "attributes": {"assets": 1234}})
    client = logged_in(personas["admin"])
    html = client.get(reverse("admin:customers_customer_detail", args=[rich_customer.pk])).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "2026-01-02 08:20:05 → 2026-03-04 13:06:07" in text
    assert "广告投放 → 代理推荐" in text and "919,007.50 → 1,234.00" in text
    change = client.get(change_url(rich_customer)).content.decode()  # the timeline inline of the edit page
    assert "2026-03-04 13:06:07" in change and "代理推荐" in change and "2026-03-04T05:06:07" not in change


def test_the_list_reads_labels_local_times_and_grouped_money(personas, rich_customer, masking_off):
    client = logged_in(personas["admin"])
    html = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    row = re.search(r'<tr[^>]*>(?:(?!</tr>).)*Rich(?:(?!</tr>).)*</tr>', html, re.S).group(0)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    assert "广告投放" in text and "成交客户" in text and " ads " not in text and " deal " not in text
    assert "919,007.50" in text and "1,234,567.125" in text and "Pro plan" in text
    assert "2026-12-01 06:54:34" in text
    created = Customer.objects.get(pk=rich_customer.pk).created_at
    from django.utils import timezone
    assert timezone.localtime(created).strftime("%Y-%m-%d %H:%M:%S") in text
    assert 'title="Rich"' in row  # long names are cut with an ellipsis, the whole name in the tooltip
