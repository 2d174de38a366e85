"""Hostile archives and names (issue 20): never a page lost, never a file that cannot be written, true reasons."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import TEMP_PREFIX, convert_to_cbz, open_archive, write_comicinfo
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.errors import ArchiveError
from bdnex_testing.rarbuild import build_rar

XML = b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Series>Nains</Series></ComicInfo>\n'


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name_bytes", [236, 255])
def test_names_up_to_the_filesystem_limit_can_be_written(tmp_path, name_bytes):
    # "é" is two bytes in UTF-8: the temp name must not cut it in half either
    stem = "Les Nains - T01 - " + "é" * 200
    stem = stem.encode()[: name_bytes - len(".cbz")].decode("utf-8", "ignore")
    stem += "x" * (name_bytes - len(".cbz") - len(stem.encode()))
    path = write_cbz(tmp_path / f"{stem}.cbz", sample_pages("p", 2, 1))
    assert len(path.name.encode()) == name_bytes
    before = {info.filename: info.CRC for info in zipfile.ZipFile(path).infolist()}
    write_comicinfo(path, XML)
    with zipfile.ZipFile(path) as written:
        assert written.read("ComicInfo.xml") == XML
        assert {info.filename: info.CRC for info in written.infolist() if info.filename != "ComicInfo.xml"} == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_rar_with_two_members_of_one_name_is_refused_and_kept(tmp_path):
    first, second, third = sample_pages("d", 3, 4)
    cbr = build_rar(tmp_path / "Nains - T01.cbr", [("p1.jpg", first), ("p1.jpg", second), ("p2.jpg", third)])
    before = digest(cbr)
    with pytest.raises(ArchiveError) as caught:
        convert_to_cbz(cbr, XML, delete_original=True)
    message = str(caught.value)
    assert "duplicate member name 'p1.jpg'" in message and str(cbr) in message and "\n" not in message
    assert digest(cbr) == before  # the original stays, even with delete_converted_originals
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Nains - T01.cbr"]  # no CBZ missing a page


def test_rar_named_cbz_is_refused_with_a_true_reason(tmp_path):
    pages = sample_pages("r", 2, 5)
    fake = build_rar(tmp_path / "Nains - T01.cbz", [("01.jpg", pages[0]), ("02.jpg", pages[1])])
    before = digest(fake)
    with pytest.raises(ArchiveError) as caught:
        convert_to_cbz(fake, XML)
    message = str(caught.value)
    assert "RAR archive named .cbz" in message and "already exists" not in message, message
    assert digest(fake) == before


def test_rar_named_cbz_is_converted_in_place_when_originals_may_go(tmp_path):
    pages = sample_pages("r", 2, 6)
    fake = build_rar(tmp_path / "Nains - T01.cbz", [("01.jpg", pages[0]), ("02.jpg", pages[1])])
    assert convert_to_cbz(fake, XML, delete_original=True) == fake
    with open_archive(fake) as comic:
        assert comic.kind == "cbz" and comic.comicinfo_bytes() == XML
        assert [comic.read_member(name) for name in comic.pages()] == pages
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_a_symbolic_link_is_never_replaced_by_a_copy(tmp_path):
    target = write_cbz(tmp_path / "elsewhere" / "book.cbz", sample_pages("l", 2, 7))
    link = tmp_path / "link.cbz"
    link.symlink_to(target)
    before = digest(target)
    with pytest.raises(ArchiveError, match="a symbolic link: not written through"):
        write_comicinfo(link, XML)
    assert link.is_symlink() and digest(target) == before
