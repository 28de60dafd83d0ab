"""zh-hans is complete: every message marked for translation in src/ has a zh_Hans translation
(not empty, not fuzzy), and the compiled django.mo says the same as django.po.

The catalogue is refreshed by scripts/merge-translations.sh (it merges locale-additions/*.po)."""

import ast
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


# unfold.contrib apps Shoal does not install: their messages never show.
UNUSED_UNFOLD_CONTRIB = {"constance", "guardian", "import_export", "inlines", "location_field", "simple_history"}


def _po_entries(po_text: str):
    """(msgid, msgid_plural or None) of a PO text, escapes decoded."""

    def text(raw):
        return "".join(ast.literal_eval(f'"{part}"') for part in re.findall(r'"((?:[^"\\]|\\.)*)"', raw))

    for block in po_text.split("\n\n"):
        if re.search(r"^msgctxt ", block, re.M):
            continue  # none in the catalogues checked here
        match = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        plural = re.search(r'^msgid_plural ((?:".*"\n?)+)', block, re.M)
        if match and text(match.group(1)):
            yield text(match.group(1)), text(plural.group(1)) if plural else None


def test_unfold_messages_are_translated_in_zh_hans(tmp_path):
    import unfold
    from django.utils import translation

    _gettext_tool("xgettext")
    copy = tmp_path / "unfold"
    shutil.copytree(Path(unfold.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    for name in UNUSED_UNFOLD_CONTRIB:
        shutil.rmtree(copy / "contrib" / name, ignore_errors=True)
    (copy / "locale").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run([sys.executable, "-m", "django", "makemessages", "-l", "en", "--no-location", "-v0"],
                   cwd=copy, env=env, check=True)
    entries = list(_po_entries((copy / "locale" / "en" / "LC_MESSAGES" / "django.po").read_text()))
    assert len(entries) > 100
    with translation.override("zh-hans"):
        missing = [msgid for msgid, plural in entries
                   if (translation.ngettext(msgid, plural, 2) == plural if plural
                       else translation.gettext(msgid) == msgid)]
    assert not missing, f"unfold messages without a zh_Hans translation (add them to " \
                        f"src/shoal/core/vendor_messages.py and locale-additions): {missing}"


def test_django_admin_javascript_messages_are_translated_in_zh_hans():
    """The dual-list (filter_horizontal) widget and other admin scripts read the djangojs catalogue."""
    import django.contrib.admin
    from django.utils.translation.trans_real import DjangoTranslation

    admin_locale = Path(django.contrib.admin.__file__).parent / "locale"
    catalog = DjangoTranslation("zh_Hans", domain="djangojs", localedirs=[str(admin_locale)])
    entries = list(_po_entries((admin_locale / "en" / "LC_MESSAGES" / "djangojs.po").read_text()))
    missing = [msgid for msgid, plural in entries
               if (catalog.ngettext(msgid, plural, 2) == plural if plural else catalog.gettext(msgid) == msgid)]
    assert entries and not missing, f"add them to src/shoal/locale/zh_Hans/LC_MESSAGES/djangojs.po: {missing}"


CJK = "[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
ASCII_IN_CHINESE = re.compile(rf"(?<={CJK})[,;:?]|[;:](?={CJK})|(?<=[\u4e00-\u9fff])\([^()]*{CJK}[^()]*\)")


def test_zh_hans_translations_use_full_width_punctuation():
    with MO.open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog
    slips = {msgstr for msgid, msgstr in catalog.items() if msgid and ASCII_IN_CHINESE.search(msgstr)}
    assert not slips, slips


def test_zh_hans_words_that_read_right_where_they_show(db):
    from django.test import Client
    from django.utils import translation

    from tests.conftest import make_user

    with translation.override("zh-hans"):
        # "System" is ours (the core app's name) and unfold's (the theme switcher's "follow the system")
        assert translation.gettext("System") == "系统"
        assert translation.gettext("customer detail tabs") == "客户详情页签"
        assert translation.gettext("Customer detail tabs") == "客户详情页签"
        assert translation.gettext("Welcome, %(name)s") == "欢迎，%(name)s"
    client = Client()
    client.force_login(make_user("zh_words", is_superuser=True, language="zh-hans"))
    workbench = client.get("/workbench/boards/accounts.system/").content.decode()  # the system overview board
    assert "部门数" in workbench and "已启用用户数" in workbench and "已启用的调度任务数" in workbench
    query = client.get("/query/").content.decode()
    assert '<option value="and">且</option><option value="or">或</option>' in query
