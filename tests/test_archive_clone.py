"""On filesystems that share blocks (XFS, btrfs), writing ComicInfo clones the pages: no page is copied.

Shown without timing: the physical address of every page's data (FIEMAP) is the same before and
after the write. Needs root and a loop device; skipped with the reason where they are missing.
"""

from __future__ import annotations

import fcntl
import os
import struct
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import write_comicinfo
from bdnex_testing.archives import build_cbz

FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
BLOCK = 4096
NEW_XML = b"<ComicInfo><Series>Nains</Series><Number>1</Number><Title>Redwin de la Forge</Title></ComicInfo>"


def _physical_address(path: Path, logical: int) -> int:
    """Where on the device the byte at ``logical`` lives (the extent covering it, through FIEMAP)."""
    request = bytearray(struct.pack("=QQLLLL", logical, 1, FIEMAP_FLAG_SYNC, 0, 1, 0) + bytes(56))
    with open(path, "rb") as handle:
        fcntl.ioctl(handle.fileno(), FS_IOC_FIEMAP, request)
    assert struct.unpack_from("=L", request, 20)[0] == 1, f"no extent maps offset {logical} of {path.name}"
    extent_logical, extent_physical, _length = struct.unpack_from("=QQQ", request, 32)
    return extent_physical + (logical - extent_logical)


def _page_blocks(path: Path) -> dict[str, int]:
    """For each page, the physical address of the first whole block inside its compressed data."""
    blocks = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
        for info in archive.infolist():
            if info.filename == "ComicInfo.xml":
                continue
            handle.seek(info.header_offset + 26)
            name_length, extra_length = struct.unpack("<HH", handle.read(4))
            data_start = info.header_offset + 30 + name_length + extra_length
            first_whole_block = -(-data_start // BLOCK) * BLOCK
            assert first_whole_block + BLOCK <= data_start + info.compress_size
            blocks[info.filename] = _physical_address(path, first_whole_block)
    return blocks


@pytest.mark.slow
@pytest.mark.parametrize("comicinfo_at", ["absent", 0, 7, "last"])
def test_pages_are_cloned_not_copied(reflink_folder, comicinfo_at):
    path = build_cbz(
        reflink_folder / f"clone-{comicinfo_at}.cbz",
        pages=16,
        page_size=300_000,
        comicinfo=None if comicinfo_at == "absent" else b"<ComicInfo><Series>old</Series></ComicInfo>",
        comicinfo_at=comicinfo_at if isinstance(comicinfo_at, int) else None,
    )
    os.sync()
    before = _page_blocks(path)
    write_comicinfo(path, NEW_XML)
    os.sync()
    assert _page_blocks(path) == before
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None and archive.read("ComicInfo.xml") == NEW_XML
