"""Where bdnex-core keeps its files by default: the platform's conventions, or one folder.

``BDNEX_HOME`` names one folder for everything (``config.yaml``, ``bdnex.db``, ``cache/``,
``logs/``): what a container's volume wants (the image sets it to ``/data``).

Every file the tool writes has an :class:`Owner`, and the owner says what a damaged one becomes
(README, "Where bdnex-core keeps what"): the fault-injection test of damaged files fails on a file
that has none.
"""

from __future__ import annotations

import hashlib
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from bdnex_core.config import Settings

APP_NAME = "bdnex"
HOME_VARIABLE = "BDNEX_HOME"


def home() -> Path | None:
    """The one folder named by ``BDNEX_HOME``, if set."""
    value = os.environ.get(HOME_VARIABLE)
    return expand(value) if value else None


def user_config_dir() -> Path:
    return home() or Path(platformdirs.user_config_dir(APP_NAME))


def user_data_dir() -> Path:
    return home() or Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    return user_config_dir() / "config.yaml"


def default_database_path() -> Path:
    return user_data_dir() / "bdnex.db"


def logs_folder_for(logs_dir: Path, db_path: Path) -> Path:
    """The session logs of the SQLite database ``db_path``: ``<logs_dir>/<its name>-<hash of its path>``
    (session numbers are per database: two databases never share a folder)."""
    location = str(Path(db_path).resolve())
    return logs_dir / f"{Path(db_path).stem}-{hashlib.sha1(location.encode()).hexdigest()[:8]}"


def expand(path: str | os.PathLike[str]) -> Path:
    """Expand ``~`` and environment variables the way users expect in a config file."""
    return Path(os.path.expandvars(os.path.expanduser(str(path))))


class Owner(StrEnum):
    """Who a file bdnex-core keeps belongs to, which says what happens when it is damaged."""

    DATABASE = "database"  # the SQLite file and SQLite's -wal/-shm: reported with the command that fixes it
    BACKUP = "database backup"  # rolling copies and files set aside: listed by `db restore`, never read otherwise
    CACHE = "cache"  # rebuilt from the site or the archives: a damaged one is dropped with a warning
    LOG = "session log"  # written for people, never read back: a damaged one is replaced when rewritten
    USER = "yours"  # the configuration, a cookies file you exported: named with what to fix, never changed


SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
SET_ASIDE = re.compile(r"\.(damaged|replaced)-\d{8}-\d{6}")  # what db repair/restore/reset set aside


def backups_folder(settings: Settings) -> Path:
    """Where the SQLite database's rolling backups go: ``database.backups_dir``, else ``<database>-backups``."""
    database = settings.database
    if database.backups_dir is not None:
        return Path(database.backups_dir)
    return Path(database.path).with_name(Path(database.path).name + "-backups")


def owner_of(path: Path, settings: Settings) -> Owner | None:
    """The owner of a file bdnex-core keeps (``None``: not one of its files)."""
    path = Path(os.path.abspath(path))
    database = settings.database
    if database.backend == "sqlite":
        db_path = Path(os.path.abspath(database.path))
        if path.parent == db_path.parent and path.name in {db_path.name + s for s in ("", *SQLITE_COMPANIONS)}:
            return Owner.DATABASE
        if path.parent == db_path.parent and path.name.startswith(f"{db_path.name}-room-"):
            return Owner.CACHE  # the room a run holds for recording its end on a full disk: given up, made again
        if path.parent == db_path.parent and path.name.startswith(f"{db_path.name}-catalogue-v"):
            return Owner.CACHE  # the catalogue's index file (and its -wal, -shm): derived, built again
        if path.parent == db_path.parent and path.name.startswith(db_path.name) and SET_ASIDE.search(path.name):
            return Owner.BACKUP  # bdnex.db.damaged-TIME, bdnex.db-wal.damaged-TIME, bdnex.db.replaced-TIME...
        if path.is_relative_to(os.path.abspath(backups_folder(settings))):
            return Owner.BACKUP
    if settings.source is not None and path == Path(os.path.abspath(settings.source)):
        return Owner.USER
    cookies = settings.catalogue.cookies_file
    if cookies is not None and path == Path(os.path.abspath(cookies)):
        return Owner.USER
    if path.is_relative_to(os.path.abspath(settings.cache.dir)):
        return Owner.CACHE
    if path.is_relative_to(os.path.abspath(settings.pipeline.logs_dir)):
        return Owner.LOG
    return None
