"""Commands loaded by name when they are invoked: ``bdnex-core --help`` imports none of them.

A command is registered as ``"module:attribute"`` with its one-line help; its module (and everything
it imports: the database, the HTTP stack, a plugin's writers) is imported only when the command runs
or its own ``--help`` is asked for. The core's commands are listed in :data:`CORE_COMMANDS`; a plugin
adds its own with :func:`add_lazy_command` from its ``register_commands`` hook (a module that imports
only click and the hook marker, so that loading the plugin costs nothing).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click

# name -> where it lives, and the line ``--help`` shows for it (tests/test_start_up.py checks that it
# is the command's own); ordered as the modules were registered before they were lazy
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("bdnex_core.cli.config_cmd:config_group", "Show or check the configuration."),
    "db": ("bdnex_core.cli.db_cmd:db_group", "Database maintenance."),
    "sessions": ("bdnex_core.cli.sessions:sessions_group", "Processing sessions (every tagging run is one)."),
    "stats": (
        "bdnex_core.cli.stats:stats",
        "Library statistics: files tagged, series, publishers, failures, reviews waiting.",
    ),
    "plugins": (
        "bdnex_core.cli.plugins_cmd:plugins",
        "List loaded plugins (default and installed) and the hooks each implements.",
    ),
    "album": ("bdnex_core.cli.album:album", "Show one Bédéthèque album, from the cache, the site, or a saved page."),
    "catalogue": (
        "bdnex_core.cli.catalogue:catalogue_group",
        "The local catalogue index (album ids, series, tomes, titles from the site's sitemaps).",
    ),
    "identify": (
        "bdnex_core.cli.identify:identify",
        "Match file names against the catalogue index, without fetching any page (but covers with --explain).",
    ),
    "cover": (
        "bdnex_core.cli.cover:cover",
        "Compare FILE's cover with ALBUM's (an id or a Bédéthèque URL; default: the best match of its name).",
    ),
    "tag": (
        "bdnex_core.cli.tag:tag",
        "Find comics under PATH..., match them on Bédéthèque, write ComicInfo.xml, record everything.",
    ),
    "review": (
        "bdnex_core.cli.review:review",
        "Pick the right album for each file waiting for review (or skip it); choices are recorded as manual.",
    ),
    "show": ("bdnex_core.cli.show:show", "The file's ComicInfo.xml, its database record and its change history."),
    "ls": ("bdnex_core.cli.library_cmd:ls", "List the processed files matching QUERY (all terms must hold)."),
    "missing": (
        "bdnex_core.cli.library_cmd:missing",
        "For each series of the library (or those matching SERIES), the tomes it lacks: those its series "
        "page lists when one was read (the whole series), else those the catalogue index lists.",
    ),
    "rename": (
        "bdnex_core.cli.library_cmd:rename",
        "Move tagged files under PATH... (folders or files) to a path built from their metadata.",
    ),
    "undo": (
        "bdnex_core.cli.library_cmd:undo",
        "Give the files a session changed (or one FILE) back the ComicInfo and the name they had before, "
        "byte for byte.",
    ),
    "web": (
        "bdnex_core.web.command:web",  # the page's command lives with the page: cli never imports web
        "A local web page: review queued matches with the covers side by side, follow sessions, see the "
        "library and each file's history.",
    ),
    "demo": (
        "bdnex_core.cli.demo:demo",
        "Build a sample library, start a fake Bédéthèque on 127.0.0.1, index it, tag the library.",
    ),
    "health": (
        "bdnex_core.cli.health_cmd:health",
        "Exit 0 when healthy, 1 otherwise, with one line saying why: the heartbeat a long-running command "
        "(komga watch/serve, kavita watch) writes to BDNEX_HEALTH_FILE is fresh, and with --url, that address "
        "answers.",
    ),
}


class LazyCommand(NamedTuple):
    target: str  # "package.module:attribute", a click command or group
    help: str  # what ``--help`` lists for it


def load_command(target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


def short_help(text: str, limit: int) -> str:
    """``text`` as ``--help`` lists a command whose help it is (click's own shortening)."""
    return click.Command(None, help=text).get_short_help_str(limit)


class LazyGroup(click.Group):
    """A click group whose commands may be registered by name, imported on first use."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands: dict[str, LazyCommand] = {}

    def add_lazy_command(self, name: str, target: str, help: str) -> None:
        self.lazy_commands[name] = LazyCommand(target, help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            command = self.commands[cmd_name] = load_command(self.lazy_commands[cmd_name].target)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands, from the help registered with each: no command module is imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is not None:
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, short_help(self.lazy_commands[name].help, limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def add_lazy_command(cli: click.Group, name: str, target: str, help: str) -> None:
    """Register the command ``target`` (``"module:attribute"``) under ``name``: imported when it runs.

    ``help`` is the line ``bdnex-core --help`` shows. On a group that cannot defer (not the
    ``bdnex-core`` group), the command is imported and added at once.
    """
    if isinstance(cli, LazyGroup):
        cli.add_lazy_command(name, target, help)
    else:
        cli.add_command(load_command(target), name)
