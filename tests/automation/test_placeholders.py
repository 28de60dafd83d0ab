"""${field} placeholders: rendering (never evaluated), and the check a strategy's save makes."""

import pytest

from shoal.automation import placeholders, runner, services
from shoal.core.errors import ShoalError
from shoal.customers import services as customer_services


def values(**data):
    return placeholders.Values(event_data=data, event={"id": "e-9", "code": "reg"})


def test_text_rendering_turns_objects_into_json_and_missing_into_empty():
    v = values(name="张三", order={"id": 7, "tags": ["a"]}, flag=True, n=None)
    assert placeholders.render_text("${name}|${order}|${order.id}|${flag}|${n}|${nope}|${event.id}", v) == \
        '张三|{"id":7,"tags":["a"]}|7|true|||e-9'


def test_nothing_is_evaluated_and_dollar_dollar_is_literal():
    v = values(x="${y}", y="secret")
    assert placeholders.render_text("${x} ${__import__('os')} $${x} ${x.__class__} {x} $x", v) == \
        "${y} ${__import__('os')} ${x}  {x} $x"  # no attribute access: x.__class__ is a key x lacks


def test_a_json_body_keeps_types_of_whole_placeholders():
    v = values(amount=12.5, items=[1, 2], who="李")
    assert placeholders.render_json({"a": "${amount}", "i": "${items}", "t": "hi ${who}", "${who}": 1, "n": 3},
                                    v) == {"a": 12.5, "i": [1, 2], "t": "hi 李", "李": 1, "n": 3}


def test_names_are_found_in_keys_values_and_nesting():
    assert placeholders.names({"a": ["${x}", {"${k}": "${y.z}"}], "b": "$${not}"}) == {"x", "k", "y.z"}


@pytest.mark.django_db
def test_placeholders_missing_knows_the_customer_and_event_keys():
    customer_services.custom_field_create(actor=None, key="vip_level", label="VIP", type="text")
    template = "${mobile} ${customer.name} ${customer.vip_level} ${customer.nope} ${event.id} ${order.id} ${other}"
    assert runner.placeholders_missing(template, ["mobile", "order"]) == ["customer.nope", "other"]
    assert runner.placeholders_missing({"x": "${a}"}, ["a"]) == []


@pytest.mark.django_db
def test_a_placeholder_the_event_does_not_define_is_refused_at_validation():
    processor, _ = services.processor_create(actor=None, data={
        "name": "发送感谢信邮件", "url": "https://example.com/send", "method": "GET",
        "params": {"email": "${email}", "content": "尊敬的${user_name}，感谢"}})
    assert runner.processor_validate_params(processor.code, {}, available_keys=["email", "user_name"]) == {}
    with pytest.raises(ShoalError) as exc:
        runner.processor_validate_params(processor.code, {}, available_keys=["email"])
    assert exc.value.code == "unknown_placeholders" and exc.value.detail == {"placeholders": ["user_name"]}
    with pytest.raises(ShoalError) as exc:
        runner.processor_validate_params(processor.pk, {"extra": 1})
    assert exc.value.code == "invalid_params"


@pytest.mark.django_db
def test_builtin_parameters_are_validated_by_their_schema_and_templates_checked():
    services.template_create(actor=None, data={"channel": "sms", "name": "码", "code": "c1",
                                               "content": "验证码${code}，${customer.name}"})
    assert runner.processor_validate_params("sms", {"template": "c1"}, available_keys=["code"])["template"] == "c1"
    with pytest.raises(ShoalError) as exc:
        runner.processor_validate_params("sms", {"template": "c1"}, available_keys=[])
    assert exc.value.detail == {"placeholders": ["code"]}
    # a variable of the action provides it, and its own placeholders are checked
    assert runner.processor_validate_params("sms", {"template": "c1", "variables": {"code": "${pin}"}},
                                            available_keys=["pin"])
    with pytest.raises(ShoalError) as exc:
        runner.processor_validate_params("sms", {"template": "c1", "variables": {"code": "${pin}"}}, available_keys=[])
    assert exc.value.detail == {"placeholders": ["pin"]}
    for bad in ({"template": "zz"}, {}, {"template": "c1", "unknown": 1}):
        with pytest.raises(ShoalError) as exc:
            runner.processor_validate_params("sms", bad)
        assert exc.value.code in ("invalid", "invalid_params")
    with pytest.raises(ShoalError) as exc:
        runner.processor_validate_params("notify", {"title": "${missing_field}"}, available_keys=["a"])
    assert exc.value.detail == {"placeholders": ["missing_field"]}
    with pytest.raises(ShoalError) as exc:
        runner.processor_validate_params("no_such_processor", {})
    assert exc.value.status == 404
