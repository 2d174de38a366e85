"""What every command receives: settings and database, opened on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB


@dataclass
class AppContext:
    config_path: str | None = None
    db_path: str | None = None
    debug: bool = False
    quiet: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _db: BDneXDB | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from bdnex_core.config import load_settings

            self._settings = load_settings(self.config_path, self.db_path)
        return self._settings

    @property
    def db(self) -> BDneXDB:
        if self._db is None:
            from bdnex_core.db import BDneXDB

            self._db = BDneXDB(settings=self.settings)
            if not self._db.has_processed_files():
                self._import_legacy_logs_once(self._db)
        return self._db

    def _import_legacy_logs_once(self, db: BDneXDB) -> None:
        """A database with no processed file yet picks up the batch logs of earlier BDneX versions
        (each log once: an imported log is recognised by its content)."""
        from bdnex_core.app.legacy_logs import import_logs, legacy_log_files

        logs = legacy_log_files()
        if not logs:
            return
        report = import_logs(db, logs)
        if not report.imported and not report.broken:
            return
        files = sum(count for _, _, count in report.imported)
        click.echo(
            f"Imported {len(report.imported)} earlier BDneX batch log(s) ({files} files) into {db.location}"
            + (f"; {len(report.broken)} unreadable log(s) skipped" if report.broken else ""),
            err=True,
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


pass_app = click.make_pass_decorator(AppContext)


def echo_json(data: object) -> None:
    """Print ``data`` as JSON (UTF-8, not ASCII-escaped) on stdout."""
    import json

    click.echo(json.dumps(data, ensure_ascii=False, default=str))
