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
