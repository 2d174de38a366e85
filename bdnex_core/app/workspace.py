"""The workspace every front-end works in: the settings and the database, each opened on first use.

The command line's context (:class:`bdnex_core.cli.context.AppContext`) is one, with what only a terminal
needs on top; the web command and plugins' code receive it as a workspace. No click here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bdnex_core.app.legacy_logs import ImportReport
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB


@dataclass
class Workspace:
    config_path: str | None = None
    db_path: str | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _db: BDneXDB | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from bdnex_core.config import load_settings  # lazy: every command builds a workspace, --help too

            self._settings = load_settings(self.config_path, self.db_path)
        return self._settings

    @property
    def db(self) -> BDneXDB:
        if self._db is None:
            from bdnex_core.db import BDneXDB  # lazy: every command builds a workspace, --help too

            self._db = BDneXDB(settings=self.settings)
            if not self._db.files.has_any():
                self.legacy_logs_imported(import_legacy_logs(self._db))
        return self._db

    def legacy_logs_imported(self, report: ImportReport | None) -> None:
        """Told what the first opening of a database imported of earlier BDneX logs (a front-end says it)."""

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def import_legacy_logs(db: BDneXDB) -> ImportReport | None:
    """A database with no processed file yet picks up the batch logs of earlier BDneX versions (each log
    once: an imported log is recognised by its content). ``None`` when there was none to import."""
    from bdnex_core.app.legacy_logs import import_logs, legacy_log_files  # lazy: only for a new database

    logs = legacy_log_files()
    if not logs:
        return None
    return import_logs(db, logs)
