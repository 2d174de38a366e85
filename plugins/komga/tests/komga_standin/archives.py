"""Tiny comic archives for tests: a few valid PNG pages and an optional ComicInfo.xml."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape


def tiny_png(shade: int = 0) -> bytes:
    """A valid 1×1 grey PNG (``shade`` 0–255)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(bytes((0, shade & 0xFF)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def comicinfo_xml(**fields: str | int) -> bytes:
    """``comicinfo_xml(Title="…", Series="…", Number=1)`` → a ComicInfo.xml document."""
    body = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<ComicInfo xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</ComicInfo>'
    ).encode()


def make_cbz(path: Path, *, pages: int = 2, comicinfo: bytes | dict[str, str | int] | None = None) -> Path:
    """Write a CBZ at ``path`` (parents created) with ``pages`` PNG pages and an optional ComicInfo.xml."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(1, pages + 1):
            archive.writestr(f"{number:03d}.png", tiny_png(number * 40))
        if comicinfo is not None:
            data = comicinfo if isinstance(comicinfo, bytes) else comicinfo_xml(**comicinfo)
            archive.writestr("ComicInfo.xml", data)
    return path
