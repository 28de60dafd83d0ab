"""Condition-tree, custom SQL and query-service errors follow the language (issue 8 §5): English for
integrators by default, whole Chinese sentences with ``Accept-Language: zh-hans``."""

import json
import re

import pytest
from django.test import Client

VALIDATE = "/api/v1/segments/validate"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}\b")  # three English words in a row

CASES = [
    # (path, body, English message, Chinese message)
    (VALIDATE, {"query": {"field": "nope", "op": "eq", "value": 1}},
     "$: unknown field 'nope'", "$: 未知字段 'nope'"),
    (VALIDATE, {"query": {"all": [{"field": "name", "op": "eq", "value": 5}]}},
     "$.all[0]: name expects text", "$.all[0]: name 须为文本"),
    (VALIDATE, {"query": {"all": []}},
     '$.all: "all" needs a non-empty list of conditions', '$.all: "all" 须为非空的条件列表'),
    (VALIDATE, {"query": {"either": [{"field": "name", "op": "eq", "value": "a"}]}},
     '$: unknown group "either" (use "all", "any" or "not")', '$: 未知的分组 "either"（请用 "all"、"any" 或 "not"）'),
    (VALIDATE, {"query": {"field": "name", "op": "is_empty", "value": "x"}},
     "$: is_empty takes no value", "$: is_empty 不需要值"),
    (VALIDATE, {"sql": "nope = 1"}, "Unknown field nope", "未知字段 nope"),
    (VALIDATE, {"sql": "name = 'a'; name = 'b'"},
     "Only one condition is allowed (no ';' between statements)", "只允许一个条件（不能用 ';' 分隔多条语句）"),
    (VALIDATE, {"sql": "name = 'a' /* hidden */"}, "Comments are not allowed in a rule", "规则中不允许注释"),
    ("/api/v1/saved-queries", {"name": "q", "query": {"field": "name", "op": "eq", "value": "b"},
                               "rows": [{"field": "name", "op": "eq", "value": "a"}]},
     "The rows and the query say different things; send one of them", "条件行与查询条件不一致，请只发送其中之一"),
]


def post(path, body, headers):
    return Client().post(path, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def auth(personas, bearer):
    return bearer(personas["admin"])


@pytest.mark.django_db
@pytest.mark.parametrize("path, body, english, chinese", CASES)
def test_condition_errors_in_chinese_when_asked(auth, path, body, english, chinese):
    resp = post(path, body, {**auth, **ZH})
    assert resp.status_code == 400
    message = resp.json()["error"]["message"]
    assert message == chinese
    assert CHINESE.search(message) and not ENGLISH_SENTENCE.search(message), message


@pytest.mark.django_db
@pytest.mark.parametrize("path, body, english, chinese", CASES)
def test_condition_errors_in_english_by_default(auth, path, body, english, chinese):
    resp = post(path, body, auth)
    assert resp.status_code == 400
    message = resp.json()["error"]["message"]
    assert message == english
    assert not CHINESE.search(message)


@pytest.mark.django_db
def test_sql_function_refusal_names_it_in_chinese(auth):
    resp = post(VALIDATE, {"sql": "sleep(5) = 1"}, {**auth, **ZH})
    message = resp.json()["error"]["message"]
    assert resp.status_code == 400 and message.startswith("不允许使用函数 ") and "允许的函数：lower, upper" in message


@pytest.mark.django_db
def test_unknown_api_endpoint_in_chinese_when_asked(auth):
    english = Client().get("/api/v1/no-such-thing", **auth).json()["error"]
    chinese = Client().get("/api/v1/no-such-thing", **auth, **ZH).json()["error"]
    assert (english["code"], english["message"]) == ("not_found", "No such API endpoint")
    assert (chinese["code"], chinese["message"]) == ("not_found", "API 接口不存在")


@pytest.mark.parametrize("convert, raw, chinese", [
    ("to_date", "2024-13-45", "birthday：须为日期（YYYY-MM-DD）"),
    ("to_datetime", "yesterday", "birthday：须为日期时间（ISO 8601）"),
    ("to_url", "ftp://example.com/x", "birthday：须为完整的 http(s) 网址"),
])
def test_field_value_errors_in_chinese(convert, raw, chinese):
    from django.utils import translation

    from shoal.core.errors import ShoalError
    from shoal.customers import cleaning as fields

    with translation.override("zh-hans"), pytest.raises(ShoalError) as exc:
        getattr(fields, convert)(raw, "birthday")
    assert exc.value.message == chinese


def test_default_not_found_and_permission_messages_in_chinese():
    from django.utils import translation

    from shoal.core.errors import NotFound, PermissionDenied

    with translation.override("en"):
        assert (NotFound().message, PermissionDenied().message) == ("Not found", "Permission denied")
    with translation.override("zh-hans"):
        assert (NotFound().message, PermissionDenied().message) == ("不存在", "没有权限")
