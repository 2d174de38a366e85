"""What every command receives: settings and database, opened on first use; and how to print a
follow-up command that works when pasted (this installation, the ``--config``/``--db`` given)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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

    def follow_up(self, *args: str) -> str:
        """A command line to print for the user to run next (``follow_up("review")``): this installation
        of bdnex-core, with the ``--config`` and ``--db`` this command was given (as absolute paths), so
        that pasted in any folder it reaches the same database."""
        given: list[str] = []
        if self.config_path:
            given += ["--config", os.path.abspath(os.path.expanduser(self.config_path))]
        if self.db_path:
            url = self.db_path.startswith(("postgresql://", "postgres://"))
            given += ["--db", self.db_path if url else os.path.abspath(os.path.expanduser(self.db_path))]
        return " ".join([command_prefix(), *(shlex.quote(part) for part in [*given, *args])])


pass_app = click.make_pass_decorator(AppContext)


def echo_json(data: object) -> None:
    """Print ``data`` as JSON (UTF-8, not ASCII-escaped) on stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def follow_up_of_this_command() -> Callable[..., str]:
    """How the running command spells a follow-up (:meth:`AppContext.follow_up`); plain ``bdnex-core ...``
    outside a command (a plugin's code called from elsewhere)."""
    context = click.get_current_context(silent=True)
    app = context.find_object(AppContext) if context is not None else None
    if app is not None:
        return app.follow_up
    return lambda *args: " ".join(["bdnex-core", *(shlex.quote(arg) for arg in args)])


def command_prefix() -> str:
    """How to call this installation of bdnex-core: ``bdnex-core`` when that name on the PATH is this
    installation's script (an activated virtualenv, pipx's link in ~/.local/bin), else the script's
    full path (a virtualenv not activated), else ``python -m bdnex_core`` with this Python."""
    script = Path(sys.executable).parent / "bdnex-core"
    if not script.is_file():
        return f"{shlex.quote(sys.executable)} -m bdnex_core"
    on_path = shutil.which("bdnex-core")
    if on_path is not None and os.path.realpath(on_path) == os.path.realpath(script):
        return "bdnex-core"
    return shlex.quote(str(script))
