"""System parameters (core.parameters): typed over the API, checked on the page."""

import json

import pytest

from shoal.core import parameters


@pytest.mark.django_db
def test_parameters_are_typed(client, personas, bearer):
    headers = bearer(personas["admin"])
    response = client.patch("/api/v1/parameters/IMPORT_MAX_FILE_MB", data=json.dumps({"value": "lots"}),
                            content_type="application/json", **headers)
    assert response.status_code == 400 and response.json()["error"]["detail"]["expected"] == "int"
    assert parameters.get("IMPORT_MAX_FILE_MB") == 100  # unchanged
    response = client.patch("/api/v1/parameters/IMPORT_MAX_FILE_MB", data=json.dumps({"value": 30}),
                            content_type="application/json", **headers)
    assert response.status_code == 200 and response.json()["value"] == 30
    assert parameters.get("IMPORT_MAX_FILE_MB") == 30
    assert client.patch("/api/v1/parameters/NOPE", data=json.dumps({"value": 1}),
                        content_type="application/json", **headers).status_code == 404


@pytest.mark.django_db
def test_parameters_page_saves_and_reports_bad_values(client, superuser):
    client.force_login(superuser)
    response = client.post("/system/parameters/", {
        "param_SYS_USER_DEFAULT_PASSWORD": "abcdef", "param_IMPORT_MAX_FILE_MB": "-3",
        "param_DEFAULT_PHONE_REGION": "CN", "param_ATTACHMENT_MAX_FILE_MB": "20", "param_MASKING_ENABLED": "on"})
    assert response.status_code == 200
    assert 'data-error="IMPORT_MAX_FILE_MB"' in response.content.decode()
    assert parameters.get("IMPORT_MAX_FILE_MB") == 100
    response = client.post("/system/parameters/", {
        "param_SYS_USER_DEFAULT_PASSWORD": "abcdef", "param_IMPORT_MAX_FILE_MB": "50",
        "param_DEFAULT_PHONE_REGION": "CN", "param_ATTACHMENT_MAX_FILE_MB": "20"})
    assert response.status_code == 302
    assert parameters.get("IMPORT_MAX_FILE_MB") == 50
    assert parameters.get("SYS_USER_DEFAULT_PASSWORD") == "abcdef"
    assert parameters.get("MASKING_ENABLED") is False


@pytest.mark.django_db
@pytest.mark.parametrize("language, words", [("zh-hans", {"是", "否"}), ("en", {"Yes", "No"})])
def test_parameters_page_shows_bool_defaults_as_words(client, language, words):
    import re

    from tests.conftest import make_user

    client.force_login(make_user("params_reader", is_superuser=True, language=language))
    html = client.get("/system/parameters/").content.decode()
    defaults = {param.code: param for param in parameters.REGISTRY.values()}
    shown = dict(re.findall(r'<td class="p-2 font-mono text-xs">(\w+)</td>.*?<td class="p-2 text-base-400">(.*?)</td>',
                            html, re.S))
    bools = {code: shown[code] for code, param in defaults.items() if param.type == "bool"}
    assert bools and set(bools.values()) <= words, bools
    assert "True" not in shown.values() and "False" not in shown.values()
