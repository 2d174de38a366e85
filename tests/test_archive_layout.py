"""A CBZ we wrote into is given back byte for byte from its captured layout (undo)."""

from __future__ import annotations

import hashlib
import os
import zipfile

import pytest

from bdnex_core.archives.layout import capture, original_sha256, rebuild
from bdnex_core.archives.zipwrite import write_comicinfo
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.errors import ArchiveError
from bdnex_core.hashing import Fingerprint

XML = b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Series>Nains</Series><Number>1</Number></ComicInfo>'
OLD = b"<?xml version='1.0'?><ComicInfo><Series>Old</Series><Notes>the user's own</Notes></ComicInfo>"


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "case", ["no comicinfo", "comicinfo first", "comicinfo in the middle", "comicinfo last", "deflated", "comment"]
)
def test_rebuild_gives_the_original_bytes(tmp_path, case):
    path = tmp_path / "album.cbz"
    pages = sample_pages(case, 5, seed=3)
    names = [f"p{number:02}.jpg" for number in range(5)]
    extra = []
    if case == "comicinfo first":
        extra = [("ComicInfo.xml", OLD)]
    write_cbz(
        path,
        pages,
        page_names=names,
        compression=zipfile.ZIP_DEFLATED if case == "deflated" else zipfile.ZIP_STORED,
        extra_members=extra,
    )
    if case in ("comicinfo in the middle", "comicinfo last", "comment"):
        with zipfile.ZipFile(path) as archive:
            members = [(info, archive.read(info)) for info in archive.infolist()]
        position = 2 if case == "comicinfo in the middle" else len(members)
        with zipfile.ZipFile(path, "w") as archive:
            for number, (info, data) in enumerate(members):
                if number == position:
                    archive.writestr("ComicInfo.xml", OLD)
                archive.writestr(info, data)
            if position == len(members):
                archive.writestr("ComicInfo.xml", OLD)
            if case == "comment":
                archive.comment = b"made by a scanner"
    before = sha(path)
    description = capture(path)
    assert original_sha256(description) == before
    write_comicinfo(path, XML)
    write_comicinfo(path, XML.replace(b"Nains", b"Nains, encore"))  # a second session wrote again
    assert sha(path) != before
    rebuild(path, description)
    assert sha(path) == before


def test_capture_takes_a_known_hash_only_for_the_file_as_it_was_hashed(tmp_path):
    """A caller that hashed the file already passes its hash; a file changed since is hashed again."""
    path = write_cbz(tmp_path / "album.cbz", sample_pages("k", 3, seed=2))
    real = sha(path)
    as_hashed = Fingerprint.of(path)
    told = "0" * 64  # not the real hash: shows which one the description keeps
    assert original_sha256(capture(path, known_sha256=told, known_as=as_hashed)) == told
    assert original_sha256(capture(path)) == real
    os.utime(path, ns=(as_hashed.mtime_ns, as_hashed.mtime_ns + 1_000_000_000))  # touched since
    assert original_sha256(capture(path, known_sha256=told, known_as=as_hashed)) == real
    assert original_sha256(capture(path, known_sha256=None, known_as=Fingerprint.of(path))) == real


def test_a_file_whose_pages_changed_is_left_alone(tmp_path):
    path = tmp_path / "album.cbz"
    write_cbz(path, sample_pages("a", 3, seed=1))
    description = capture(path)
    write_comicinfo(path, XML)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("extra.jpg", b"\xff\xd8new page")
    changed = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0].filename
    # a page rewritten by another tool: same name, other bytes
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data + b"x" if name == first else data)
    changed = path.read_bytes()
    with pytest.raises(ArchiveError, match="changed since|no longer"):
        rebuild(path, description)
    assert path.read_bytes() == changed
    assert not list(tmp_path.glob(".bdnex-tmp-*"))
