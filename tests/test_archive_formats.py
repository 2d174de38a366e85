"""CBR (through our RAR 4.x generator) and CB7: reading, kind by content, conversion to CBZ."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import ArchiveKind, convert_to_cbz, detect_kind, open_archive
from bdnex_core.errors import ArchiveError
from bdnex_testing.archives import jpeg_like
from bdnex_testing.rarbuild import build_rar as write_rar

XML = b"<ComicInfo><Series>Nains</Series><Number>1</Number></ComicInfo>"
PAGES = [(f"Nains T01/page{n}.jpg", jpeg_like(3000 + n, n)) for n in (1, 2, 10, 3)]


def _rar(tmp_path: Path, name: str = "book.cbr", extra: list[tuple[str, bytes]] | None = None) -> Path:
    return write_rar(tmp_path / name, [*PAGES, ("Nains T01/.hidden.jpg", b"x"), *(extra or [])])


@pytest.mark.parametrize("tool", ["unar", "bsdtar"])
def test_generated_rar_is_read_by_debian_backends(tmp_path, tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed (Debian: unar / libarchive-tools)")
    path = _rar(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    command = (
        ["unar", "-q", "-D", "-o", str(out), str(path)]
        if tool == "unar"
        else ["bsdtar", "-xf", str(path), "-C", str(out)]
    )
    subprocess.run(command, check=True, capture_output=True)
    for name, data in PAGES:
        found = list(out.rglob(Path(name).name))
        assert found and found[0].read_bytes() == data


def test_cbr_reading(tmp_path):
    path = _rar(tmp_path, extra=[("ComicInfo.xml", b"<ComicInfo/>")])
    assert detect_kind(path) is ArchiveKind.CBR
    with open_archive(path) as comic:
        assert comic.kind == "cbr"
        assert comic.pages() == [
            "Nains T01/page1.jpg",
            "Nains T01/page2.jpg",
            "Nains T01/page3.jpg",
            "Nains T01/page10.jpg",
        ]
        assert comic.read_member("Nains T01/page10.jpg") == dict(PAGES)["Nains T01/page10.jpg"]
        assert comic.comicinfo_bytes() == b"<ComicInfo/>"
        assert comic.cover_page() == "Nains T01/page1.jpg"


def test_kind_comes_from_content_not_extension(tmp_path):
    rar_named_cbz = _rar(tmp_path, "rar-really.cbz")
    assert detect_kind(rar_named_cbz) == "cbr"
    with pytest.raises(ArchiveError, match="convert it first"):
        from bdnex_core.archives import write_comicinfo

        write_comicinfo(rar_named_cbz, XML)


def test_convert_keeps_pages_byte_identical_and_stored(tmp_path):
    path = _rar(tmp_path, extra=[("ComicInfo.xml", b"<ComicInfo><Series>old</Series></ComicInfo>")])
    original = hashlib.sha256(path.read_bytes()).hexdigest()
    target = convert_to_cbz(path, XML)
    assert target == tmp_path / "book.cbz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == original  # kept by default
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names.count("ComicInfo.xml") == 1 and archive.read("ComicInfo.xml") == XML
        for name, data in PAGES:
            info = archive.getinfo(name)
            assert info.compress_type == zipfile.ZIP_STORED and archive.read(name) == data
    with open_archive(target) as comic:
        assert comic.pages()[-1] == "Nains T01/page10.jpg"


def test_convert_refuses_a_different_existing_cbz_and_reuses_an_identical_one(tmp_path):
    path = _rar(tmp_path)
    other = tmp_path / "book.cbz"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("other.jpg", b"another book")
    before = other.read_bytes()
    with pytest.raises(ArchiveError, match="already exists") as caught:
        convert_to_cbz(path, XML)
    assert str(path) in str(caught.value) and other.read_bytes() == before
    other.unlink()
    convert_to_cbz(path, XML)
    # a rerun (say the first one stopped before deleting the original) only rewrites ComicInfo
    target = convert_to_cbz(path, XML + b"<!-- v2 -->", delete_original=True)
    assert not path.exists()
    with zipfile.ZipFile(target) as archive:
        assert archive.read("ComicInfo.xml") == XML + b"<!-- v2 -->"


def test_convert_refuses_a_zip(tmp_path):
    path = tmp_path / "zip.cbr"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("p.jpg", b"x")
    with pytest.raises(ArchiveError, match="already a zip"):
        convert_to_cbz(path, XML)


def test_unsafe_rar_member_refused(tmp_path):
    path = write_rar(tmp_path / "evil.cbr", [("p1.jpg", b"x"), ("../../evil.jpg", b"y")])
    with pytest.raises(ArchiveError, match="unsafe member name"):
        open_archive(path)


@pytest.mark.skipif(shutil.which("7zz") is None and shutil.which("7z") is None, reason="7zip not installed")
def test_cb7_reading_and_conversion(tmp_path):
    source = tmp_path / "src"
    for name, data in PAGES:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    path = tmp_path / "book.cb7"
    tool = shutil.which("7zz") or shutil.which("7z")
    subprocess.run([tool, "a", "-bd", str(path), "Nains T01"], cwd=source, check=True, capture_output=True)
    with open_archive(path) as comic:
        assert comic.kind == "cb7"
        assert comic.pages() == [
            "Nains T01/page1.jpg",
            "Nains T01/page2.jpg",
            "Nains T01/page3.jpg",
            "Nains T01/page10.jpg",
        ]
        assert comic.read_member("Nains T01/page2.jpg") == dict(PAGES)["Nains T01/page2.jpg"]
        assert comic.comicinfo_bytes() is None
    target = convert_to_cbz(path, XML)
    with zipfile.ZipFile(target) as archive:
        assert {n: archive.read(n) for n in archive.namelist() if n.endswith(".jpg")} == dict(PAGES)
