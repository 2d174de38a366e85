"""Sample comic archives for tests and benchmarks, and a raw view of zip members to compare them."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path

JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def jpeg_like(size: int, seed: int, *, compressible: bool = False) -> bytes:
    """Bytes that start like a JPEG: random (incompressible, like real JPEG data) or repetitive."""
    rng = random.Random(seed)
    if compressible:
        pattern = rng.randbytes(64)
        body = (pattern * (size // 64 + 1))[: size - len(JPEG_HEADER) - 2]
    else:
        body = rng.randbytes(max(size - len(JPEG_HEADER) - 2, 0))
    return JPEG_HEADER + body + b"\xff\xd9"


def build_cbz(
    path: Path,
    pages: int = 5,
    *,
    page_size: int = 20_000,
    compression: int = zipfile.ZIP_STORED,
    comicinfo: bytes | None = None,
    comicinfo_at: int | None = None,
    extra_members: dict[str, bytes] | None = None,
    comment: bytes = b"",
    seed: int = 0,
    compressible: bool = False,
) -> Path:
    """A CBZ with ``pages`` pages named page1.jpg…; ComicInfo.xml (if given) inserted at index ``comicinfo_at``."""
    members = [
        (f"page{index}.jpg", jpeg_like(page_size, seed * 1000 + index, compressible=compressible))
        for index in range(1, pages + 1)
    ]
    members += list((extra_members or {}).items())
    if comicinfo is not None:
        members.insert(len(members) if comicinfo_at is None else comicinfo_at, ("ComicInfo.xml", comicinfo))
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.comment = comment
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6)), data, compress_type=compression)
    return path


def raw_members(path: Path) -> dict[str, tuple[int, int, int, bytes, bytes]]:
    """name → (CRC, compressed size, flags, local header fields after the offset-free part, raw compressed bytes).

    Read from the bytes of the file, independently of bdnex's own zip code.
    """
    result = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
        for info in archive.infolist():
            handle.seek(info.header_offset)
            header = handle.read(30)
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            rest = handle.read(name_length + extra_length)
            data = handle.read(info.compress_size)
            result[info.filename] = (info.CRC, info.compress_size, info.flag_bits, header[4:] + rest, data)
    return result


# ----------------------------------------------------------------------------- archives of other writers
# What real CBZs look like besides Python's zipfile output (GUIDE 2b), each made by a means other
# than bdnex's own zip code.


def with_data_descriptors(path: Path, pages: int = 3, *, seed: int = 0, comicinfo_first: bytes | None = None) -> Path:
    """Pages written to a stream that cannot seek: zipfile sets flag bit 3 and appends data descriptors."""
    import io

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.buffer = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            self.buffer += data
            return len(data)

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if comicinfo_first is not None:
            with archive.open("ComicInfo.xml", "w") as member:
                member.write(comicinfo_first)
        for index in range(1, pages + 1):
            with archive.open(f"page{index}.jpg", "w") as member:
                member.write(jpeg_like(5000, seed * 1000 + index, compressible=True))
    path.write_bytes(bytes(stream.buffer))
    return path


def with_cp437_names(path: Path, pages: int = 3) -> Path:
    """Names without the UTF-8 flag, with bytes that are cp437 letters (as old Windows tools wrote them)."""
    build_cbz(path, pages)
    data = path.read_bytes().replace(b"page1.jpg", b"p\x82ge1.jpg")  # "é" in cp437, in both headers
    path.write_bytes(data)
    return path


def with_prepended_stub(path: Path, stub: bytes = b"#!/bin/sh\nexit 0\n" + bytes(200)) -> Path:
    """A self-extractor's layout: bytes before the first member, offsets counted from after them."""
    build_cbz(path, 3)
    path.write_bytes(stub + path.read_bytes())
    return path


def with_trailing_data(path: Path, data: bytes = b"appended by a download tool\n") -> Path:
    build_cbz(path, 3)
    with open(path, "ab") as handle:
        handle.write(data)
    return path


def zip64_by_info_zip(path: Path, folder: Path, pages: int = 3) -> Path:
    """Info-ZIP's ``zip -fz``: zip64 extra fields and zip64 end records on a small archive."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(1, pages + 1):
        (folder / f"page{index}.jpg").write_bytes(jpeg_like(4000, index))
        names.append(f"page{index}.jpg")
    subprocess.run(["zip", "-q", "-fz", "-X", str(path.resolve()), *names], cwd=folder, check=True)
    return path
