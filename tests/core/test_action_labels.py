"""Operation-log actions are shown as words, not codes (page and API)."""

import re
from pathlib import Path

import pytest
from django.test import Client

import shoal
from shoal.core.oplog import ACTION_LABELS, ACTION_PREFIX_LABELS, action_label, log_operation
from tests.conftest import make_user

SRC = Path(shoal.__file__).resolve().parent


def test_every_logged_action_has_a_label():
    codes = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        for call in re.finditer(r"log_operation\((.*?)\)\n", text, re.S):
            codes.update(re.findall(r'"([a-z_]+(?:\.[a-z_]+)+)"', call.group(1)))
    codes = {c for c in codes if not any(c.startswith(p) for p in ACTION_PREFIX_LABELS)}
    assert len(codes) > 30
    assert not codes - set(ACTION_LABELS), f"add labels to shoal.core.oplog.ACTION_LABELS: {codes - set(ACTION_LABELS)}"


@pytest.mark.parametrize("language, words", [("zh-hans", ["新建定制字段", "设置客户状态：已封禁"]),
                                             ("en", ["Create custom field", "Set customer status: Banned"])])
def test_operation_log_page_and_api_show_words(db, language, words):
    reader = make_user(f"log_{language}", is_superuser=True, language=language)
    log_operation(actor=reader, action="custom_field.create", object_type="customfield", object_id=1)
    log_operation(actor=reader, action="customer.status.banned", object_type="customer", object_id=2)
    client = Client()
    client.force_login(reader)
    html = client.get("/core/operationlog/").content.decode()
    for word in words:
        assert word in html
    assert "custom_field.create" not in html.replace('action=custom_field.create', '')  # filter URLs keep the code
    rows = client.get("/api/v1/operation-log").json()["items"]
    by_code = {row["action"]: row["action_label"] for row in rows}
    assert by_code["custom_field.create"] == words[0] and by_code["customer.status.banned"] == words[1]


def test_unknown_code_is_shown_as_is():
    assert action_label("plugin.something") == "plugin.something"


TYPES = ["customfield", "enumgroup", "user", "application", "savedquery", "customer"]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_operation_log_page_and_api_show_object_types_by_name(db, language):
    from django.apps import apps
    from django.utils import translation

    reader = make_user(f"types_{language}", is_superuser=True, language=language)
    for n, code in enumerate(TYPES):
        log_operation(actor=reader, action="custom_field.create", object_type=code, object_id=n)
    with translation.override(language):
        names = {code: str(next(m for m in apps.get_models() if m._meta.model_name == code
                                and m.__module__.startswith("shoal."))._meta.verbose_name) for code in TYPES}
    assert len(set(names.values())) == len(TYPES)
    client = Client()
    client.force_login(reader)
    html = client.get("/core/operationlog/").content.decode()
    for code, name in names.items():
        assert re.search(rf">\s*{re.escape(name)}\s*<", html), (code, name)
        assert name == code or not re.search(rf">\s*{code}\s*<", html), code  # codes stay only in URLs
    rows = client.get("/api/v1/operation-log").json()["items"]
    assert {row["object_type"]: row["object_type_label"] for row in rows} == names
