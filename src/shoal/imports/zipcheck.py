"""Safety of an xlsx before calamine reads it: the ZIP is inflated part by part with flat memory (nothing is
kept) and refused when it unpacks to too much, compresses at an implausible ratio or lies about its sizes
(zip bombs), or when an XML part declares a DOCTYPE or entities (billion laughs). Honest headers are
checked first, so the usual zip bomb is refused before anything is inflated."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from django.utils.translation import gettext as _

from shoal.core.errors import ShoalError

UNPACKED_LIMIT = 1 << 30  # bytes an xlsx may unpack to (and at most 20 × max_bytes)
MAX_RATIO = 200  # uncompressed / compressed, for a part over 1 MB
MAX_PARTS = 10_000
NOT_XML = ("xl/media/", "xl/embeddings/", "docProps/thumbnail")  # parts calamine never parses


def _unsafe(message: str) -> ShoalError:
    return ShoalError("unsafe_file", _("The workbook was refused as unsafe: %(reason)s") % {"reason": message})


def check_xlsx(path: Path, max_bytes: int | None, unsupported: ShoalError) -> None:
    """Raise ``unsupported`` for a ZIP that is not an xlsx, and ShoalError("unsafe_file") for one unsafe to
    hand to calamine: more than UNPACKED_LIMIT (or 20 × max_bytes) unpacked, a part compressed over
    MAX_RATIO, a part larger than its header says, or a DOCTYPE or ENTITY declaration in any part but
    pictures and embedded objects (calamine finds its XML parts through the relationships, whatever their
    names). Every part is inflated in 1 MB steps after the declared sizes passed."""
    limit = UNPACKED_LIMIT if max_bytes is None else min(UNPACKED_LIMIT, 20 * max_bytes)
    try:
        with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
            infos = zf.infolist()
            if not any(i.filename == "xl/workbook.xml" for i in infos):
                raise unsupported
            if len(infos) > MAX_PARTS or sum(i.file_size for i in infos) > limit:
                raise _unsafe(_("it unpacks to more than %(mb)d MB.") % {"mb": limit >> 20})
            if any(i.file_size > (1 << 20) and i.file_size > MAX_RATIO * i.compress_size for i in infos):
                raise _unsafe(_("a part of it is compressed at an implausible ratio (a “zip bomb”)."))
            for info in infos:
                _inflate(raw, info, not info.filename.startswith(NOT_XML), unsupported)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, struct.error, zlib.error, OSError, EOFError):
        raise unsupported


def _inflate(raw, info: zipfile.ZipInfo, xml: bool, unsupported: ShoalError) -> None:
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise unsupported
    raw.seek(info.header_offset)
    local = raw.read(30)
    if local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile
    raw.seek(info.header_offset + 30 + sum(struct.unpack("<HH", local[26:30])))
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    left, size, tail = info.compress_size, 0, b""
    while left > 0 and (chunk := raw.read(min(left, 1 << 16))):
        left -= len(chunk)
        while chunk:
            out, chunk = (inflater.decompress(chunk, 1 << 20), inflater.unconsumed_tail) if inflater else (chunk, b"")
            size += len(out)
            if size > info.file_size:
                raise _unsafe(_("a part of it is larger than the archive declares."))
            if xml:
                window = tail + out
                if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                    raise _unsafe(_("it declares XML entities (DOCTYPE), which a workbook never needs."))
                tail = window[-16:]
