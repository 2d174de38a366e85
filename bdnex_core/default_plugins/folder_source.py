"""Default library source: comic files found in local folders (recursive)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bdnex_core.errors import BdnexError
from bdnex_core.hookspecs import hookimpl
from bdnex_core.library import COMIC_SUFFIXES, LibraryItem, LibrarySource

if TYPE_CHECKING:
    from bdnex_core.config import Settings


def iter_comic_files(root: Path) -> Iterator[Path]:
    """Comic archives under ``root`` (any letter case), hidden entries skipped, sorted per folder."""
    if root.is_file():
        yield root
        return
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in COMIC_SUFFIXES:
                yield Path(folder) / name


class FolderSource:
    """Yields the comic archives under the given paths (files or folders)."""

    name = "folder"

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        for location in locations:
            root = Path(location).expanduser()
            if not root.exists():
                raise BdnexError("no such file or folder", path=root)
            for path in iter_comic_files(root):
                resolved = path.resolve()
                yield LibraryItem(source=self.name, name=path.name, path=resolved, hints={"parent": path.parent.name})


@hookimpl(trylast=True)
def register_library_sources(register: Callable[[LibrarySource], None], settings: Settings) -> None:
    register(FolderSource())
