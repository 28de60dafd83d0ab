"""The import file reader: every file is made here (CSV in each encoding, xlsx with XlsxWriter, xls as BIFF8
in an OLE2 container written by hand, zip bombs, billion laughs) and read through the real code paths."""

import codecs
import datetime as dt
import random
import struct
import tracemalloc
import zipfile

import pytest
import xlsxwriter

from shoal.core.errors import ShoalError
from shoal.imports import reading, zipcheck
from shoal.imports.reading import detect_encoding, open_table

PEOPLE = [["姓名", "手机", "城市"], ["张伟", "13800138000", "北京市"], ["李娜", "13912345678", "上海市"],
          ["王芳", "13700001111", "广州市天河区"]]
PEOPLE_TW = [["姓名", "手機", "城市"], ["王小明", "0912345678", "臺北市"], ["陳美玲", "0922333444", "高雄市"],
             ["張偉", "0933444555", "新北市板橋區"]]


def write_csv(path, rows, encoding="utf-8", delimiter=",", bom=False):
    with open(path, "w", encoding=encoding, newline="") as f:
        if bom:
            f.write("\ufeff")
        for row in rows:
            f.write(delimiter.join(row) + "\n")
    return path


def read_all(path, **kwargs):
    with open_table(path, **kwargs) as table:
        return table, list(table.rows())


def refusal(path, **kwargs) -> ShoalError:
    with pytest.raises(ShoalError) as info:
        with open_table(path, **kwargs) as table:
            list(table.rows())
    return info.value


# -- CSV: encodings ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding, bom, expected", [("utf-8", False, "utf-8"), ("utf-8", True, "utf-8-sig"),
                                                     ("gb18030", False, "gb18030")])
def test_csv_in_each_encoding_reads_the_chinese_back(tmp_path, encoding, bom, expected):
    path = write_csv(tmp_path / "p.csv", PEOPLE, encoding, bom=bom)
    table, rows = read_all(path)
    assert (table.kind, table.encoding, table.delimiter) == ("csv", expected, ",")
    assert table.header == ["姓名", "手机", "城市"]
    assert rows == [(2, PEOPLE[1]), (3, PEOPLE[2]), (4, PEOPLE[3])]
    assert table.progress() == (path.stat().st_size, path.stat().st_size)


def test_big5_csv_is_detected_including_windows_extensions(tmp_path):
    rows = [*PEOPLE_TW, ["林碁", "0944555666", "臺中市"]]  # 碁 exists in Windows' Big5 (cp950) only
    with open(tmp_path / "tw.csv", "wb") as f:
        f.write("\n".join(",".join(r) for r in rows).encode("cp950"))
    table, got = read_all(tmp_path / "tw.csv")
    assert table.encoding == "big5"
    assert table.header == PEOPLE_TW[0]
    assert [cells for _, cells in got] == rows[1:]


@pytest.mark.parametrize("text", ["张伟", "客户", "吴", "姓名,城市\n张伟,北京市\n", "王芳,13800138000,广州市天河区",
                                  "徐静蕾,南京市鼓楼区中山路1号"])
def test_short_simplified_samples_are_gb18030(text):
    assert detect_encoding(text.encode("gb18030")) == "gb18030"


@pytest.mark.parametrize("text", ["臺北市", "張偉", "客戶", "吳", "姓名,城市\n王小明,臺北市\n", "陳美玲,高雄市",
                                  "鄭成功,臺南市中西區民族路2段"])
def test_short_traditional_samples_are_big5(text):
    assert detect_encoding(text.encode("big5")) == "big5"


def test_detect_encoding_allows_a_character_cut_at_the_end_of_the_sample():
    data = ("张伟,北京市\n" * 10).encode("utf-8")
    assert detect_encoding(data[:-5]) == "utf-8"  # ends inside 市
    assert detect_encoding(codecs.BOM_UTF8 + data) == "utf-8-sig"
    gb = ("张伟,北京市\n" * 10).encode("gb18030")
    assert detect_encoding(gb[:-4]) == "gb18030"


def test_cjk_extension_characters_survive_in_utf8_and_gb18030(tmp_path):
    rows = [["姓名", "备注"], ["𠀀𪚥", "𠮷野家"], ["张𬌗", "㐀"]]
    for encoding in ("utf-8", "gb18030"):
        table, got = read_all(write_csv(tmp_path / f"ext-{encoding}.csv", rows, encoding))
        assert table.encoding == encoding
        assert [cells for _, cells in got] == rows[1:]


def test_gb18030_after_a_megabyte_of_ascii_is_still_detected(tmp_path):
    lines = [f"user{i},1380013{i % 10000:04d},Beijing" for i in range(60_000)]  # ~1.8 MB of ASCII first
    rows = [["name", "mobile", "city"], *[line.split(",") for line in lines], ["张伟", "13800138000", "北京市"]]
    table, got = read_all(write_csv(tmp_path / "late.csv", rows, "gb18030"))
    assert table.encoding == "gb18030"
    assert got[-1] == (len(rows), ["张伟", "13800138000", "北京市"])


def test_utf8_whose_chinese_comes_late_is_utf8(tmp_path):
    rows = [["name", "city"], *[[f"u{i}", "x" * 30] for i in range(40_000)], ["张伟", "北京市"]]
    table, got = read_all(write_csv(tmp_path / "late8.csv", rows))
    assert table.encoding == "utf-8"
    assert got[-1][1] == ["张伟", "北京市"]


# -- CSV: encoding override and errors ---------------------------------------------------------------------
def test_encoding_override_is_used(tmp_path):
    path = write_csv(tmp_path / "gb.csv", PEOPLE, "gb18030")
    table, rows = read_all(path, encoding="GBK")  # an alias of GB18030
    assert table.encoding == "gb18030" and rows[0][1] == PEOPLE[1]
    table, rows = read_all(write_csv(tmp_path / "bom.csv", PEOPLE, bom=True), encoding="utf-8")
    assert table.encoding == "utf-8-sig" and table.header[0] == "姓名"


def test_wrong_override_is_an_error_naming_the_encoding_and_the_exact_row(tmp_path):
    rows = [["name", "city"], *[[f"user{i}", "Beijing"] for i in range(5000)], ["张伟", "北京市"]]
    path = write_csv(tmp_path / "gb.csv", rows, "gb18030")
    error = refusal(path, encoding="utf-8")
    assert error.code == "bad_encoding"
    assert error.detail == {"row": 5002, "encoding": "utf-8"}
    assert "UTF-8" in error.message and "5002" in error.message


def test_undecodable_byte_in_the_override_is_an_error_never_garbled(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("姓名,城市\n张伟,北京市\n".encode("gb18030") + b"x,\xff\xfe\n")
    error = refusal(path, encoding="gb18030")
    assert (error.code, error.detail["row"]) == ("bad_encoding", 3)
    assert refusal(path).code == "bad_encoding"  # auto: neither UTF-8, GB18030 nor Big5 reads it


def test_unknown_encoding_is_invalid(tmp_path):
    error = refusal(write_csv(tmp_path / "p.csv", PEOPLE), encoding="latin-1")
    assert (error.code, error.detail) == ("invalid", {"field": "encoding"})


def test_utf16_is_refused_with_advice(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("姓名\t城市\n张伟\t北京市\n".encode("utf-16"))
    error = refusal(path)
    assert error.code == "bad_encoding" and "UTF-16" in error.message


# -- CSV: shape --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    rows = [["姓名", "手机", "城市", "备注"], ["张伟", "13800138000", "北京市", "a,b" if delimiter != "," else "ab"],
            ["李娜", "13912345678", "上海市", "x"]]
    table, got = read_all(write_csv(tmp_path / "d.csv", rows, delimiter=delimiter))
    assert table.delimiter == delimiter
    assert [cells for _, cells in got] == rows[1:]


def test_single_column_falls_back_to_comma(tmp_path):
    table, got = read_all(write_csv(tmp_path / "one.csv", [["手机"], ["13800138000"], ["13912345678"]]))
    assert table.delimiter == "," and got == [(2, ["13800138000"]), (3, ["13912345678"])]


def test_quoted_newlines_blank_rows_and_row_numbers(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('\n  ,  \n 姓名 , 地址 \n张伟,"北京市\n朝阳区"\n\n   ,\t\n李娜,"上海市 ""浦东"""\n', encoding="utf-8")
    table, rows = read_all(path)
    assert table.header == ["姓名", "地址"]  # blank rows before the header are skipped; cells stripped
    assert rows == [(4, ["张伟", "北京市\n朝阳区"]), (5, []), (6, ["   ", "\t"]), (7, ["李娜", '上海市 "浦东"'])]


def test_formula_like_cells_stay_text(tmp_path):
    row = ["=1+2", "+8613800138000", "@x", "-2+3", "=HYPERLINK(\"http://x\")"]
    _, rows = read_all(write_csv(tmp_path / "f.csv", [["a", "b", "c", "d", "e"], [f'"{c}"' if "," in c else c for c in row]]))
    assert rows == [(2, row)]


def test_rows_are_not_padded(tmp_path):
    _, rows = read_all(write_csv(tmp_path / "r.csv", [["a", "b", "c"], ["1"], ["1", "2", "3", "4"]]))
    assert rows == [(2, ["1"]), (3, ["1", "2", "3", "4"])]


def test_an_unclosed_quote_is_a_bad_file_at_its_row(tmp_path):
    path = tmp_path / "open.csv"
    path.write_text('姓名,备注\n张伟,ok\n李娜,"never closed\n' + "x" * (reading.FIELD_LIMIT + 10), encoding="utf-8")
    error = refusal(path)
    assert (error.code, error.detail) == ("bad_file", {"row": 3})


def test_empty_files_and_files_without_header(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    assert refusal(tmp_path / "empty.csv").code == "empty_file"
    (tmp_path / "blank.csv").write_text("\n  \n , ,\n", encoding="utf-8")
    assert refusal(tmp_path / "blank.csv").code == "empty_file"


def test_header_only_gives_no_rows(tmp_path):
    table, rows = read_all(write_csv(tmp_path / "h.csv", [["姓名", "手机"]]))
    assert table.header == ["姓名", "手机"] and rows == []


def test_csv_memory_stays_flat(tmp_path):
    path = tmp_path / "big.csv"
    line = "张伟,13800138000,zhangwei@example.com,北京市朝阳区建国路88号,男,1990-01-01,某某科技有限公司,销售经理,1234.50,备注\n"
    with open(path, "w", encoding="gb18030") as f:
        f.write("姓名,手机,邮箱,地址,性别,生日,公司,职位,金额,备注\n")
        for _ in range(50):
            f.write(line * 2000)  # 100,000 rows, ~10 MB
    tracemalloc.start()
    try:
        with open_table(path) as table:
            count = sum(1 for _ in table.rows())
            done, total = table.progress()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000 and done == total == path.stat().st_size
    assert peak < 5 * 2**20


# -- format and size checks --------------------------------------------------------------------------------
def test_too_large_is_refused_from_the_size_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.truncate(8 * 2**30)  # a sparse 8 GB file: reading it would take long
    tracemalloc.start()
    error = refusal(path, max_bytes=10 * 2**20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (error.code, error.detail) == ("file_too_large", {"max_mb": 10})
    assert peak < 2**20


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), b"%PDF-1.7\n%\xe2\xe3",
                                     b"<html><body><table><tr><td>1</td></tr></table>", b"PK\x03\x04broken zip"])
def test_unsupported_files(tmp_path, content):
    path = tmp_path / "x.xls"
    path.write_bytes(content)
    assert refusal(path).code == "unsupported_file"


def test_a_zip_that_is_not_a_workbook_is_unsupported(tmp_path):
    with zipfile.ZipFile(tmp_path / "doc.xlsx", "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    error = refusal(tmp_path / "doc.xlsx")
    assert error.code == "unsupported_file" and "doc.xlsx" in error.message


def test_the_extension_is_only_a_hint(tmp_path):
    table, rows = read_all(write_csv(tmp_path / "export.xls", PEOPLE, "gb18030", delimiter="\t"))
    assert (table.kind, table.encoding, table.delimiter) == ("csv", "gb18030", "\t") and len(rows) == 3


# -- Excel -------------------------------------------------------------------------------------------------
def test_xlsx_values_are_text_as_the_user_sees_them(tmp_path):
    path = tmp_path / "p.xlsx"
    wb = xlsxwriter.Workbook(path)
    hidden = wb.add_worksheet("hidden")
    hidden.write(0, 0, "not this one")
    ws = wb.add_worksheet("客户")
    ws.activate()
    hidden.hide()
    date, stamp, clock = (wb.add_format({"num_format": f}) for f in ("yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "hh:mm"))
    ws.write_row(2, 1, [" 姓名 ", "手机", "生日", "登记", "金额", "会员", "合计", "备注", "时间"])
    ws.write_row(3, 1, ["张伟", 13800138000, None, None, 12.5, True])
    ws.write_string(3, 8, "=1+2")
    ws.write_datetime(3, 3, dt.datetime(1990, 5, 17), date)
    ws.write_datetime(3, 4, dt.datetime(2024, 1, 2, 3, 4, 5), stamp)
    ws.write_formula(3, 7, "=F4*2", None, 25)
    ws.write_datetime(3, 9, dt.datetime(1899, 12, 31, 9, 30), clock)
    ws.write_row(5, 1, ["𠀀𪚥", 1e20, 0.1, "+8613800138000", "@x", False, -3])
    ws.write_string(5, 8, "=HYPERLINK(\"http://x\")")
    wb.close()
    table, rows = read_all(path)
    assert (table.kind, table.encoding, table.delimiter) == ("xlsx", None, None)
    assert table.header == ["姓名", "手机", "生日", "登记", "金额", "会员", "合计", "备注", "时间"]
    assert rows == [
        (4, ["张伟", "13800138000", "1990-05-17", "2024-01-02 03:04:05", "12.5", "TRUE", "25", "=1+2", "09:30:00"]),
        (5, [""] * 9),
        (6, ["𠀀𪚥", "100000000000000000000", "0.1", "+8613800138000", "@x", "FALSE", "-3", '=HYPERLINK("http://x")', ""]),
    ]
    assert table.progress() == (6, 6)


def test_empty_workbook_is_empty(tmp_path):
    wb = xlsxwriter.Workbook(tmp_path / "e.xlsx")
    wb.add_worksheet()
    wb.close()
    assert refusal(tmp_path / "e.xlsx").code == "empty_file"


def _rec(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def write_xls(path, rows, stream_name="Workbook"):
    """A minimal BIFF8 workbook in an OLE2 compound file (no library here writes .xls): strings through the
    shared string table, numbers, booleans, and ("date", serial) numbers formatted by XF 1 (format 14)."""
    strings, cells = [], b""
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if isinstance(v, bool):
                cells += _rec(0x0205, struct.pack("<HHHBB", r, c, 0, int(v), 0))
            elif isinstance(v, int | float | tuple):
                cells += _rec(0x0203, struct.pack("<HHHd", r, c, int(isinstance(v, tuple)),
                                                  float(v[1] if isinstance(v, tuple) else v)))
            elif v is not None:
                strings += [] if v in strings else [v]
                cells += _rec(0x00FD, struct.pack("<HHHI", r, c, 0, strings.index(v)))
    sst = struct.pack("<II", len(strings), len(strings))
    for s in strings:
        sst += struct.pack("<HB", len(s.encode("utf-16-le")) // 2, 1) + s.encode("utf-16-le")

    def bof(kind):
        return _rec(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))

    def xf(number_format):
        return _rec(0x00E0, struct.pack("<HH", 0, number_format) + bytes(16))

    name = "Sheet1".encode("utf-16-le")
    head = bof(5) + _rec(0x0042, struct.pack("<H", 1200)) + _rec(0x0022, struct.pack("<H", 0)) + xf(0) + xf(14)
    tail = _rec(0x00FC, sst) + _rec(0x000A)
    sheet_at = len(head) + 12 + len(name) + len(tail)
    stream = head + _rec(0x0085, struct.pack("<IBBBB", sheet_at, 0, 0, len(name) // 2, 1) + name) + tail
    width = max(len(r) for r in rows)
    stream += bof(0x10) + _rec(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0)) + cells + _rec(0x000A)
    if len(stream) < 4100:  # over the mini-stream cutoff: the stream lives in ordinary sectors
        stream += _rec(0x0000, bytes(4100 - len(stream)))
    size = len(stream)
    stream += bytes(-size % 512)
    sectors = len(stream) // 512
    fat = [0xFFFFFFFD, 0xFFFFFFFE] + [s + 1 for s in range(2, 1 + sectors)] + [0xFFFFFFFE]
    fat += [0xFFFFFFFF] * (128 - len(fat))

    def entry(label, kind, child, start, length):
        raw = (label + "\0").encode("utf-16-le") if label else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBBIII", len(raw), kind, 1, 0xFFFFFFFF, 0xFFFFFFFF, child)
                + bytes(36) + struct.pack("<III", start, length, 0))

    directory = (entry("Root Entry", 5, 1, 0xFFFFFFFE, 0) + entry(stream_name, 2, 0xFFFFFFFF, 2, size)
                 + entry("", 0, 0xFFFFFFFF, 0xFFFFFFFF, 0) * 2)
    header = (reading.OLE2 + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<9I", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0) + struct.pack("<I", 0)
              + b"\xff" * 4 * 108)
    path.write_bytes(header + struct.pack("<128I", *fat) + directory + stream)
    return path


def test_xls_is_read(tmp_path):
    path = write_xls(tmp_path / "old.xls", [["姓名", "手机", "生日", "会员"], [], ["张伟", 13800138000, ("date", 32950), True],
                                            ["=1+2", 12.5, None, False], ["𠀀𪚥"]])
    table, rows = read_all(path)
    assert (table.kind, table.header) == ("xls", ["姓名", "手机", "生日", "会员"])
    assert rows == [(2, ["", "", "", ""]), (3, ["张伟", "13800138000", "1990-03-18", "TRUE"]),
                    (4, ["=1+2", "12.5", "", "FALSE"]), (5, ["𠀀𪚥", "", "", ""])]


def test_damaged_xls_is_unsupported_even_when_calamine_panics(tmp_path):
    path = write_xls(tmp_path / "bad.xls", [["姓名"], ["张伟"]])
    data = bytearray(path.read_bytes())
    data[512 + 8:512 + 12] = struct.pack("<I", 12)  # the stream's chain runs past the end of the file
    path.write_bytes(bytes(data))
    assert refusal(path).code == "unsupported_file"


def test_password_protected_workbook_says_so(tmp_path):
    path = write_xls(tmp_path / "secret.xlsx", [["x"]], stream_name="EncryptedPackage")
    error = refusal(path)
    assert error.code == "unsupported_file" and "password" in error.message


# -- Excel safety ------------------------------------------------------------------------------------------
def _workbook_parts(tmp_path) -> dict[str, bytes]:
    wb = xlsxwriter.Workbook(tmp_path / "base.xlsx")
    wb.add_worksheet().write_row(0, 0, ["姓名", "城市"])
    wb.close()
    with zipfile.ZipFile(tmp_path / "base.xlsx") as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(path, parts: dict[str, bytes], big: tuple[str, int] | None = None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
        if big:
            with zf.open(big[0], "w") as f:
                block = bytes(2**20)
                for _ in range(big[1]):
                    f.write(block)
    return path


def _refused_with_flat_memory(path, **kwargs) -> ShoalError:
    tracemalloc.start()
    try:
        error = refusal(path, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    return error


def test_a_plain_workbook_passes_the_checks(tmp_path):
    table, rows = read_all(_zip(tmp_path / "ok.xlsx", _workbook_parts(tmp_path)))
    assert table.header == ["姓名", "城市"] and rows == []


def test_zip_bomb_is_refused(tmp_path):
    path = _zip(tmp_path / "bomb.xlsx", _workbook_parts(tmp_path), ("xl/worksheets/sheet2.xml", 48))
    error = _refused_with_flat_memory(path)
    assert error.code == "unsafe_file" and "zip bomb" in error.message


def test_zip_bomb_with_lying_sizes_is_refused_while_inflating(tmp_path):
    path = _zip(tmp_path / "liar.xlsx", _workbook_parts(tmp_path), ("xl/worksheets/sheet2.xml", 48))
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):  # central and local headers
        at = data.find(signature)
        while at >= 0:
            name_len = struct.unpack_from("<H", data, at + (28 if signature == b"PK\x01\x02" else 26))[0]
            name_at = at + (46 if signature == b"PK\x01\x02" else 30)
            if data[name_at:name_at + name_len] == b"xl/worksheets/sheet2.xml":
                struct.pack_into("<I", data, at + size_at, 1000)  # "1,000 bytes"
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("xl/worksheets/sheet2.xml").file_size == 1000
    error = _refused_with_flat_memory(path)
    assert error.code == "unsafe_file" and "declares" in error.message


def test_workbook_unpacking_past_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(zipcheck, "UNPACKED_LIMIT", 2**20)
    rng = random.Random(1)
    text = "".join(f"<c><v>{rng.randint(0, 99)}</v></c>" + "<c><v>1</v></c>" * 6 for _ in range(60_000)).encode()
    assert len(text) > 6 * 2**20  # compresses about 50 times: no zip bomb, just large
    parts = {**_workbook_parts(tmp_path), "xl/worksheets/sheet2.xml": text}
    error = _refused_with_flat_memory(_zip(tmp_path / "large.xlsx", parts))
    assert error.code == "unsafe_file" and "1 MB" in error.message
    # the limit also follows the upload limit: 20 × max_bytes
    monkeypatch.setattr(zipcheck, "UNPACKED_LIMIT", 2**30)
    assert (tmp_path / "large.xlsx").stat().st_size < 200_000
    assert refusal(tmp_path / "large.xlsx", max_bytes=200_000).code == "unsafe_file"


BILLION_LAUGHS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE sst [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">
<si><t>&lol9;</t></si><si><t>城市</t></si></sst>""".encode()


@pytest.mark.parametrize("part, prefix", [("xl/sharedStrings.xml", b""),
                                          ("xl/sharedStrings.xml", b"<!--" + b" padding " * 500 + b"-->\n"),
                                          ("xl/worksheets/sheet1.bin", b"")])  # a part named as anything
def test_billion_laughs_is_refused(tmp_path, part, prefix):
    parts = _workbook_parts(tmp_path)
    assert "xl/sharedStrings.xml" in parts
    parts[part] = BILLION_LAUGHS.replace(b"<!DOCTYPE", prefix + b"<!DOCTYPE")
    error = _refused_with_flat_memory(_zip(tmp_path / "laughs.xlsx", parts))
    assert error.code == "unsafe_file" and "DOCTYPE" in error.message


def test_progress_moves_while_reading(tmp_path):
    path = write_csv(tmp_path / "p.csv", [["a", "b"], *[[str(i), "x" * 50] for i in range(20_000)]])
    with open_table(path) as table:
        rows = table.rows()
        next(rows)
        done, total = table.progress()
        assert 0 < done < total == path.stat().st_size
        for _ in rows:
            pass
        assert table.progress() == (total, total)


def test_close_twice_is_fine(tmp_path):
    for path in (write_csv(tmp_path / "p.csv", PEOPLE), _zip(tmp_path / "ok.xlsx", _workbook_parts(tmp_path))):
        table = open_table(path)
        table.close()
        table.close()


@pytest.mark.parametrize("text, delimiter", [
    ("姓名;手机;金额\n张伟;13800138000;1,5\n李娜;139;2,75\n", ";"),  # decimal commas
    ('姓名\t手机\t备注\n张伟\t138\t"a, b, c"\n李娜\t139\tx,y\n', "\t"),
    ("姓名,手机,地址,备注\n张伟,138,北京市;朝阳区,a|b\n李娜,139,上海市,x;y;z\n", ","),
    ("姓名,手机\n", ","),
])
def test_delimiter_choice_in_mixed_text(tmp_path, text, delimiter):
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    assert read_all(path)[0].delimiter == delimiter


def test_quote_heavy_text_is_sniffed_quickly(tmp_path):
    """csv.Sniffer needs ~20 s for this 32 KB; the reader must not hang on it (nor fail: it is one odd row)."""
    path = tmp_path / "quotes.csv"
    path.write_text("a,b\n" + ',"' * 20_000 + "\n", encoding="utf-8")
    table, rows = read_all(path)
    assert table.delimiter == "," and len(rows) == 1


def test_missing_file_or_directory_is_unsupported(tmp_path):
    assert refusal(tmp_path / "nothing.csv").code == "unsupported_file"
    assert refusal(tmp_path).code == "unsupported_file"
