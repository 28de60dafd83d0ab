"""zh-hans is complete: every message marked for translation in src/ has a zh_Hans translation
(not empty, not fuzzy), and the compiled django.mo says the same as django.po.

The catalogue is refreshed by scripts/merge-translations.sh (it merges locale-additions/*.po)."""

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import shoal

SRC = Path(shoal.__file__).resolve().parent
PO = SRC / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _gettext_tool(name):
    path = shutil.which(name)
    assert path, f"GNU gettext's {name} is needed (apt-get install gettext; scripts/test.sh installs it)"
    return path


def _msgids(po_text: str) -> list[str]:
    found = []
    for block in po_text.split("\n\n"):
        match = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        if match:
            text = "".join(re.findall(r'"(.*)"', match.group(1)))
            if text:
                found.append(text)
    return found


def test_every_message_in_src_is_translated_in_zh_hans(tmp_path):
    _gettext_tool("xgettext")
    msgattrib = _gettext_tool("msgattrib")
    copy = tmp_path / "shoal"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "static"))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    # makemessages on a copy of the source, against the committed catalogue: new msgids come in
    # empty, changed ones come in fuzzy.
    subprocess.run([sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-location",
                    "--no-obsolete", "-v0"], cwd=copy, env=env, check=True)
    refreshed = copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    untranslated = _msgids(subprocess.run([msgattrib, "--untranslated", "--no-obsolete", str(refreshed)],
                                          capture_output=True, text=True, check=True).stdout)
    fuzzy = _msgids(subprocess.run([msgattrib, "--only-fuzzy", "--no-obsolete", str(refreshed)],
                                   capture_output=True, text=True, check=True).stdout)
    assert not untranslated and not fuzzy, (
        "untranslated in zh_Hans (add them to locale-additions/<name>.po, then run "
        f"scripts/merge-translations.sh): {untranslated}; fuzzy: {fuzzy}")


def test_compiled_catalogue_matches_the_po(tmp_path):
    msgfmt = _gettext_tool("msgfmt")
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(PO)], check=True)
    with MO.open("rb") as committed, fresh.open("rb") as compiled:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(compiled)._catalog, \
            "django.mo is stale: run scripts/merge-translations.sh"
