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
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


pass_app = click.make_pass_decorator(AppContext)


def echo_json(data: object) -> None:
    """Print ``data`` as JSON (UTF-8, not ASCII-escaped) on stdout."""
    import json

    click.echo(json.dumps(data, ensure_ascii=False, default=str))
