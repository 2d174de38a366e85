"""Archives: reading, writing ComicInfo without touching the pages, CBR conversion, and the bad-input corpus."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import cleanup_stale_temp_files, convert_to_cbz, natural_key, open_archive, write_comicinfo
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.errors import ArchiveError
from bdnex_testing.archives import raw_members
from bdnex_testing.rarbuild import build_rar

XML = b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Title>Nouveau</Title><Series>Nains</Series></ComicInfo>\n'


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_archive(
    path: Path, *, compression=zipfile.ZIP_STORED, comicinfo_at: str | None = None, pages: int = 6
) -> Path:
    images = sample_pages("p", pages, 3)
    names = [f"page{n}.jpg" for n in range(1, pages + 1)]
    with zipfile.ZipFile(path, "w", compression=compression) as written:
        for index, (name, data) in enumerate(zip(names, images, strict=False)):
            if (comicinfo_at == "first" and index == 0) or (comicinfo_at == "middle" and index == pages // 2):
                written.writestr("ComicInfo.xml", b"<ComicInfo><Title>old</Title></ComicInfo>")
            written.writestr(name, data)
        if comicinfo_at == "last":
            written.writestr("ComicInfo.xml", b"<ComicInfo><Title>old</Title></ComicInfo>")
        written.comment = b"scanned by someone"
    return path


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("comicinfo_at", [None, "first", "middle", "last"])
def test_write_keeps_every_page_byte_identical(tmp_path, compression, comicinfo_at):
    path = make_archive(tmp_path / "album.cbz", compression=compression, comicinfo_at=comicinfo_at)
    before = raw_members(path)
    mode = 0o640
    os.chmod(path, mode)
    write_comicinfo(path, XML)
    after = raw_members(path)
    for name, member in before.items():
        if name != "ComicInfo.xml":
            assert after[name] == member, name  # same CRC, same method, same compressed bytes
    with zipfile.ZipFile(path) as written:
        assert written.testzip() is None
        assert [info.filename for info in written.infolist()].count("ComicInfo.xml") == 1
        assert written.read("ComicInfo.xml") == XML
        assert written.comment == b"scanned by someone"
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert not list(tmp_path.glob(".bdnex-tmp-*"))


def test_mtime_policy(tmp_path):
    path = make_archive(tmp_path / "a.cbz")
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    write_comicinfo(path, XML, preserve_mtime=True)
    assert os.stat(path).st_mtime_ns == 1_600_000_000_000_000_000
    write_comicinfo(path, XML)
    assert os.stat(path).st_mtime_ns > 1_600_000_000_000_000_000


def test_pages_natural_order_and_cover(tmp_path):
    path = write_cbz(
        tmp_path / "a.cbz",
        sample_pages("x", 5, 1),
        page_names=["page10.jpg", "page2.jpg", "Page1.JPG", "__MACOSX/._page2.jpg", ".hidden.jpg"],
        extra_members=[("notes.txt", b"hi"), ("sub/page3.png", b"\x89PNG")],
    )
    with open_archive(path) as comic:
        assert comic.pages() == ["Page1.JPG", "page2.jpg", "page10.jpg", "sub/page3.png"]
        assert comic.cover_page() == "Page1.JPG" and comic.cover_page(2) == "page10.jpg"
    assert sorted(["p10", "p2", "p1"], key=natural_key) == ["p1", "p2", "p10"]


def test_mislabelled_cbr_that_is_a_zip_is_detected_by_content(tmp_path):
    path = write_cbz(tmp_path / "really-a-zip.cbr", sample_pages("x", 2, 1))
    with open_archive(path) as comic:
        assert comic.kind == "cbz"
    write_comicinfo(path, XML)
    assert zipfile.ZipFile(path).read("ComicInfo.xml") == XML


def test_cbr_is_converted_with_identical_pages(tmp_path):
    pages = sample_pages("r", 3, 9)
    cbr = build_rar(tmp_path / "Nains - T01.cbr", [(f"{n:02d}.jpg", data) for n, data in enumerate(pages)])
    original = digest(cbr)
    with open_archive(cbr) as comic:
        assert comic.kind == "cbr" and comic.pages() == ["00.jpg", "01.jpg", "02.jpg"]
    converted = convert_to_cbz(cbr, XML)
    assert converted == tmp_path / "Nains - T01.cbz" and digest(cbr) == original
    with zipfile.ZipFile(converted) as written:
        assert [written.read(f"{n:02d}.jpg") for n in range(3)] == pages
        assert written.getinfo("00.jpg").compress_type == zipfile.ZIP_STORED
        assert written.read("ComicInfo.xml") == XML
    # the same pages already converted (an earlier run stopped before deleting the original): reused
    assert convert_to_cbz(cbr, XML) == converted
    with zipfile.ZipFile(converted, "a") as written:
        written.writestr("extra.jpg", b"another page")  # now a different CBZ: never overwritten
    with pytest.raises(ArchiveError, match="already exists"):
        convert_to_cbz(cbr, XML)
    converted.unlink()
    convert_to_cbz(cbr, XML, delete_original=True)
    assert not cbr.exists()


# --- the bad-input corpus: a clear one-line error naming the file, the original untouched ---------


def encrypted_zip(path: Path) -> Path:
    make_archive(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as opened:
        infos = opened.infolist()
    for info in infos:  # set the "encrypted" flag in both headers, as an encrypting tool does
        data[info.header_offset + 6] |= 0x01
    central = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<L", data[central + 16 : central + 20])[0]
    position = cd_offset
    while data[position : position + 4] == b"PK\x01\x02":
        data[position + 8] |= 0x01
        n, m, k = struct.unpack("<3H", data[position + 28 : position + 34])
        position += 46 + n + m + k
    path.write_bytes(bytes(data))
    return path


def zip_with(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as written:
        for name, data in members:
            written.writestr(zipfile.ZipInfo(name), data)
    return path


CORPUS = {
    "zero-byte": (lambda p: (p.write_bytes(b""), p)[1], "empty file (0 bytes)"),
    "truncated zip": (lambda p: (p.write_bytes(make_archive(p).read_bytes()[:5000]), p)[1], "damaged or truncated zip"),
    "no images": (
        lambda p: zip_with(p, [("readme.txt", b"hello"), ("ComicInfo.xml", b"<ComicInfo/>")]),
        "no image pages",
    ),
    "encrypted": (encrypted_zip, "encrypted member"),
    "dot-dot name": (lambda p: zip_with(p, [("../../evil.jpg", b"x"), ("a.jpg", b"y")]), "unsafe member name"),
    "absolute name": (lambda p: zip_with(p, [("/etc/evil.jpg", b"x")]), "unsafe member name"),
    "duplicate names": (lambda p: zip_with(p, [("a.jpg", b"x"), ("a.jpg", b"y")]), "duplicate member name"),
    "not an archive": (lambda p: (p.write_bytes(b"%PDF-1.4 not a comic"), p)[1], "not a comic archive"),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_bad_input_gives_one_clear_line_and_leaves_the_original(tmp_path, case):
    import warnings

    make, reason = CORPUS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we build on purpose
        path = make(tmp_path / f"{case}.cbz")
    before = path.read_bytes()
    with pytest.raises(ArchiveError) as raised:
        write_comicinfo(path, XML)
    message = str(raised.value)
    assert reason in message and str(path) in message and "\n" not in message
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".bdnex-tmp-*"))


def test_non_utf8_member_names_are_kept_as_they_were(tmp_path):
    path = tmp_path / "legacy.cbz"
    with zipfile.ZipFile(path, "w") as written:
        info = zipfile.ZipInfo("Bande dessin\u00e9e 01.jpg")
        written.writestr(info, sample_pages("x", 1, 2)[0])
    raw_before = path.read_bytes()
    assert b"\x82" in raw_before or "é".encode("cp437") in raw_before or b"\xc3\xa9" in raw_before
    before = raw_members(path)
    write_comicinfo(path, XML)
    after = raw_members(path)
    assert {name: value for name, value in after.items() if name != "ComicInfo.xml"} == before


def test_rar_without_a_backend_is_a_clear_error(tmp_path, monkeypatch):
    import rarfile

    cbr = build_rar(tmp_path / "compressed.cbr", [("01.jpg", b"\xff\xd8 fake compressed data")], method=0x33)
    for name in ("UNRAR_TOOL", "UNAR_TOOL", "BSDTAR_TOOL", "SEVENZIP_TOOL", "SEVENZIP2_TOOL"):
        if hasattr(rarfile, name):
            monkeypatch.setattr(rarfile, name, "/nonexistent/tool")
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None, raising=False)
    monkeypatch.setattr(
        rarfile, "tool_setup", lambda *a, **k: (_ for _ in ()).throw(rarfile.RarCannotExec("no tool")), raising=False
    )
    with open_archive(cbr) as comic, pytest.raises(ArchiveError, match="no RAR backend installed"):
        comic.read_member("01.jpg")
    with pytest.raises(ArchiveError, match="no RAR backend installed"):
        convert_to_cbz(cbr, XML)
    assert not (tmp_path / "compressed.cbz").exists()


@contextlib.contextmanager
def tmpfs(tmp_path: Path, size: str):
    """A real small filesystem (root only); None where mounting is not allowed."""
    mount = tmp_path / f"fs-{size}"
    mount.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mount if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_read_only_folder(tmp_path):
    with tmpfs(tmp_path, "8m") as mount:
        if mount is None and os.geteuid() == 0:
            pytest.skip("cannot mount a filesystem here and root ignores permissions")
        folder = mount or tmp_path / "ro"
        folder.mkdir(exist_ok=True)
        path = make_archive(folder / "a.cbz")
        before = path.read_bytes()
        if mount is not None:
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        else:
            folder.chmod(0o500)
        try:
            with pytest.raises(ArchiveError, match="not allowed to write"):
                write_comicinfo(path, XML)
        finally:
            if mount is None:
                folder.chmod(0o700)
        assert path.read_bytes() == before


def test_read_only_file_is_refused_even_for_root(tmp_path):
    path = make_archive(tmp_path / "a.cbz")
    path.chmod(0o444)
    before = path.read_bytes()
    with pytest.raises(ArchiveError, match="read-only"):  # the user's "do not modify" is respected
        write_comicinfo(path, XML)
    assert path.read_bytes() == before and stat.S_IMODE(os.stat(path).st_mode) == 0o444


def test_file_that_vanishes_during_processing(tmp_path, monkeypatch):
    path = make_archive(tmp_path / "a.cbz")
    from bdnex_core.archives import zipwrite

    real = zipwrite.read_layout

    def vanish(handle, size, reported):
        path.unlink()
        return real(handle, size, reported)

    monkeypatch.setattr(zipwrite, "read_layout", vanish)
    with pytest.raises(ArchiveError):
        write_comicinfo(path, XML)
    assert not list(tmp_path.glob(".bdnex-tmp-*"))
    monkeypatch.undo()
    with pytest.raises(ArchiveError, match="file not found"):
        write_comicinfo(path, XML)


def test_full_disk_leaves_the_original_and_no_temp_file(tmp_path, monkeypatch):
    with tmpfs(tmp_path, "3m") as mount:
        if mount is not None:  # a real full disk: the archive fits once, not twice
            path = mount / "big.cbz"
            with zipfile.ZipFile(path, "w") as written:
                for number in range(2):
                    written.writestr(f"page{number}.jpg", os.urandom(850 * 1024))
            before = path.read_bytes()
            with pytest.raises(ArchiveError, match="no space left"):
                write_comicinfo(path, XML)
            assert path.read_bytes() == before
            assert not list(mount.glob(".bdnex-tmp-*"))
            return
    path = make_archive(tmp_path / "a.cbz")  # no mount allowed: the same path through a failing write
    before = path.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    from bdnex_core.archives import zipwrite

    monkeypatch.setattr(zipwrite, "_copy_range", no_space)
    with pytest.raises(ArchiveError, match="no space left"):
        write_comicinfo(path, XML)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".bdnex-tmp-*"))


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / f".bdnex-tmp-{2**22 + 7}-abcd-a.cbz"
    dead.write_bytes(b"partial")
    alive = tmp_path / f".bdnex-tmp-{os.getppid()}-abcd-b.cbz"
    alive.write_bytes(b"someone else's write in progress")
    removed = cleanup_stale_temp_files(tmp_path)
    assert removed == [dead] and alive.exists()


KILLER = """
import sys
from bdnex_core.archives import write_comicinfo
path = sys.argv[1]
n = 0
while True:
    n += 1
    write_comicinfo(path, (b'<ComicInfo><Title>' + str(n).encode() + b'</Title></ComicInfo>'))
"""


@pytest.mark.slow
def test_sigkill_during_writes_never_corrupts(tmp_path):
    import random
    import signal
    import time

    path = tmp_path / "large.cbz"
    with zipfile.ZipFile(path, "w") as written:
        for number in range(40):
            written.writestr(f"page{number:03d}.jpg", os.urandom(2 * 1024 * 1024))  # 80 MB of incompressible pages
    original_pages = {name: value for name, value in raw_members(path).items() if name != "ComicInfo.xml"}
    rng = random.Random(5)
    outcomes = set()
    for _trial in range(20):
        before = digest(path)
        writer = subprocess.Popen([sys.executable, "-c", KILLER, str(path)])
        time.sleep(rng.uniform(0.05, 1.5))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        after = digest(path)
        outcomes.add("unchanged" if after == before else "replaced")
        with zipfile.ZipFile(path) as written:  # always a complete archive: the old one or a new one
            assert written.testzip() is None
            assert (
                written.read("ComicInfo.xml").startswith(b"<ComicInfo><Title>")
                if "ComicInfo.xml" in written.namelist()
                else True
            )
        assert {name: value for name, value in raw_members(path).items() if name != "ComicInfo.xml"} == original_pages
        cleanup_stale_temp_files(tmp_path)
        assert not list(tmp_path.glob(".bdnex-tmp-*"))
    assert "replaced" in outcomes
