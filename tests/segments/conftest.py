"""Shared by the segments tests: a small shop of customers with custom fields, a JSON POST helper."""

import json

import pytest

from shoal.customers import services as customer_services
from shoal.customers.models import CustomField


def post(client, path, body, headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def four_customers():
    """The advanced query page's browser tests: four customers in three cities, with assets."""
    CustomField.objects.create(key="assets", label="资产", type="money", show_in_filter=True)
    for i, (city, assets) in enumerate([("深圳", 150000), ("广州", 400000), ("北京", 200000), ("深圳", 50)]):
        customer_services.customer_create(actor=None, data={"name": f"客户{i}", "mobile": f"1380013800{i}", "city": city,
                                                            "attributes": {"assets": assets}})


@pytest.fixture
def shop(db):
    CustomField.objects.create(key="assets", label="资产", type="money", show_in_filter=True)
    CustomField.objects.create(key="plan", label="套餐", type="text", show_in_filter=True)
    people = []
    for i, (city, assets, plan) in enumerate([("深圳", 150000, "pro"), ("广州", 400000, "free"),
                                              ("北京", 200000, "pro"), ("深圳", 50, "ent"), ("上海", None, "")]):
        attrs = {"plan": plan} if plan else {}
        if assets is not None:
            attrs["assets"] = assets
        people.append(customer_services.customer_create(actor=None, data={
            "name": f"客户{i}", "mobile": f"1380013800{i}", "city": city, "attributes": attrs}))
    return people
