"""Where import files and error reports live, and how large an upload may be."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext

from shoal.core import parameters
from shoal.core.errors import ShoalError

from .models import ImportRun


def import_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(parameters.get("IMPORT_MAX_MB")) * 1024 * 1024


def _too_large() -> ShoalError:
    mb = int(parameters.get("IMPORT_MAX_MB"))
    return ShoalError("file_too_large", gettext("The file is larger than %(mb)s MB, the import limit") % {"mb": mb},
                      {"max_mb": mb}, status=413)


def run_path(run: ImportRun) -> Path:
    stored = Path(run.stored_name)
    return stored if stored.is_absolute() else import_dir() / stored


