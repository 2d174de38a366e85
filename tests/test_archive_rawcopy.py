"""write_comicinfo: raw copies (byte-identical members and CRCs), replacement, atomic swap policies."""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import TEMP_PREFIX, cleanup_stale_temp_files, open_archive, write_comicinfo
from bdnex_testing.archives import build_cbz, jpeg_like, raw_members

NEW_XML = b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Series>Nains</Series><Number>1</Number></ComicInfo>\n'
OLD_XML = b"<ComicInfo><Series>Old</Series></ComicInfo>"


def _check_written(path: Path, before: dict, xml: bytes = NEW_XML) -> None:
    after = raw_members(path)
    expected = {name: value for name, value in before.items() if name.lower() != "comicinfo.xml"}
    assert {name: value for name, value in after.items() if name != "ComicInfo.xml"} == expected
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = [info.filename for info in archive.infolist()]
        assert names.count("ComicInfo.xml") == 1
        assert [name for name in names if name != "ComicInfo.xml"] == [
            n for n in before if n.lower() != "comicinfo.xml"
        ]
        assert archive.read("ComicInfo.xml") == xml
    assert not [p for p in path.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("comicinfo_at", ["absent", 0, 3, "last"])
def test_members_are_byte_identical(tmp_path, compression, comicinfo_at):
    path = build_cbz(
        tmp_path / "book.cbz",
        pages=6,
        compression=compression,
        compressible=True,
        comicinfo=None if comicinfo_at == "absent" else OLD_XML,
        comicinfo_at=None if comicinfo_at in ("absent", "last") else comicinfo_at,
    )
    before = raw_members(path)
    write_comicinfo(path, NEW_XML)
    _check_written(path, before)
    # a second write replaces the first ComicInfo (never two)
    write_comicinfo(path, NEW_XML + b"<!-- again -->")
    _check_written(path, before, NEW_XML + b"<!-- again -->")


def test_data_descriptors_extra_fields_comment_and_cp437_names_are_kept(tmp_path):
    # Written to a non-seekable stream, zipfile sets flag bit 3 and appends data descriptors.
    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.buffer = bytearray()

        def writable(self):
            return True

        def write(self, data):
            self.buffer += data
            return len(data)

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.comment = b"scanned by someone"
        for index in range(1, 4):
            with archive.open(f"p{index}.jpg", "w") as member:
                member.write(jpeg_like(5000, index, compressible=True))
        info = zipfile.ZipInfo("extra.jpg", date_time=(2021, 5, 6, 7, 8, 10))
        info.extra = struct.pack("<HH", 0xCAFE, 4) + b"abcd"
        archive.writestr(info, jpeg_like(3000, 9))
    data = bytes(stream.buffer)
    # a cp437 name (no UTF-8 flag): "é" is 0x82 in cp437
    data = data.replace(b"p3.jpg", b"p\x82.jpg")
    path = tmp_path / "dd.cbz"
    path.write_bytes(data)
    before = raw_members(path)
    assert any(flags & 0x08 for (_crc, _size, flags, _header, _raw) in before.values())
    assert "pé.jpg" in before
    write_comicinfo(path, NEW_XML)
    _check_written(path, before)
    with zipfile.ZipFile(path) as archive:
        assert archive.comment == b"scanned by someone"
        assert struct.pack("<HH", 0xCAFE, 4) + b"abcd" in archive.getinfo("extra.jpg").extra
    with open_archive(path) as comic:
        assert comic.pages() == ["extra.jpg", "p1.jpg", "p2.jpg", "pé.jpg"]


def _offsets_moved_to_zip64_extras(data: bytes) -> bytes:
    """The same zip with every central record's local-header offset stored as 0xFFFFFFFF plus a zip64
    extra field (as some writers do for every member), the end record's directory size updated."""
    (cd_offset,) = struct.unpack_from("<L", data, len(data) - 6)
    (cd_size,) = struct.unpack_from("<L", data, len(data) - 10)
    records, position = [], cd_offset
    while data[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        end = position + 46 + name_length + extra_length + comment_length
        record = bytearray(data[position:end])
        (offset,) = struct.unpack_from("<L", record, 42)
        struct.pack_into("<L", record, 42, 0xFFFFFFFF)
        struct.pack_into("<H", record, 30, extra_length + 12)
        extras_end = 46 + name_length + extra_length
        record[extras_end:extras_end] = struct.pack("<HHQ", 0x0001, 8, offset)
        records.append(bytes(record))
        position = end
    directory = b"".join(records)
    end_record = bytearray(data[cd_offset + cd_size :])
    struct.pack_into("<L", end_record, 12, len(directory))
    return data[:cd_offset] + directory + bytes(end_record)


@pytest.mark.parametrize("old_comicinfo_first", [False, True])
@pytest.mark.parametrize("offsets_in_zip64_extras", [False, True])
def test_zip64_archive_is_rewritten(tmp_path, old_comicinfo_first, offsets_in_zip64_extras):
    path = tmp_path / "z64.cbz"
    with zipfile.ZipFile(path, "w") as archive:
        if old_comicinfo_first:  # the pages after it then move: their offsets are rewritten
            with archive.open("ComicInfo.xml", "w", force_zip64=True) as member:
                member.write(OLD_XML)
        for index in range(3):
            with archive.open(f"page{index}.jpg", "w", force_zip64=True) as member:
                member.write(jpeg_like(4000, index))
    if offsets_in_zip64_extras:
        path.write_bytes(_offsets_moved_to_zip64_extras(path.read_bytes()))
        with zipfile.ZipFile(path) as archive:
            assert all(struct.pack("<HHQ", 0x0001, 8, info.header_offset) in info.extra for info in archive.infolist())
    before = raw_members(path)
    write_comicinfo(path, NEW_XML)
    _check_written(path, before)
    with zipfile.ZipFile(path) as archive:
        assert all(archive.read(f"page{index}.jpg") == jpeg_like(4000, index) for index in range(3))


def test_lowercase_comicinfo_is_replaced_not_duplicated(tmp_path):
    path = build_cbz(tmp_path / "lower.cbz", extra_members={"comicinfo.xml": OLD_XML})
    write_comicinfo(path, NEW_XML)
    with zipfile.ZipFile(path) as archive:
        assert [n for n in archive.namelist() if n.lower() == "comicinfo.xml"] == ["ComicInfo.xml"]


def test_comicinfo_in_a_subfolder_is_not_the_root_one(tmp_path):
    path = build_cbz(tmp_path / "sub.cbz", extra_members={"extras/ComicInfo.xml": OLD_XML})
    before = raw_members(path)
    write_comicinfo(path, NEW_XML)
    after = raw_members(path)
    assert after["extras/ComicInfo.xml"] == before["extras/ComicInfo.xml"]


def test_a_cbr_named_zip_is_written_in_place(tmp_path):
    path = build_cbz(tmp_path / "really-a-zip.cbr")
    write_comicinfo(path, NEW_XML)
    with open_archive(path) as comic:
        assert comic.kind == "cbz" and comic.comicinfo_bytes() == NEW_XML


def test_mode_kept_and_mtime_policy(tmp_path):
    path = build_cbz(tmp_path / "m.cbz")
    os.chmod(path, 0o640)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    write_comicinfo(path, NEW_XML)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_mtime > 1_500_000_000  # default: now
    os.utime(path, (1_000_000_000, 1_000_000_000))
    write_comicinfo(path, NEW_XML, preserve_mtime=True)
    assert path.stat().st_mtime == 1_000_000_000


def test_cleanup_removes_dead_writers_leftovers_only(tmp_path):
    dead = tmp_path / f"{TEMP_PREFIX}999999999-abcd1234-book.cbz"
    dead.write_bytes(b"partial")
    live = tmp_path / f"{TEMP_PREFIX}1-abcd1234-book.cbz"  # pid 1 is alive: another writer at work
    live.write_bytes(b"partial")
    unrelated = tmp_path / "book.cbz"
    unrelated.write_bytes(b"x")
    assert cleanup_stale_temp_files(tmp_path) == [dead]
    assert live.exists() and unrelated.exists() and not dead.exists()


def test_reading_api(tmp_path):
    path = build_cbz(
        tmp_path / "r.cbz",
        pages=11,
        comicinfo=OLD_XML,
        comicinfo_at=2,
        extra_members={"__MACOSX/._page1.jpg": b"junk", ".hidden.jpg": b"x", "notes.txt": b"t", "folder/": b""},
    )
    with open_archive(path) as comic:
        assert comic.kind == "cbz"
        assert comic.pages() == [f"page{n}.jpg" for n in range(1, 12)]
        assert comic.cover_page() == "page1.jpg"
        assert comic.cover_page(2) == "page3.jpg"
        assert comic.cover_page(99) == "page1.jpg"
        assert comic.comicinfo_bytes() == OLD_XML
        assert comic.read_member("page10.jpg") == jpeg_like(20_000, 10)


def _names_in_file_order(path: Path) -> list[str]:
    """Member names as a streaming reader sees them: local headers one after another from the start."""
    data = path.read_bytes()
    names, position = [], 0
    while data[position : position + 4] == b"PK\x03\x04":
        compressed_size, _size, name_length, extra_length = struct.unpack_from("<LLHH", data, position + 18)
        names.append(data[position + 30 : position + 30 + name_length].decode())
        position += 30 + name_length + extra_length + compressed_size
    return names


@pytest.mark.parametrize("comicinfo_at", [0, 3, "last"])
def test_the_old_comicinfo_leaves_nothing_behind_for_streaming_readers(tmp_path, comicinfo_at):
    old = b"<ComicInfo><Series>Stale series name</Series></ComicInfo>"
    path = build_cbz(
        tmp_path / "stream.cbz", pages=6, comicinfo=old, comicinfo_at=None if comicinfo_at == "last" else comicinfo_at
    )
    write_comicinfo(path, NEW_XML)
    assert b"Stale series name" not in path.read_bytes()
    assert sorted(_names_in_file_order(path)) == sorted(["ComicInfo.xml"] + [f"page{n}.jpg" for n in range(1, 7)])
    if shutil.which("bsdtar"):  # libarchive reads a zip from a pipe front to back, as streaming readers do
        listing = subprocess.run(["bsdtar", "-tf", "-"], input=path.read_bytes(), capture_output=True, check=True)
        assert listing.stdout.decode().split().count("ComicInfo.xml") == 1
        extracted = subprocess.run(
            ["bsdtar", "-xOf", "-", "ComicInfo.xml"], input=path.read_bytes(), capture_output=True, check=True
        )
        assert extracted.stdout == NEW_XML


@pytest.mark.parametrize("comicinfo_at", ["absent", 0, 3, "last"])
def test_pages_keep_their_block_alignment(tmp_path, comicinfo_at):
    # Same offsets modulo 4096 is what lets XFS and btrfs clone the pages instead of copying them.
    path = build_cbz(
        tmp_path / "aligned.cbz",
        pages=6,
        page_size=9_000,
        comicinfo=None if comicinfo_at == "absent" else OLD_XML,
        comicinfo_at=None if comicinfo_at in ("absent", "last") else comicinfo_at,
    )
    with zipfile.ZipFile(path) as archive:
        before = {info.filename: info.header_offset for info in archive.infolist()}
    write_comicinfo(path, NEW_XML + b"<!-- a longer ComicInfo than the old one -->" * 3)
    with zipfile.ZipFile(path) as archive:
        after = {info.filename: info.header_offset for info in archive.infolist() if info.filename != "ComicInfo.xml"}
    assert after and all(offset % 4096 == before[name] % 4096 for name, offset in after.items())
    if comicinfo_at in ("absent", "last"):
        assert all(offset == before[name] for name, offset in after.items())  # nothing before them moved
    # the padding extra field is read by other tools as well (7-Zip from CI's Debian packages)
    if shutil.which("7zz"):
        assert subprocess.run(["7zz", "t", str(path)], capture_output=True).returncode == 0
