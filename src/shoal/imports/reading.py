"""TEMPORARY minimal reader (UTF-8/GB18030 CSV only) until the real one lands; same interface."""
from __future__ import annotations

import csv
import io
from pathlib import Path


class Table:
    def __init__(self, path, encoding):
        self.kind = "csv"
        raw = open(path, "rb")
        head = raw.read(65536)
        raw.seek(0)
        if encoding == "auto":
            if head.startswith(b"\xef\xbb\xbf"):
                encoding = "utf-8-sig"
            else:
                try:
                    head.decode("utf-8")
                    encoding = "utf-8"
                except UnicodeDecodeError:
                    encoding = "gb18030"
        self.encoding = encoding
        self.delimiter = ","
        self._raw = raw
        self._size = Path(path).stat().st_size
        self._text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        self._reader = csv.reader(self._text)
        self._line = 0
        self.header = []
        for cells in self._reader:
            self._line += 1
            if any(c.strip() for c in cells):
                self.header = [c.strip() for c in cells]
                break

    def rows(self):
        for cells in self._reader:
            self._line += 1
            yield self._line, cells

    def progress(self):
        return self._raw.tell(), self._size

    def close(self):
        self._text.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_table(path, *, encoding="auto", file_name=None, max_bytes=None):
    return Table(path, encoding)
