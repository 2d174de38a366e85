"""Bad input corpus: each case gives a one-line ArchiveError naming the file, and leaves the original untouched."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import TEMP_PREFIX, convert_to_cbz, open_archive, write_comicinfo
from bdnex_core.errors import ArchiveError
from bdnex_testing.archives import build_cbz, jpeg_like
from bdnex_testing.rarbuild import build_rar as write_rar

XML = b"<ComicInfo><Series>Nains</Series></ComicInfo>"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _expect_refused(path: Path, reason: str, action=None) -> ArchiveError:
    before = _digest(path) if path.exists() else None
    with pytest.raises(ArchiveError) as caught:
        (action or (lambda: write_comicinfo(path, XML)))()
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and reason in message, message
    assert (_digest(path) if path.exists() else None) == before
    assert not [p for p in path.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]
    return caught.value


def _zip_with(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.cbz"
    path.write_bytes(b"")
    _expect_refused(path, "empty file")
    _expect_refused(path, "empty file", lambda: open_archive(path))


def test_truncated_zip(tmp_path):
    path = build_cbz(tmp_path / "cut.cbz", pages=4)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_refused(path, "damaged or truncated zip")
    _expect_refused(path, "damaged or truncated zip", lambda: open_archive(path))


def test_not_an_archive(tmp_path):
    path = tmp_path / "text.cbz"
    path.write_bytes(b"hello, I am not a zip at all")
    _expect_refused(path, "not a comic archive")


def test_zip_with_no_images(tmp_path):
    path = _zip_with(tmp_path / "noimg.cbz", [("readme.txt", b"hi"), ("__MACOSX/._a.jpg", b"x")])
    _expect_refused(path, "no image pages")
    with open_archive(path) as comic:
        assert comic.pages() == [] and comic.cover_page() is None


def test_encrypted_zip(tmp_path):
    path = build_cbz(tmp_path / "locked.cbz", pages=2)
    data = bytearray(path.read_bytes())
    # set the "encrypted" flag bit in every local and central header (zipfile cannot create such zips)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + flag_at] |= 0x01
            start += 4
    path.write_bytes(bytes(data))
    _expect_refused(path, "encrypted member")
    _expect_refused(path, "encrypted member", lambda: open_archive(path))


@pytest.mark.parametrize("bad_name", ["../escape.jpg", "/etc/abs.jpg", "pages/../../x.jpg", "C:/win.jpg"])
def test_escaping_member_names(tmp_path, bad_name):
    path = _zip_with(tmp_path / "evil.cbz", [("page1.jpg", jpeg_like(100, 1)), (bad_name, jpeg_like(100, 2))])
    with zipfile.ZipFile(path) as archive:
        assert bad_name in archive.namelist()
    _expect_refused(path, "unsafe member name")
    _expect_refused(path, "unsafe member name", lambda: open_archive(path))


def test_duplicate_member_names(tmp_path):
    with pytest.warns(UserWarning):
        path = _zip_with(tmp_path / "dup.cbz", [("page1.jpg", jpeg_like(100, 1)), ("page1.jpg", jpeg_like(100, 2))])
    _expect_refused(path, "duplicate member name")


def test_two_comicinfo_members_are_refused(tmp_path):
    path = _zip_with(
        tmp_path / "two.cbz", [("page1.jpg", jpeg_like(100, 1)), ("ComicInfo.xml", XML), ("comicinfo.xml", XML)]
    )
    _expect_refused(path, "several ComicInfo.xml")


def test_name_flagged_utf8_but_invalid(tmp_path):
    path = _zip_with(tmp_path / "badname.cbz", [("page1.jpg", jpeg_like(100, 1)), ("pageX.jpg", jpeg_like(100, 2))])
    data = bytearray(path.read_bytes())
    data = bytearray(bytes(data).replace(b"pageX.jpg", b"page\xff.jpg"))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + flag_at + 1] |= 0x08  # bit 11: names are UTF-8
            start += 4
    path.write_bytes(bytes(data))
    _expect_refused(path, "not valid UTF-8")


def test_cp437_names_are_handled(tmp_path):
    path = _zip_with(tmp_path / "dos.cbz", [("pageA.jpg", jpeg_like(100, 1))])
    path.write_bytes(path.read_bytes().replace(b"pageA.jpg", b"page\x82.jpg"))  # 0x82 is "é" in cp437
    write_comicinfo(path, XML)
    with open_archive(path) as comic:
        assert comic.pages() == ["pageé.jpg"] and comic.comicinfo_bytes() == XML


def test_rar_without_backend(tmp_path, monkeypatch):
    import rarfile

    # method 0x33 ("normal" compression): rarfile must call a backend to extract it
    path = write_rar(tmp_path / "book.cbr", [("p1.jpg", jpeg_like(200, 1))], method=0x33)
    temporary = tmp_path / "system-tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    for tool in ("UNRAR_TOOL", "UNAR_TOOL", "BSDTAR_TOOL", "SEVENZIP_TOOL", "SEVENZIP2_TOOL"):
        monkeypatch.setattr(rarfile, tool, "/nonexistent/bdnex-no-such-tool")
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)
    try:
        _expect_refused(path, "no RAR backend installed", lambda: convert_to_cbz(path, XML))
        assert not (tmp_path / "book.cbz").exists()
        assert list(temporary.iterdir()) == []  # nothing left in the temp folder either
    finally:
        monkeypatch.undo()
        # restore the real backend for later tests (a machine without one keeps none)
        with contextlib.suppress(rarfile.RarCannotExec):
            rarfile.tool_setup(force=True)


def test_read_only_file(tmp_path):
    path = build_cbz(tmp_path / "ro.cbz")
    os.chmod(path, 0o444)
    _expect_refused(path, "read-only")


def _mount_tmpfs(folder: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(exist_ok=True)
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode
        == 0
    )


def _umount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)


def test_read_only_directory(tmp_path):
    folder = tmp_path / "ro-dir"
    if _mount_tmpfs(folder, "size=4m"):  # as root, permission bits do not stop us: a read-only mount does
        try:
            build_cbz(folder / "book.cbz")
            assert subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True).returncode == 0
            _expect_refused(folder / "book.cbz", "not allowed to write")
        finally:
            _umount(folder)
    elif os.geteuid() != 0:
        folder.mkdir()
        path = build_cbz(folder / "book.cbz")
        os.chmod(folder, 0o555)
        try:
            _expect_refused(path, "not allowed to write")
        finally:
            os.chmod(folder, 0o755)
    else:
        pytest.skip("root without mount: a read-only folder cannot be simulated")


def test_file_vanishing_during_processing(tmp_path, monkeypatch):
    from bdnex_core.archives import zipwrite

    path = build_cbz(tmp_path / "gone.cbz")
    real_verify = zipwrite._verify

    def verify_then_lose_the_file(*args, **kwargs):
        real_verify(*args, **kwargs)
        path.unlink()  # the user moves or deletes it while we write

    monkeypatch.setattr(zipwrite, "_verify", verify_then_lose_the_file)
    with pytest.raises(ArchiveError, match="vanished") as caught:
        write_comicinfo(path, XML)
    assert str(path) in str(caught.value)
    assert not path.exists(), "the vanished file must not be resurrected"
    assert not list(tmp_path.iterdir())


def test_file_changed_during_processing(tmp_path, monkeypatch):
    from bdnex_core.archives import zipwrite

    path = build_cbz(tmp_path / "changed.cbz")
    real_verify = zipwrite._verify

    def verify_then_modify(*args, **kwargs):
        real_verify(*args, **kwargs)
        with open(path, "ab") as handle:
            handle.write(b"more")  # another program writes meanwhile

    monkeypatch.setattr(zipwrite, "_verify", verify_then_modify)
    with pytest.raises(ArchiveError, match="changed while"):
        write_comicinfo(path, XML)
    assert path.read_bytes().endswith(b"more")


def test_missing_file(tmp_path):
    path = tmp_path / "never.cbz"
    with pytest.raises(ArchiveError, match="file not found") as caught:
        write_comicinfo(path, XML)
    assert str(path) in str(caught.value)


def test_full_disk(tmp_path):
    folder = tmp_path / "small"
    if _mount_tmpfs(folder, "size=1m"):  # the real thing: a 1 MB filesystem holding a 700 KB archive
        try:
            path = build_cbz(folder / "book.cbz", pages=7, page_size=100_000)
            _expect_refused(path, "no space left")
        finally:
            _umount(folder)
    else:
        pytest.skip("cannot mount a tmpfs here; test_file_size_limit covers the same failure")


def test_file_size_limit(tmp_path):
    # a file size limit in a child process makes the temp write fail with EFBIG, as a full disk would
    folder = tmp_path / "limited"
    folder.mkdir()
    path = build_cbz(folder / "book.cbz", pages=7, page_size=100_000)
    before = _digest(path)
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
        "from bdnex_core.archives import write_comicinfo\n"
        "from bdnex_core.errors import ArchiveError\n"
        "try:\n    write_comicinfo(sys.argv[1], b'<ComicInfo/>')\n"
        "except ArchiveError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert "no space left" in result.stdout, result.stderr
    assert _digest(path) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]
