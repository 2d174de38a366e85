"""A tagging session as a plugin's command runs and prints it: the terminal's prompt for uncertain
matches when asked for, the summary as ``bdnex-core tag`` prints it (:mod:`.plugin_commands` hands these
to plugins)."""

from __future__ import annotations

from collections.abc import Sequence

from bdnex_core.app.review import ReviewService
from bdnex_core.cli.context import echo_json, follow_up_of_this_command
from bdnex_core.cli.review_prompt import terminal_reviewer
from bdnex_core.cli.tag import echo_database_stop, print_summary
from bdnex_core.config import Settings
from bdnex_core.db import BDneXDB
from bdnex_core.library import LibraryItem
from bdnex_core.pipeline.options import TagOptions
from bdnex_core.pipeline.runner import RunSummary
from bdnex_core.pipeline.runner import run_tagging as run


def run_tagging(settings: Settings, db: BDneXDB, items: Sequence[LibraryItem], options: TagOptions) -> RunSummary:
    review_command = follow_up_of_this_command()("review")
    reviewer = (
        terminal_reviewer(lambda: ReviewService(settings, db), review_command=review_command)
        if options.interactive
        else None
    )
    return run(settings, db, list(items), options, reviewer=reviewer)


def report_tagging(summary: RunSummary, *, dry_run: bool = False, as_json: bool = False) -> None:
    if as_json:
        echo_json(summary.to_dict())
        echo_database_stop(summary, follow_up_of_this_command())
        return
    print_summary(summary, follow_up=follow_up_of_this_command(), dry_run=dry_run)
