"""Damaging files the way disks, sync tools and power cuts do, and finding which files to damage.

The seven damages of issue 37 (emptied, cut in half, 64 bytes flipped, first 4 KiB zeroed, replaced
by a folder, made unreadable, replaced by a link to /dev/zero), the discovery of the files a run
created (no list of names: a new file is found when it appears) and their grouping into kinds
(``pages/245127.html`` and ``pages/900135.html`` are one kind: one of them stands for all).
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path


def emptied(path: Path) -> None:
    os.truncate(path, 0)


def cut_in_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def flipped_64_bytes(path: Path) -> None:
    """64 bytes (fewer in a smaller file) inverted in the middle of the file."""
    size = path.stat().st_size
    start = max(0, size // 2 - 32)
    with path.open("r+b") as handle:
        handle.seek(start)
        data = handle.read(64)
        handle.seek(start)
        handle.write(bytes(byte ^ 0xFF for byte in data))


def first_4k_zeroed(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.write(bytes(min(4096, size)))


def replaced_by_a_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def made_unreadable(path: Path) -> None:
    path.chmod(0)


def linked_to_dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "emptied": emptied,
    "cut in half": cut_in_half,
    "64 bytes flipped": flipped_64_bytes,
    "first 4 KiB zeroed": first_4k_zeroed,
    "replaced by a folder": replaced_by_a_folder,
    "made unreadable": made_unreadable,
    "linked to /dev/zero": linked_to_dev_zero,
}


def files_under(root: Path, *, leave_out: Iterable[Path] = ()) -> set[Path]:
    """Every file under ``root`` (relative paths), folders in ``leave_out`` left out."""
    skipped = {path.resolve() for path in leave_out}
    found: set[Path] = set()
    for folder, folders, names in os.walk(root):
        folders[:] = [name for name in folders if (Path(folder) / name).resolve() not in skipped]
        found.update((Path(folder) / name).relative_to(root) for name in names)
    return found


def kind_of(relative: Path) -> str:
    """The kind of a file: its path with every number (an id, a session number, a time) and every
    hexadecimal hash as #."""
    return re.sub(r"[0-9a-f]{8,}|[0-9]+", "#", relative.as_posix())


def one_of_each_kind(files: Iterable[Path]) -> dict[str, Path]:
    """Kind → the first file of that kind (files of one kind are handled by the same code)."""
    chosen: dict[str, Path] = {}
    for path in sorted(files):
        chosen.setdefault(kind_of(path), path)
    return chosen


def restore_tree(snapshot: Path, target: Path) -> None:
    """``target`` becomes a copy of ``snapshot`` (links copied as links)."""
    if target.exists():
        for folder, folders, _names in os.walk(target):
            for name in folders:  # a damage may have left a folder without permissions
                (Path(folder) / name).chmod(0o755)
        shutil.rmtree(target)
    shutil.copytree(snapshot, target, symlinks=True)


def archive_pages(path: Path) -> dict[str, bytes] | None:
    """The members of a comic archive other than its ComicInfo.xml (``None``: not a readable zip).
    What tagging may change is the ComicInfo.xml alone; anything else changed is damage."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {
                info.filename: archive.read(info)
                for info in archive.infolist()
                if info.filename.lower() != "comicinfo.xml"
            }
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None
