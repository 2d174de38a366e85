"""The default library source itself: comic files found in local folders (recursive). Imported when a command
lists a library, not by the plugin host (:mod:`.folder_source` registers it by name)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, overload

from bdnex_core.errors import BdnexError
from bdnex_core.fileio import collector_paused
from bdnex_core.hashing import file_kind, printable
from bdnex_core.library import COMIC_SUFFIXES, LibraryItem, NewItems

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB


class UnusablePath(str):
    """A listed comic file that will not be opened, with the reason (its item fails alone with it).

    Still a path string, so the listing keeps one shape; its text is always valid UTF-8 (the
    database stores it): the bytes of a name that is not UTF-8 are shown as ``\\x..`` escapes.
    """

    reason: str

    def __new__(cls, path: str, reason: str) -> UnusablePath:
        shown = super().__new__(cls, printable(path))
        shown.reason = reason
        return shown


def _checked(path: str, is_link: bool, roots: tuple[str, ...], follow_outside: bool) -> str:
    """The path to open (links resolved once), or an :class:`UnusablePath` saying why not."""
    listed = path
    if printable(path) != path:
        return UnusablePath(path, "the file name is not valid UTF-8; rename it (e.g. with convmv) to tag it")
    if is_link:
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return UnusablePath(path, "symbolic link loop: not followed")
            return UnusablePath(path, "symbolic link to a missing file")
        target = os.path.realpath(path)
        if printable(target) != target:
            return UnusablePath(path, f"symbolic link to {printable(target)}, whose name is not valid UTF-8")
        inside = any(target == root or target.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
        if not inside and not follow_outside:
            return UnusablePath(
                path,
                f"symbolic link to {printable(target)}, outside the library: not followed "
                "(archives.follow_links_outside_library)",
            )
        path = target
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return UnusablePath(listed, f"cannot read: {exc.strerror or exc}")
    if not stat.S_ISREG(mode):
        target = f" ({printable(path)})" if path != listed else ""
        return UnusablePath(listed, f"not a regular file but {file_kind(mode)}{target}: not opened")
    return path


def comic_file_entries(
    root: Path, *, roots: Iterable[str] = (), follow_outside: bool = False
) -> Iterator[tuple[str, str]]:
    """(path, name of the folder holding it) for each comic archive under ``root`` (any letter case),
    as strings, hidden entries skipped, sorted per folder.

    Paths come out in the database's canonical form (absolute, symlinks resolved) although only
    the root and the entries that are symlinks get resolved. Plain strings, because a re-scan of
    a large unchanged library must cost little more than listing it (see ``tag_locations``).
    Only regular files are yielded to be opened; a FIFO, a device, a link loop or a dangling link,
    a link leading outside ``roots`` (unless ``follow_outside``) and a name that is not UTF-8 come
    out as :class:`UnusablePath` with the reason.
    """
    root_text = os.path.realpath(root.expanduser())
    roots = tuple(roots) or (root_text,)
    if os.path.isfile(root_text):
        yield root_text, os.path.basename(os.path.dirname(root_text))
        return
    pending = [root_text]
    while pending:
        folder = pending.pop()
        subfolders: list[str] = []
        files: list[tuple[str, str, bool, bool]] = []
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        subfolders.append(entry.path)
                    elif os.path.splitext(name)[1].lower() in COMIC_SUFFIXES:
                        is_link = entry.is_symlink()
                        regular = not is_link and entry.is_file(follow_symlinks=False)  # from the listing: no stat
                        files.append((name, entry.path, is_link, regular))
        except OSError:
            continue  # an unreadable folder is skipped, as os.walk does
        files.sort()
        folder_utf8 = printable(folder) == folder
        folder_name = printable(os.path.basename(folder))
        for name, path, is_link, regular in files:
            plain = regular and folder_utf8 and (name.isascii() or printable(name) == name)
            yield (path if plain else _checked(path, is_link, roots, follow_outside)), folder_name
        pending.extend(sorted(subfolders, reverse=True))  # depth first, in name order


def folder_entries(locations: Iterable[str], *, follow_outside: bool = False) -> Iterator[tuple[str, str]]:
    """:func:`comic_file_entries` of each location; a clear error for one that does not exist.
    Links are followed when they lead into one of the locations, or anywhere with ``follow_outside``."""
    locations = list(locations)
    roots = tuple(os.path.realpath(Path(location).expanduser()) for location in locations)
    for location in locations:
        root = Path(location).expanduser()
        if printable(location) != location:  # the database and the logs could not even name the session
            raise BdnexError(
                "the folder's name is not valid UTF-8; rename it (e.g. with convmv)", path=printable(location)
            )
        if not root.exists():
            raise BdnexError("no such file or folder", path=root)
        yield from comic_file_entries(root, roots=roots, follow_outside=follow_outside)


def folder_item(path: str, folder_name: str) -> LibraryItem:
    unavailable = path.reason if isinstance(path, UnusablePath) else None  # fails alone, with its reason
    return LibraryItem(
        source=FolderSource.name,
        name=os.path.basename(path),
        path=Path(path),
        hints={"parent": folder_name},
        unavailable=unavailable,
    )


class FolderItems(Sequence[LibraryItem]):
    """The items of listed (path, folder) pairs, each made when it is asked for: a run over 100,000 files
    holds these pairs, not 100,000 :class:`LibraryItem` (a kilobyte each with their paths)."""

    def __init__(self, entries: list[tuple[str, str]]):
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, index: int) -> LibraryItem: ...

    @overload
    def __getitem__(self, index: slice) -> FolderItems: ...

    def __getitem__(self, index: int | slice) -> LibraryItem | FolderItems:
        if isinstance(index, slice):
            return FolderItems(self.entries[index])
        return folder_item(*self.entries[index])

    def __iter__(self) -> Iterator[LibraryItem]:
        return (folder_item(path, folder) for path, folder in self.entries)


class FolderSource:
    """Yields the comic archives under the given paths (files or folders)."""

    name = "folder"

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        follow_outside = settings.archives.follow_links_outside_library
        for path, folder_name in folder_entries(locations, follow_outside=follow_outside):
            yield folder_item(path, folder_name)

    def scan_new(
        self, settings: Settings, db: BDneXDB, locations: list[str], *, takes: Callable[[str], bool], force: bool
    ) -> NewItems:
        """The files not processed before or changed since, recognised from the listing (paths and
        sizes/times against the database) before any item is built."""
        with collector_paused():
            follow_outside = settings.archives.follow_links_outside_library
            entries = {  # path -> folder name, each file once
                path: folder
                for path, folder in folder_entries(locations, follow_outside=follow_outside)
                if takes(os.path.basename(path))
            }
            roots = [os.path.realpath(os.path.expanduser(location)) for location in locations]
            seen = db.files.unchanged_paths(list(entries), roots) if not force else set()
            # items made as the run reaches them: 100,000 files are pairs of names, not 100,000 items
            items = FolderItems([(path, folder) for path, folder in entries.items() if path not in seen])
            return NewItems(items, found=len(entries), unchanged=len(seen))
