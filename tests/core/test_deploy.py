"""§6 deploy settings: `shoal check --deploy` is clean with the HTTPS variables set (SHOAL_DEBUG
unset), a Content-Security-Policy header is sent on every page, and the packaging metadata builds
without deprecation warnings."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = str(ROOT / "src")
HTTPS_ENV = {"SESSION_COOKIE_SECURE": "true", "SECURE_HSTS_SECONDS": "31536000",
             "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true",
             "SECURE_SSL_REDIRECT": "true"}


def _check_deploy(tmp_path, extra):
    env = {k: v for k, v in os.environ.items()
           if k not in {"SHOAL_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", *HTTPS_ENV}}  # the browser tests set the latter
    env.update(extra, SHOAL_DATA_DIR=str(tmp_path), PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "-m", "shoal.cli", "check", "--deploy", "--fail-level", "WARNING"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_has_no_warnings_with_the_https_variables(tmp_path):
    result = _check_deploy(tmp_path, HTTPS_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_them(tmp_path):
    result = _check_deploy(tmp_path, {})
    assert result.returncode != 0
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in result.stdout + result.stderr


@pytest.mark.parametrize("path", ["/login/", "/healthz", "/api/v1/me"])
def test_content_security_policy_header_on_every_response(client, db, path):
    policy = client.get(path)["Content-Security-Policy"]
    directives = dict((d.split(" ", 1) + [""])[:2] for d in (p.strip() for p in policy.split(";")) if d)
    assert directives["default-src"] == "'self'"
    assert "'unsafe-inline'" not in directives["script-src"]  # no inline scripts
    assert "http" not in policy  # no CDN
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_logged_in_pages_carry_it_too(client, superuser):
    client.force_login(superuser)
    assert "default-src 'self'" in client.get("/")["Content-Security-Policy"]


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "AGPL-3.0-or-later"  # a table is deprecated by setuptools
    assert "setuptools>=77" in data["build-system"]["requires"]


def test_the_server_process_keeps_its_startup_objects_out_of_full_collections(tmp_path):
    """shoal.wsgi (what gunicorn and runserver load) resolves the URLs and compiles the page shell, then freezes what
    it made: the garbage collector's full passes walk only what requests make later (a full pass over the ~180,000
    objects of a started process costs a request ~130 ms)."""
    script = ("import gc, shoal.wsgi\n"
              "from django.urls import get_resolver\n"
              "print(gc.get_freeze_count(), len(gc.get_objects()), bool(get_resolver()._populated))\n")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(SHOAL_DATA_DIR=str(tmp_path), PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    frozen, tracked, resolved = result.stdout.split()
    assert resolved == "True"
    assert int(frozen) > 50_000 and int(tracked) < int(frozen) // 10, (frozen, tracked)
