#!/usr/bin/env bash
# Merges locale-additions/*.po (translations written by each branch) into the zh_Hans catalogue,
# refreshes the catalogue from the source (makemessages: new msgids in, vanished ones out) and
# compiles django.mo. Needs GNU gettext (msgcat, xgettext, msgmerge, msgfmt); installs Debian's if missing.
# Usage: scripts/merge-translations.sh        (PYTHON=path/to/python to use another interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
PO=src/shoal/locale/zh_Hans/LC_MESSAGES/django.po

if ! command -v msgcat >/dev/null || ! command -v xgettext >/dev/null || ! command -v msgfmt >/dev/null; then
  echo "== installing Debian's gettext"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends gettext >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shopt -s nullglob
additions=()
for f in locale-additions/*.po; do
  # The additions are bare entries; give each a header so msgcat reads them as UTF-8.
  out="$tmp/$(basename "$f")"
  printf 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n' > "$out"
  cat "$f" >> "$out"
  msgfmt --check-format -o /dev/null "$out"   # a broken addition stops here, naming the file
  additions+=("$out")
done

if [ ${#additions[@]} -gt 0 ]; then
  echo "== merging ${#additions[@]} addition file(s) into $PO"
  # The catalogue first: its header is kept. Where an addition translates a msgid the catalogue leaves
  # empty or fuzzy, the addition wins (msgattrib drops the empty/fuzzy ones before the merge).
  msgattrib --translated --no-fuzzy --no-obsolete -o "$tmp/current.po" "$PO"
  msgcat --use-first -o "$tmp/merged.po" "$tmp/current.po" "${additions[@]}"
  cp "$tmp/merged.po" "$PO"
fi

echo "== refreshing the catalogue from the source (makemessages)"
(cd src/shoal && env -u DJANGO_SETTINGS_MODULE "$PY" -m django makemessages -l zh_Hans --no-location \
   --no-obsolete -v0)

echo "== compiling"
(cd src/shoal && env -u DJANGO_SETTINGS_MODULE "$PY" -m django compilemessages -l zh_Hans -v0)

untranslated=$(msgattrib --untranslated --no-obsolete "$PO" | grep -c '^msgid ' || true)
fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$PO" | grep -c '^msgid ' || true)
echo "== done: $PO ($(( untranslated > 0 ? untranslated - 1 : 0 )) untranslated, $(( fuzzy > 0 ? fuzzy - 1 : 0 )) fuzzy)"
