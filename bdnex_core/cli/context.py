"""What every command receives: settings and database, opened on first use."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from bdnex_core.app.workspace import Workspace

if TYPE_CHECKING:
    from bdnex_core.app.legacy_logs import ImportReport


@dataclass
class AppContext(Workspace):
    """The workspace of a command, with what a terminal adds: ``--debug``, ``--quiet`` and the line that
    says which earlier BDneX logs were imported."""

    debug: bool = False
    quiet: bool = False

    def legacy_logs_imported(self, report: ImportReport | None) -> None:
        if report is None or (not report.imported and not report.broken):
            return
        files = sum(count for _, _, count in report.imported)
        click.echo(
            f"Imported {len(report.imported)} earlier BDneX batch log(s) ({files} files) into {self.db.location}"
            + (f"; {len(report.broken)} unreadable log(s) skipped" if report.broken else ""),
            err=True,
        )


pass_app = click.make_pass_decorator(AppContext)


def echo_json(data: object) -> None:
    """Print ``data`` as JSON (UTF-8, not ASCII-escaped) on stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, default=str))
