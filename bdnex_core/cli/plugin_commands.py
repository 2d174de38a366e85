"""Where plugin commands meet click: the one module of ``cli`` that ``bdnex_core.api`` hands to plugins.

A plugin registers its commands by name (``add_lazy_command``: imported when they run); a command receives the command line's workspace (``AppContext``, through ``pass_app``), prints
JSON with ``echo_json``, runs a tagging session with ``run_tagging`` (the terminal's review prompt when
asked for) and prints it as ``bdnex-core tag`` does with ``report_tagging``. Every plugin loads the API
with every command: the run and its printing are imported when a plugin first runs one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.cli.lazy import add_lazy_command

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.library import LibraryItem
    from bdnex_core.pipeline.options import TagOptions
    from bdnex_core.pipeline.runner import RunSummary

__all__ = ["AppContext", "add_lazy_command", "echo_json", "pass_app", "report_tagging", "run_tagging"]


def run_tagging(settings: Settings, db: BDneXDB, items: Sequence[LibraryItem], options: TagOptions) -> RunSummary:
    """Tag ``items`` in a new session (matching, review queue, writers, notifications) and return its summary.

    ``options.source`` and ``options.locations`` say where the items came from, so that
    ``bdnex-core tag --resume ID`` can ask your library source for them again. With
    ``options.interactive``, uncertain matches are asked about on the terminal (as ``tag`` does).
    """
    from bdnex_core.cli import tagging  # lazy: the pipeline, loaded when a plugin runs a session

    return tagging.run_tagging(settings, db, items, options)


def report_tagging(summary: RunSummary, *, dry_run: bool = False, as_json: bool = False) -> None:
    """Print a session's summary as ``bdnex-core tag`` does: a table (and the changes of a dry run), or JSON."""
    from bdnex_core.cli import tagging  # lazy: the summary's table (rich), loaded when a plugin prints one

    tagging.report_tagging(summary, dry_run=dry_run, as_json=as_json)
