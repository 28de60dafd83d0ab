"""Mobile and email normalisation and identity matching (property tests)."""

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shoal.core import parameters
from shoal.core.errors import ShoalError
from shoal.customers import services
from shoal.customers.identity import identity_fields, normalise_email, normalise_mobile
from shoal.customers.models import Customer

PREFIXES = ["130", "131", "135", "138", "139", "150", "151", "177", "186", "187", "188", "199"]
mobiles = st.builds(lambda p, rest: p + rest, st.sampled_from(PREFIXES), st.text("0123456789", min_size=8, max_size=8))


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def spellings(national: str) -> list[str]:
    a, b, c = national[:3], national[3:7], national[7:]
    return [national, f"{a} {b} {c}", f"+86 {a}-{b}-{c}", f"86{national}", f"0086{national}", f"+86({a}){b}{c}",
            f"  {a}-{b}-{c}  ", a + b.translate(FULL_WIDTH) + c, national.translate(FULL_WIDTH)]


def _valid(national):
    return phonenumbers.is_valid_number(phonenumbers.parse(national, "CN"))


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(national=mobiles, which=st.integers(0, 8))
def test_every_spelling_of_a_mobile_normalises_to_one_e164(national, which):
    assume(_valid(national))
    assert normalise_mobile(spellings(national)[which]) == "+86" + national


def test_the_three_spellings_of_the_issue_are_the_same(db):
    assert {normalise_mobile(s) for s in ["138 0013 8000", "+86 138-0013-8000", "8613800138000"]} == {
        "+8613800138000"}


@pytest.mark.django_db
@settings(max_examples=40, deadline=None)
@given(junk=st.one_of(st.text(max_size=12).filter(lambda s: not any(c.isdigit() for c in s)),
                      st.text("0123456789", min_size=1, max_size=5)))
def test_a_string_that_is_no_phone_number_is_refused_naming_the_field(junk):
    with pytest.raises(ShoalError) as exc:
        normalise_mobile(junk)
    assert exc.value.detail["field"] == "mobile"


def test_default_region_comes_from_parameters(db):
    parameters.set_value("DEFAULT_PHONE_REGION", "US")
    assert normalise_mobile("(650) 253-0000") == "+16502530000"
    assert normalise_mobile("+86 138 0013 8000") == "+8613800138000"


local_parts = st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=20).filter(
    lambda s: s[0] not in "._" and s[-1] not in "._" and ".." not in s)
domains = st.sampled_from(["example.com", "Mail.Example.ORG", "qq.com", "163.com"])


@given(local=local_parts, domain=domains, upper=st.booleans(), pad=st.sampled_from(["", " ", "\t", "  "]))
def test_email_is_trimmed_and_lower_cased(local, domain, upper, pad):
    raw = f"{pad}{local.upper() if upper else local}@{domain}{pad}"
    assert normalise_email(raw) == f"{local}@{domain}".lower()


@pytest.mark.parametrize("bad", ["no-at-sign", "a@", "@b.com", "a b@c.com", 42, None])
def test_a_bad_email_is_refused_naming_the_field(bad):
    with pytest.raises(ShoalError) as exc:
        normalise_email(bad)
    assert exc.value.detail["field"] == "email"


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(national=mobiles, first=st.integers(0, 6), second=st.integers(0, 6), upper=st.booleans())
def test_identify_finds_the_same_customer_whatever_the_spelling(national, first, second, upper):
    assume(_valid(national))
    email = f"User{national}@Example.com"
    one = services.customer_identify(actor=None, data={"mobile": spellings(national)[first], "name": "A"})
    two = services.customer_identify(actor=None, data={"mobile": spellings(national)[second],
                                                        "email": email.upper() if upper else email})
    three = services.customer_identify(actor=None, data={"email": f"  {email.lower()} "})
    try:
        assert one.created and not two.created and not three.created
        assert one.customer.pk == two.customer.pk == three.customer.pk
        assert Customer.objects.filter(mobile="+86" + national).count() == 1
        assert Customer.objects.get(pk=one.customer.pk).email == email.lower()
    finally:
        Customer.objects.filter(pk=one.customer.pk).delete()


def test_identity_fields_default_and_parameter(db):
    assert identity_fields() == ("mobile", "email", "ent_user_id")
    parameters.set_value("CUSTOMER_IDENTITY_FIELDS", "ent_user_id, bogus")
    assert identity_fields() == ("ent_user_id",)
    with pytest.raises(ShoalError) as exc:
        services.customer_create(actor=None, data={"name": "x", "mobile": "13800138000"})
    assert exc.value.code == "identity_required"


def test_creating_a_customer_needs_an_identity_field(db):
    with pytest.raises(ShoalError) as exc:
        services.customer_create(actor=None, data={"name": "Nobody"})
    assert exc.value.code == "identity_required"
    assert Customer.objects.count() == 0


def test_identity_values_are_unique(db):
    services.customer_create(actor=None, data={"mobile": "13800138000"})
    with pytest.raises(ShoalError) as exc:
        services.customer_create(actor=None, data={"mobile": "+86 138 0013 8000"})
    assert exc.value.status == 409 and exc.value.detail["field"] == "mobile"


# The fast path for Chinese mobiles (identity._fast_cn_mobile) must give the full parse's answer for
# every spelling it takes, valid or not: any 11 digits starting with 1, every prefix and separator.
any_cn_digits = st.builds(lambda rest: "1" + rest, st.text("0123456789", min_size=10, max_size=10))


@pytest.mark.django_db
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(national=st.one_of(mobiles, any_cn_digits), which=st.integers(0, 8),
       region=st.sampled_from(["CN", "US", "HK"]))
def test_fast_chinese_mobile_path_agrees_with_the_full_parse(national, which, region):
    from shoal.customers.identity import _fast_cn_mobile, _normalise_mobile_full

    spelling = spellings(national)[which]
    try:
        full = _normalise_mobile_full(spelling, region=region)
    except ShoalError:
        full = None
    fast = _fast_cn_mobile(spelling, region)
    if fast is not None:  # when it answers, it answers as the full parse does
        assert fast == full
    try:
        answer = normalise_mobile(spelling, region=region)
    except ShoalError:
        answer = None
    assert answer == full


def test_fast_path_takes_the_common_spellings(db):
    from shoal.customers.identity import _fast_cn_mobile

    for spelling in ["13800138000", "138 0013 8000", "+86 138-0013-8000", "8613800138000", "0086 13800138000"]:
        assert _fast_cn_mobile(spelling, "CN") == "+8613800138000"
    assert _fast_cn_mobile("+8613800138000", "US") == "+8613800138000"
    assert _fast_cn_mobile("13800138000", "US") is None  # not Chinese there: the full parse decides
    assert _fast_cn_mobile("12000138000", "CN") is None  # no Chinese mobile prefix 120
