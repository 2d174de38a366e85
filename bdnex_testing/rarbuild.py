"""Writing small RAR 4.x archives for tests (no ``rar`` program exists on free systems).

Members are *stored* (method 0x30, no compression), which every RAR reader supports;
``method=0x33`` marks them as compressed instead, to test the path where a RAR backend
program is required.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

MARKER = b"Rar!\x1a\x07\x00"


def _block(head_type: int, flags: int, body: bytes) -> bytes:
    size = 7 + len(body)
    header = struct.pack("<BHH", head_type, flags, size) + body
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header


def _dos_time(moment: float) -> int:
    local = time.localtime(moment)
    return (
        ((local.tm_year - 1980) << 25)
        | (local.tm_mon << 21)
        | (local.tm_mday << 16)
        | (local.tm_hour << 11)
        | (local.tm_min << 5)
        | (local.tm_sec // 2)
    )


def build_rar(path: Path, members: Iterable[tuple[str, bytes]], *, method: int = 0x30) -> Path:
    """Write a RAR 4 archive with the given (name, data) members."""
    parts = [MARKER, _block(0x73, 0x0000, b"\x00" * 6)]
    for name, data in members:
        # Windows host, "\\" separators: what RAR writes and what every reader (unar included) splits on
        encoded = name.replace("/", "\\").encode("utf-8")
        flags = 0x8000 | (0x0200 if not name.isascii() else 0)  # long block (data follows); UTF-8 name
        body = (
            struct.pack(
                "<LLBLLBBHL",
                len(data),
                len(data),
                2,
                zlib.crc32(data) & 0xFFFFFFFF,
                _dos_time(time.time()),
                20,
                method,
                len(encoded),
                0x20,
            )
            + encoded
        )
        parts.append(_block(0x74, flags, body) + data)
    parts.append(_block(0x7B, 0x4000, b""))
    path.write_bytes(b"".join(parts))
    return path
