"""The first administrator's generated password: kept (mode 0600) in the data directory until it has
been shown once, so that ``shoal run`` can show it last, after the servers are up."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def _path() -> Path:
    return Path(settings.DATA_DIR) / "initial_admin_password"


def keep_password(password: str) -> Path:
    path = _path()
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(password)
    return path


def take_password() -> str | None:
    """The generated password if it has not been shown yet; it is forgotten once read."""
    path = _path()
    if not path.exists():
        return None
    password = path.read_text().strip()
    path.unlink()
    return password or None


def login_banner(*, host: str, port: int) -> str:
    """Where to log in and as whom; a password generated on first run comes last."""
    from shoal.accounts.models import User

    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    username = admin.username if admin is not None else "admin"
    lines = ["", "  Shoal is up.", f"  Log in at:  http://{shown_host}:{port}/", f"  User:       {username}"]
    password = take_password()
    if password:
        lines.append(f"  Password:   {password}   (generated on first run, shown only this once; "
                     "change it after logging in)")
    lines.append("")
    return "\n".join(lines)
