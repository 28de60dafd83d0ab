"""`make run`: where to log in and as whom comes last, after the servers are up, with the generated
admin password at the very end; the packaging metadata builds without deprecation warnings."""

import io
import stat
import tomllib
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from shoal.accounts.models import User
from shoal.setup.firstrun import login_banner

ROOT = Path(__file__).resolve().parents[2]


def test_generated_admin_password_is_shown_last_by_the_banner_once(db):
    out = io.StringIO()
    call_command("bootstrap", no_demo=True, stdout=out)
    kept = Path(settings.DATA_DIR) / "initial_admin_password"
    password = kept.read_text()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert password not in out.getvalue()  # not in the middle of the set-up output
    assert User.objects.get(username="admin").check_password(password)

    banner = login_banner(host="0.0.0.0", port=8123)
    lines = [line for line in banner.splitlines() if line.strip()]
    assert "http://127.0.0.1:8123/" in banner and "admin" in banner
    assert password in lines[-1]  # the password comes last
    assert not kept.exists()

    again = login_banner(host="127.0.0.1", port=8123)  # shown only once
    assert password not in again and "http://127.0.0.1:8123/" in again and "admin" in again


def test_admin_password_from_the_environment_is_never_printed(db, monkeypatch):
    monkeypatch.setenv("SHOAL_ADMIN_PASSWORD", "from-env-secret")
    out = io.StringIO()
    call_command("bootstrap", no_demo=True, stdout=out)
    banner = login_banner(host="127.0.0.1", port=8000)
    assert "from-env-secret" not in out.getvalue() + banner and "User:       admin" in banner


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "AGPL-3.0-or-later"  # a table is deprecated by setuptools
    assert "setuptools>=77" in data["build-system"]["requires"]
