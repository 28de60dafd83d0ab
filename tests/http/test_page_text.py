"""What users read on Shoal's pages, over real HTTP: text shown as written."""

import pytest

from tests.conftest import make_user


@pytest.mark.parametrize("language, expected", [
    ("en", "Authorization: Bearer &lt;token&gt;"),
    ("zh-hans", "Authorization: Bearer &lt;token&gt;"),
])
def test_tokens_page_shows_the_bearer_placeholder_escaped(session_http, language, expected):
    make_user("tok", language=language)
    page = session_http("tok").get("/system/my-tokens/")
    assert page.status_code == 200
    assert expected in page.text
    assert "<token>" not in page.text


@pytest.mark.parametrize("language, text", [("en", "Your password was changed."), ("zh-hans", "您的密码已修改。")])
def test_changing_ones_password_says_so_on_the_workbench(session_http, language, text):
    make_user("pw_changer", language=language)
    client = session_http("pw_changer")
    client.get("/password_change/")
    resp = client.post("/password_change/", data={
        "old_password": "secret-pass-1", "new_password1": "Brand-new-pass-93", "new_password2": "Brand-new-pass-93",
        "csrfmiddlewaretoken": client.csrf}, headers={"X-CSRFToken": client.csrf, "Referer": str(client.base_url)})
    assert resp.status_code == 302 and resp.headers["location"] == "/"
    assert text in client.get("/").text


def test_pages_have_a_favicon_and_favicon_ico_answers(http, session_http):
    resp = http.get("/favicon.ico")
    assert resp.status_code in (301, 302)
    icon = http.get(resp.headers["location"])
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    login = http.get("/login/")
    assert f'rel="icon" href="{resp.headers["location"]}"' in login.text
    make_user("fav")
    assert f'rel="icon" href="{resp.headers["location"]}"' in session_http("fav").get("/").text
