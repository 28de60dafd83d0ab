"""Reading an import file: a CSV or an Excel workbook as a header and a stream of data rows.

- The format comes from the file's first bytes (xlsx: a ZIP holding ``xl/workbook.xml``; xls: an OLE2
  compound file; anything else: text); the file name only chooses the wording of a refusal.
- CSV is streamed (``io.TextIOWrapper`` + ``csv.reader``), so memory stays flat whatever the size. Encoding
  ``auto``: a UTF-8 BOM; else UTF-8 when the whole file decodes as UTF-8 (checked chunk by chunk, stopping
  at the first byte that does not); else GB18030 or Big5, whichever reads as more of the frequent
  characters of its own character set (GB2312 level 1 / Big5 level 1). "big5" is decoded as Windows writes
  it (cp950, a superset). The delimiter (, ; TAB |): the one that splits the first rows most consistently.
- Excel through python-calamine: the first visible worksheet, converted row by row; an xlsx passes
  ``zipcheck.check_xlsx`` first (zip bombs, XML entities). calamine holds the sheet itself in memory:
  the upload size limit bounds it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

from shoal.core.errors import ShoalError

from .zipcheck import check_xlsx

SAMPLE_BYTES = 1 << 20  # read at open: magic bytes, text checks, delimiter
SCORE_BYTES = 64 * 1024  # GB18030 / Big5 decided on this much text from the first non-ASCII line
SNIFF_BYTES = 32 * 1024
FIELD_LIMIT = 1 << 20  # characters in one CSV field (an unclosed quote stops there)
ENCODINGS = {"auto": "auto", "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030",
             "gbk": "gb18030", "gb2312": "gb18030", "big5": "big5", "cp950": "big5"}
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030", "big5": "Big5"}
CODECS = {"big5": "cp950"}  # the Python codec of an encoding, where it differs
FREQUENT = {  # the bytes of a frequent hanzi: GB2312 level 1 (3,755 characters), Big5 level 1 (A440–C67E, 5,401)
    "gb18030": lambda b: len(b) == 2 and 0xB0 <= b[0] <= 0xD7 and b[1] >= 0xA1,
    "big5": lambda b: len(b) == 2 and 0xA4 <= b[0] <= 0xC6 and not (b[0] == 0xC6 and b[1] > 0x7E),
}
DELIMITERS = ",;\t|"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OTHER_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"{\\rtf")
_HTML = re.compile(rb"\s*<(!doctype html|html|table|\?xml)", re.I)
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_SURROGATE = re.compile("[\udc80-\udcff]")
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")

csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))


class Table:
    """An open import file. ``rows()`` yields ``(row number, cells)`` once; close it (or use ``with``)."""

    kind: str
    encoding: str | None = None
    delimiter: str | None = None
    header: list[str]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        raise NotImplementedError

    def progress(self) -> tuple[int, int]:  # (done, total): bytes for CSV, rows for Excel
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_table(path: str | Path, *, encoding: str = "auto", file_name: str | None = None,
               max_bytes: int | None = None) -> Table:
    """Open an import file. Raises ShoalError: invalid (encoding), file_too_large (from the file's size,
    before reading it), empty_file, unsupported_file, unsafe_file, bad_encoding, bad_file."""
    path = Path(path)
    name = file_name or path.name
    codec = ENCODINGS.get(str(encoding).strip().lower())
    if codec is None:
        raise ShoalError("invalid", _("Unknown encoding “%(encoding)s”: use auto, utf-8, gb18030 or big5.")
                         % {"encoding": encoding}, {"field": "encoding"})
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            max_mb = round(max_bytes / (1 << 20), 1) if max_bytes % (1 << 20) else max_bytes >> 20
            raise ShoalError("file_too_large", _("The file is larger than %(max_mb)s MB.") % {"max_mb": max_mb},
                             {"max_mb": max_mb})
        with open(path, "rb") as f:
            head = f.read(SAMPLE_BYTES)
    except OSError:  # missing, a directory, unreadable
        raise _unsupported(name)
    if not head:
        raise ShoalError("empty_file", _("The file is empty."))
    if head.startswith(b"PK\x03\x04"):
        check_xlsx(path, max_bytes, _unsupported(name))
        return _ExcelTable(path, "xlsx", head)
    if head.startswith(OLE2):
        return _ExcelTable(path, "xls", head)
    return _CsvTable(path, size, head, codec, name)


# -- messages ----------------------------------------------------------------------------------------------
def _unsupported(name: str) -> ShoalError:
    if name.lower().endswith((".xlsx", ".xls", ".xlsm")):
        return ShoalError("unsupported_file", _("“%(name)s” is not an Excel workbook that can be read: save it "
                                                "again as .xlsx or CSV and upload it again.") % {"name": name})
    return ShoalError("unsupported_file", _("This file cannot be imported: upload a CSV file (UTF-8, GB18030 or "
                                            "Big5) or an Excel workbook (.xlsx or .xls)."))


def _utf16() -> ShoalError:
    return ShoalError("bad_encoding", _("The file is UTF-16 text (Excel's “Unicode text”): save it as “CSV UTF-8” "
                                        "and upload it again."))


# -- encoding ----------------------------------------------------------------------------------------------
def detect_encoding(sample: bytes) -> str:
    """The encoding of a CSV sample: "utf-8-sig" (BOM), "utf-8", "gb18030" or "big5". A character cut at the
    end of the sample is allowed. Raises ShoalError (bad_encoding) for UTF-16 or text in none of these."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _utf16()
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, False)
    except UnicodeDecodeError:
        return _chinese(sample)
    return "utf-8"


def _chinese(sample: bytes) -> str:
    """GB18030 or Big5 for text that is not UTF-8: each candidate that decodes is scored by the share of its
    non-ASCII characters that are frequent hanzi of its own character set; the bytes of the other set land
    mostly on rare characters, kana, symbols or private use. A tie goes to GB18030."""
    match = _NON_ASCII.search(sample)
    start = sample.rfind(b"\n", 0, match.start() if match else 0) + 1
    part = sample[start:start + SCORE_BYTES]
    scores = {}
    for encoding, frequent in FREQUENT.items():
        codec = CODECS.get(encoding, encoding)
        try:
            text = codecs.getincrementaldecoder(codec)().decode(part, False)
        except UnicodeDecodeError:
            continue
        chars = Counter(ch for ch in text if ch > "\x7f")
        good = sum(n for ch, n in chars.items() if frequent(ch.encode(codec)))
        scores[encoding] = good / max(1, sum(chars.values()))
    if not scores:
        raise ShoalError("bad_encoding", _("The file is not text in UTF-8, GB18030 or Big5: save it as “CSV UTF-8” "
                                           "and upload it again."))
    return max(scores, key=lambda e: (scores[e], e == "gb18030"))


def _detect_file(path: Path, head: bytes) -> str:
    """detect_encoding over the whole file: UTF-8 only when all of it decodes as UTF-8."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, first = 0, -1
    with open(path, "rb") as f:
        try:
            while chunk := f.read(SAMPLE_BYTES):
                if first < 0 and not chunk.isascii():
                    first = offset + chunk.rfind(b"\n", 0, _NON_ASCII.search(chunk).start()) + 1
                decoder.decode(chunk, False)
                offset += len(chunk)
            decoder.decode(b"", True)
            return "utf-8"
        except UnicodeDecodeError:
            f.seek(max(first, 0))
            return _chinese(f.read(SCORE_BYTES))


# -- CSV ---------------------------------------------------------------------------------------------------
class _CsvTable(Table):
    kind = "csv"

    def __init__(self, path: Path, size: int, head: bytes, encoding: str, name: str):
        self._path, self._size = path, size
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise _utf16()
        if b"\x00" in head[:SNIFF_BYTES] or head.startswith(OTHER_MAGIC):
            raise _unsupported(name)
        if _HTML.match(head):
            raise ShoalError("unsupported_file", _("The file is a web page or XML, not a spreadsheet: open it in "
                                                   "Excel, save it as .xlsx or CSV and upload it again."))
        if encoding == "auto":
            encoding = _detect_file(path, head)
        elif encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        self.encoding = encoding
        sample = head[:SNIFF_BYTES].decode(CODECS.get(encoding, encoding), errors="replace")
        if size > SNIFF_BYTES and "\n" in sample:
            sample = sample[:sample.rindex("\n") + 1]
        self.delimiter = _sniff_delimiter(sample)
        self._raw = open(path, "rb")
        self._text = io.TextIOWrapper(self._raw, encoding=CODECS.get(encoding, encoding), newline="")
        self._reader = csv.reader(self._text, delimiter=self.delimiter)
        self._row = 0
        try:
            for cells in self._reader:
                self._row += 1
                if any(c.strip() for c in cells):
                    self.header = [c.strip() for c in cells]
                    return
        except (UnicodeDecodeError, csv.Error) as exc:
            error = self._error(exc, self._row + 1)
            self.close()
            raise error
        self.close()
        raise ShoalError("empty_file", _("The file has no header row: it holds no data."))

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        n = start = self._row
        try:
            for n, cells in enumerate(self._reader, start + 1):  # noqa: B007 - n is the row of an error
                yield n, cells
        except (UnicodeDecodeError, csv.Error) as exc:
            raise self._error(exc, n + 1)

    def _error(self, exc: Exception, row: int) -> ShoalError:
        if isinstance(exc, UnicodeDecodeError):
            row = self._undecodable_row(row)
            return ShoalError("bad_encoding", _("Row %(row)d is not valid %(encoding)s text: choose the file's "
                                                "encoding, or save the file as “CSV UTF-8”.")
                              % {"row": row, "encoding": ENCODING_NAMES[self.encoding]},
                              {"row": row, "encoding": self.encoding})
        if "field larger than field limit" in str(exc):
            reason = _("a cell is longer than %(n)d characters (is a quote left open?)") % {"n": FIELD_LIMIT}
        else:
            reason = _("the row is not valid CSV")
        return ShoalError("bad_file", _("The file cannot be read at row %(row)d: %(reason)s.")
                          % {"row": row, "reason": reason}, {"row": row})

    def _undecodable_row(self, first: int) -> int:
        """The first row at or after ``first`` holding bytes the encoding does not decode (a decoder reads
        ahead, so the error surfaces up to a chunk before its row)."""
        codec = CODECS.get(self.encoding, self.encoding)
        with open(self._path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=codec, errors="surrogateescape", newline="")
            try:
                for n, cells in enumerate(csv.reader(text, delimiter=self.delimiter), 1):
                    if n >= first and any(_SURROGATE.search(c) for c in cells):
                        return n
            except csv.Error:
                pass
        return first

    def progress(self) -> tuple[int, int]:
        return (self._size if self._raw.closed else self._raw.tell()), self._size

    def close(self) -> None:
        self._text.close()


def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first 50 rows most consistently (any share over 90% counts as
    consistent, then the most columns win; ties go in the order , ; TAB |). Not csv.Sniffer: its regular
    expressions take quadratic time on quote-heavy text (20 s for 32 KB of ``,"``)."""
    best, best_key = ",", (0.0, 2)
    for delimiter in DELIMITERS:
        try:
            widths = Counter(len(r) for r in islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 50) if r)
        except csv.Error:
            continue
        if widths:
            width, count = widths.most_common(1)[0]
            key = (min(count / widths.total(), 0.9), width)
            if width > 1 and key > best_key:
                best, best_key = delimiter, key
    return best


# -- Excel -------------------------------------------------------------------------------------------------
class _ExcelTable(Table):
    def __init__(self, path: Path, kind: str, head: bytes):
        self.kind = kind
        self._done = self._total = 0
        self._book = None
        try:
            self._book = CalamineWorkbook.from_path(str(path))
            index = next((i for i, m in enumerate(self._book.sheets_metadata) if m.visible == SheetVisibleEnum.Visible
                          and m.typ == SheetTypeEnum.WorkSheet), None)
            if index is None:
                raise ShoalError("empty_file", _("The workbook has no visible worksheet."))
            sheet = self._book.get_sheet_by_index(index)
        except BaseException as exc:  # calamine panics on some damaged files: PanicException is a BaseException
            self.close()
            if isinstance(exc, ShoalError) or not (isinstance(exc, (CalamineError, OSError, ValueError))
                                                   or type(exc).__name__ == "PanicException"):
                raise
            if isinstance(exc, PasswordError) or _ENCRYPTED in head:
                raise ShoalError("unsupported_file", _("The workbook is protected by a password: remove the "
                                                       "password in Excel and upload it again."))
            raise ShoalError("unsupported_file", _("The Excel workbook cannot be read: it may be damaged. Open it "
                                                   "in Excel, save it again and upload it again."))
        self._total = sheet.end[0] + 1 if sheet.end else 0
        self._rows = sheet.iter_rows()
        for cells in self._rows:
            self._done += 1
            cells = [_cell(v) for v in cells]
            if any(c.strip() for c in cells):
                self.header = [c.strip() for c in cells]
                return
        self.close()
        raise ShoalError("empty_file", _("The file has no header row: it holds no data."))

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        cell = _cell
        for done, cells in enumerate(self._rows, self._done + 1):
            self._done = done
            yield done, [cell(v) for v in cells]

    def progress(self) -> tuple[int, int]:
        return self._done, self._total

    def close(self) -> None:
        book, self._book = self._book, None
        if book is not None:
            try:
                book.close()
            except CalamineError:
                pass


def _cell(value) -> str:
    """A calamine value as the text the user sees: integral numbers without '.0' or exponent, ISO dates."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    return "" if value is None else str(value)
