"""What a browser would submit from a page's form: the named inputs, selects and textareas of
the form with a given id, with their current values (stdlib HTML parser)."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormParser(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._select_first: str | None = None
        self._option_value: str | None = None
        self._option_text = ""
        self._option_selected = False
        self._textarea: str | None = None
        self._textarea_text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.data.append((name, a.get("value") or ("on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name and "disabled" not in a:
            self._select, self._select_value, self._select_first = name, None, None
        elif tag == "option" and self._select is not None:
            self._option_value = a.get("value")
            self._option_text = ""
            self._option_selected = "selected" in a
        elif tag == "textarea" and name and "disabled" not in a:
            self._textarea, self._textarea_text = name, ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea_text += data
        elif self._option_value is None and self._select is not None:
            self._option_text += data

    def _close_option(self):
        if self._select is None:
            return
        value = self._option_value if self._option_value is not None else self._option_text.strip()
        if self._select_first is None:
            self._select_first = value
        if self._option_selected:
            self._select_value = value
        self._option_value, self._option_selected = None, False

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "option":
            self._close_option()
        elif tag == "select" and self._select is not None:
            value = self._select_value if self._select_value is not None else self._select_first
            if value is not None:
                self.data.append((self._select, value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea_text
            self.data.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None


def form_data(html: str, form_id: str) -> dict:
    """The fields of ``<form id=form_id>`` as the browser would post them (lists for repeated names)."""
    parser = _FormParser(form_id)
    parser.feed(html)
    out: dict = {}
    for name, value in parser.data:
        if name in out:
            out[name] = [*(out[name] if isinstance(out[name], list) else [out[name]]), value]
        else:
            out[name] = value
    return out
