"""The standard customer fields are described once (customers.standard); the lists that other
modules and the API use agree with that table."""

from shoal.customers import columns, identity, masking, selectors, standard
from shoal.customers.api import CustomerIn, CustomerOut
from shoal.customers.models import Customer
from shoal.segments.catalog import STANDARD


def test_every_standard_field_is_a_customer_column():
    model_fields = {f.name for f in Customer._meta.get_fields()} | {"company_id"}
    assert set(standard.names()) <= model_fields


def test_the_api_schemas_carry_exactly_the_described_fields():
    assert set(CustomerIn.model_fields) == set(standard.names(writable=True)) | {"attributes", "invited_by"}
    # plus what customers itself stores beside the standard fields, and the output extensions' keys (tags)
    assert set(CustomerOut.model_fields) == set(selectors.LIST_FIELDS) | {"attributes", "masked", "quality_score",
                                                                           "tags", "groups", "invited_by",
                                                                           "last_follow_up_at"}


def test_derived_lists_follow_the_table():
    assert masking.MASKED_FIELDS == ("mobile", "phone", "email")
    assert identity.IDENTITY_CANDIDATES == ("mobile", "email", "ent_user_id")
    assert columns.DEFAULT_COLUMNS[:3] == ("id", "name", "mobile")
    assert "notes" not in columns.STANDARD_COLUMNS and "company" in columns.STANDARD_COLUMNS
    assert set(STANDARD) == set(standard.names(condition=True))
    assert STANDARD["email"] == ("text", True, "lower")


def test_one_key_pattern():
    from shoal.customers import cleaning as fields
    from shoal.customers import indexes, jsonkeys

    assert fields.KEY_RE is indexes._KEY_RE is jsonkeys.SAFE_KEY is standard.KEY_RE
