"""A new database on a library bdnex-core tagged before: its database was lost or moved, say so.

Tagging with an empty database would process every file again as if for the first time, and every
session, decision, review and ComicInfo backup of the lost database would be forgotten without a
word. So the first run on a new database looks at a few of the library's archives: when bdnex-core
tagged some of them, the run stops and names the ways out (point the configuration at the moved
database, restore a backup, or start afresh on purpose with ``db reset``). A database the user chose
with ``db reset``, ``db restore`` or ``db repair`` is remembered as chosen (:func:`remember_the_choice`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bdnex_core.archives import open_archive
from bdnex_core.comicinfo import TAGGED_BY
from bdnex_core.errors import BdnexError
from bdnex_core.library import LibraryItem
from bdnex_core.store.db_safety import DatabaseMissing, command

if TYPE_CHECKING:
    from bdnex_core.db import BDneXDB

#: archives looked at (the first ones in the run's order): enough to tell a tagged library, cheap to read
SAMPLE = 20
CHOSEN = ("bdnex-core", "database_chosen")  # plugin_state: `db reset`, `restore` or `repair` chose this database
MARK = TAGGED_BY.split(" from ")[0].encode()  # what our Notes start with, whatever the XML escapes after


def tagged_by_us(item: LibraryItem) -> bool:
    if item.path is None:
        return False
    try:
        with open_archive(item.path) as comic:
            return MARK in (comic.comicinfo_bytes() or b"")
    except (BdnexError, OSError, ValueError):
        return False  # an archive we cannot read says nothing either way


def refuse_a_silent_fresh_start(db: BDneXDB, items: Iterable[LibraryItem]) -> None:
    """Raise when ``db`` is new and the library carries ComicInfo written by bdnex-core."""
    if db.files.has_any() or db.sessions.recent(limit=1) or db.plugin_state.get(*CHOSEN):
        return
    looked = [item for _, item in zip(range(SAMPLE), (i for i in items if i.path is not None), strict=False)]
    tagged = [item for item in looked if tagged_by_us(item)]
    if not tagged:
        return
    raise DatabaseMissing(
        f"this database is new, but bdnex-core tagged this library before ({len(tagged)} of the {len(looked)} "
        f"files looked at, such as {tagged[0].path}): was its database lost or moved? Point database.path "
        f"(or --db) at it, or {command('db', 'restore')} puts back a backup; to start a new database on "
        f"purpose, run {command('db', 'reset')}",
        path=db.location,
    )


def remember_the_choice(db: BDneXDB, how: str) -> None:
    """``db`` was put in place on purpose (``reset``, ``restore``, ``repair``): never question it as new."""
    db.plugin_state.set(*CHOSEN, {"how": how, "at": datetime.now(UTC).isoformat(timespec="seconds")})
