"""The import API over real HTTP against a live server: a bearer token, and a browser session with CSRF enforced;
the multipart upload (also one larger than the JSON body limit and the in-memory upload size), the status after
the worker ran, the error report download, and the 400/401/403/404/413 answers in the one error shape."""

from __future__ import annotations

import json

import pytest

from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.customers.models import Customer
from shoal.imports.models import ImportRun

from .pages_support import (  # noqa: F401  (the *_fixture names: fixtures)
    CSV_TEXT,
    EXPECTED,
    csv_bytes,
    http_fixture,
    importer_fixture,
    raw_token_fixture,
    run_worker,
    session_http_fixture,
    viewer_fixture,
)

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/imports"


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload(client, url=URL, data: bytes | None = None, name="客户.csv", headers=None, **fields):
    files = {"file": (name, csv_bytes() if data is None else data, "text/csv")}
    return client.post(url, files=files, data=fields, headers=headers or {})


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_token_upload_status_after_the_worker_and_the_error_report(http, raw_token, importer):
    headers = auth(raw_token(importer))
    created = upload(http, headers=headers, mode="fast", encoding="auto")
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert http.get(f"{URL}/{run_id}", headers=headers).json()["status"] == "queued"

    run_worker(run_id)  # the worker, in this process, on the same database
    out = http.get(f"{URL}/{run_id}", headers=headers).json()
    assert out["status"] == "succeeded" and out["counts"] == EXPECTED and out["mode"] == "fast"
    assert out["progress"]["done"] == out["progress"]["total"] and out["seconds"] is not None

    report = http.get(f"{URL}/{run_id}/errors", headers=headers)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert report.content.startswith(b"\xef\xbb\xbf")
    assert len(report.content.decode("utf-8-sig").strip().splitlines()) == 3

    listed = http.get(URL, headers=headers).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == run_id


def test_a_session_needs_the_csrf_token_to_upload(session_http, importer):
    client = session_http("importer")
    refused = upload(client)
    assert refused.status_code == 403 and "CSRF" in error_of(refused)["message"]
    assert not ImportRun.objects.exists()
    created = upload(client, headers={"X-CSRFToken": client.csrf})
    assert created.status_code == 201, created.text
    preview = upload(client, url=f"{URL}/preview", headers={"X-CSRFToken": client.csrf})
    assert preview.status_code == 200 and preview.json()["summary"] == EXPECTED
    assert client.get(f"{URL}/{created.json()['id']}").status_code == 200  # reads need no token


def test_a_file_larger_than_the_json_body_limit_uploads_through_a_temporary_file(http, raw_token, importer):
    header = CSV_TEXT.splitlines()[0]
    rows = [f"客户{i},139{i:08d},,深圳,{'备注' * 20}" for i in range(40_000)]
    data = "\n".join([header, *rows]).encode()
    assert len(data) > 3 * 1024 * 1024  # above API_MAX_BODY_BYTES (2 MB) and Django's in-memory size (2.5 MB)
    headers = auth(raw_token(importer))
    created = upload(http, data=data, headers=headers)
    assert created.status_code == 201, created.text
    run_worker(created.json()["id"])
    assert http.get(f"{URL}/{created.json()['id']}", headers=headers).json()["counts"]["created"] == 40_000
    assert Customer.objects.count() == 40_000


def test_over_the_size_limit_is_a_413_whether_the_length_is_declared_or_found_while_reading(http, raw_token, importer):
    parameters.set_value("IMPORT_MAX_MB", 1, actor=SYSTEM)
    headers = auth(raw_token(importer))
    just_over = csv_bytes() + b"x" * (1024 * 1024)  # found over the limit while the upload streams in
    for url in (URL, f"{URL}/preview"):
        response = upload(http, url=url, data=just_over, headers=headers)
        assert response.status_code == 413, response.text
        assert error_of(response)["code"] == "file_too_large" and "1 MB" in error_of(response)["message"]
    far_over = b"x" * (6 * 1024 * 1024)  # its Content-Length alone is refused, before the body is read
    response = upload(http, data=far_over, headers=headers)
    assert response.status_code == 413 and error_of(response)["code"] == "file_too_large"
    assert not ImportRun.objects.exists()


def test_bad_input_is_a_400_in_the_one_error_shape(http, raw_token, importer):
    headers = auth(raw_token(importer))
    for fields in ({"mapping": "{broken"}, {"encoding": "ebcdic"}, {"tags": "x"}, {"group_id": "999999"}):
        response = upload(http, headers=headers, **fields)
        assert response.status_code == 400, (fields, response.text)
        assert error_of(response)["message"]
    missing = http.post(URL, data={"mode": "fast"}, files={"other": ("a.csv", b"a", "text/csv")}, headers=headers)
    assert missing.status_code == 400 and "file" in json.dumps(error_of(missing))
    json_body = http.post(URL, json={"file": "a"}, headers=headers)
    assert json_body.status_code == 400
    assert not ImportRun.objects.exists()


def test_401_403_and_404(http, raw_token, importer, viewer):
    assert upload(http).status_code == 401
    assert http.get(URL).status_code == 401
    viewer_headers = auth(raw_token(viewer))
    assert upload(http, headers=viewer_headers).status_code == 403
    assert http.get(URL, headers=viewer_headers).status_code == 403
    headers = auth(raw_token(importer))
    assert http.get(f"{URL}/123456", headers=headers).status_code == 404
    run_id = upload(http, headers=headers).json()["id"]
    no_report = http.get(f"{URL}/{run_id}/errors", headers=headers)
    assert no_report.status_code == 404 and "error report" in error_of(no_report)["message"]
    assert http.get(f"{URL}/{run_id}", headers=viewer_headers).status_code == 403
