"""404 and 403 pages: inside the Shoal layout, translated, with a way back; 403s logged as one line."""

import logging

import pytest

from tests.conftest import make_user


@pytest.fixture
def zh_user(db):
    return make_user("err_zh", language="zh-hans")


@pytest.fixture
def en_user(db):
    return make_user("err_en", language="en")


def _get(client, user, path, **extra):
    client.force_login(user)
    return client.get(path, **extra)


def test_404_in_layout_in_chinese(client, zh_user):
    resp = _get(client, zh_user, "/no/such/page/", HTTP_REFERER="http://testserver/customers/customer/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert 'id="error-page"' in html and 'data-status="404"' in html
    assert "页面不存在" in html and "返回工作台" in html and "返回上一页" in html
    assert 'href="http://testserver/customers/customer/"' in html  # the way back
    assert 'id="logout-form"' in html  # inside the Shoal layout (account menu), not a bare page


def test_404_in_english_and_no_foreign_referer(client, en_user):
    resp = _get(client, en_user, "/no/such/page/", HTTP_REFERER="https://evil.example/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "Page not found" in html and "Back to the workbench" in html
    assert "evil.example" not in html and 'id="error-back"' not in html


def test_403_in_layout_translated_and_logged_as_one_line(client, zh_user, en_user, caplog):
    caplog.set_level(logging.INFO)
    resp = _get(client, zh_user, "/system/parameters/")
    assert resp.status_code == 403
    html = resp.content.decode()
    assert 'data-status="403"' in html and "没有权限" in html and "返回工作台" in html

    resp = _get(client, en_user, "/system/parameters/")
    assert resp.status_code == 403
    assert "Permission denied" in resp.content.decode()

    forbidden = [r for r in caplog.records if r.levelno >= logging.WARNING and "/system/parameters/" in r.getMessage()]
    assert len(forbidden) == 2, [r.getMessage() for r in caplog.records]
    for record in forbidden:
        assert record.exc_info is None and not record.exc_text
        assert "\n" not in record.getMessage()
    assert "err_zh" in forbidden[0].getMessage() and "err_en" in forbidden[1].getMessage()
    assert "Traceback" not in caplog.text


def test_api_keeps_the_json_error_shape(client, en_user):
    client.force_login(en_user)
    resp = client.get("/api/v1/no-such-endpoint")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
