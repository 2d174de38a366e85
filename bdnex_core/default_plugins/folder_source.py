"""Default library source: comic files found in local folders (recursive)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bdnex_core.errors import BdnexError
from bdnex_core.hookspecs import hookimpl
from bdnex_core.library import COMIC_SUFFIXES, LibraryItem, LibrarySource

if TYPE_CHECKING:
    from bdnex_core.config import Settings


def comic_file_entries(root: Path) -> Iterator[tuple[str, str]]:
    """(path, name of the folder holding it) for each comic archive under ``root`` (any letter case),
    as strings, hidden entries skipped, sorted per folder.

    Paths come out in the database's canonical form (absolute, symlinks resolved) although only
    the root and the entries that are symlinks get resolved. Plain strings, because a re-scan of
    a large unchanged library must cost little more than listing it (see ``tag_locations``).
    """
    root_text = os.path.realpath(root.expanduser())
    if os.path.isfile(root_text):
        yield root_text, os.path.basename(os.path.dirname(root_text))
        return
    pending = [root_text]
    while pending:
        folder = pending.pop()
        subfolders: list[str] = []
        files: list[tuple[str, str, bool]] = []
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        subfolders.append(entry.path)
                    elif os.path.splitext(name)[1].lower() in COMIC_SUFFIXES:
                        files.append((name, entry.path, entry.is_symlink()))
        except OSError:
            continue  # an unreadable folder is skipped, as os.walk does
        files.sort()
        folder_name = os.path.basename(folder)
        for _name, path, is_link in files:
            yield (os.path.realpath(path) if is_link else path), folder_name
        pending.extend(sorted(subfolders, reverse=True))  # depth first, in name order


def folder_entries(locations: Iterable[str]) -> Iterator[tuple[str, str]]:
    """:func:`comic_file_entries` of each location; a clear error for one that does not exist."""
    for location in locations:
        root = Path(location).expanduser()
        if not root.exists():
            raise BdnexError("no such file or folder", path=root)
        yield from comic_file_entries(root)


def folder_item(path: str, folder_name: str) -> LibraryItem:
    return LibraryItem(
        source=FolderSource.name, name=os.path.basename(path), path=Path(path), hints={"parent": folder_name}
    )


class FolderSource:
    """Yields the comic archives under the given paths (files or folders)."""

    name = "folder"

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        for path, folder_name in folder_entries(locations):
            yield folder_item(path, folder_name)


@hookimpl(trylast=True)
def register_library_sources(register: Callable[[LibrarySource], None], settings: Settings) -> None:
    register(FolderSource())
