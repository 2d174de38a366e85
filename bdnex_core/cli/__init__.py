"""The ``bdnex-core`` command line: a click group; each command group lives in its own module.

Commands are imported when they run (:mod:`bdnex_core.cli.lazy`): the core's are listed there, plugins
add theirs through the ``register_commands`` hook. Errors become one line and a non-zero exit code;
``--debug`` shows the traceback. SIGTERM is taken as Ctrl-C everywhere (see :func:`main`).
"""

from __future__ import annotations

import logging
import shlex
import signal
import sys
import threading
from typing import Any

import click

from bdnex_core import __version__
from bdnex_core.cli.context import AppContext
from bdnex_core.cli.lazy import CORE_COMMANDS, LazyGroup
from bdnex_core.errors import BdnexError
from bdnex_core.plugins import get_plugin_manager


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bdnex-core")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="Configuration file (default: platform config dir, or $BDNEX_CONFIG).",
)
@click.option(
    "--db",
    "db_path",
    metavar="FILE|URL",
    help="Database: an SQLite file or a postgresql:// URL (default: the configuration, or $BDNEX_DB).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug logging).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, db_path: str | None, verbose: int, quiet: bool, debug: bool
) -> None:
    """Tag French-language comics (BD) with metadata from Bédéthèque."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = AppContext(config_path=config_path, db_path=db_path, debug=debug, quiet=quiet)
    _commands_name_this_database(config_path, db_path)
    ctx.call_on_close(ctx.obj.close)


def _commands_name_this_database(config_path: str | None, db_path: str | None) -> None:
    """The fixes a message gives (``bdnex-core db repair``...) carry the options that chose this database."""
    from bdnex_core.store import db_safety  # lazy: --help and the commands that open no database skip sqlite3

    words = ["bdnex-core"]
    if config_path:
        words += ["--config", shlex.quote(config_path)]
    if db_path:
        words += ["--db", shlex.quote(db_path)]
    db_safety.COMMAND = " ".join(words)


def _register_core_commands(group: LazyGroup) -> None:
    for name, (target, help) in CORE_COMMANDS.items():
        group.add_lazy_command(name, target, help)


def _register_plugin_commands(group: click.Group) -> None:
    get_plugin_manager().hook.register_commands(cli=group)


_registered = False


def build_cli() -> LazyGroup:
    global _registered
    if not _registered:
        _register_core_commands(cli)
        _register_plugin_commands(cli)
        _registered = True
    return cli


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point.

    SIGTERM raises ``KeyboardInterrupt`` as Ctrl-C does: ``docker stop`` (or a service manager)
    then stops a command the way a person at the terminal would, and a process that is PID 1 in a
    container, for which the kernel ignores an unhandled SIGTERM, stops at all. Long loops set
    their own handlers (``signals.stop_on_signals``) and finish the files in flight.
    """
    takes_sigterm = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if takes_sigterm else None
    try:
        return _main(argv)
    finally:
        if takes_sigterm:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    group = build_cli()
    try:
        group.main(args=argv, prog_name="bdnex-core", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # commands end with the exit code their result calls for
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BdnexError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # an unexpected bug: one line unless --debug
        if debug:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        return 1
    return 0
