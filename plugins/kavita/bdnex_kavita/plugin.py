"""bdnex-core hooks: the ``kavita`` library source and writer, its configuration section and commands.

Loaded with every command, so it imports only the hook marker: the source, the writer and the
commands (:mod:`bdnex_kavita.commands`, and through it the HTTP and WebSocket code) are named here
and imported when they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bdnex_core import hookimpl
from bdnex_core.api import add_lazy_command

if TYPE_CHECKING:
    import click

    from bdnex_core.api import Settings
    from bdnex_core.library import LibrarySource, MetadataWriter


@hookimpl
def register_config_schema(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    from bdnex_kavita.settings import SCHEMA, SECTION

    register(SECTION, SCHEMA)


@hookimpl
def register_library_sources(register: Callable[[LibrarySource | str], None], settings: Settings) -> None:
    register("bdnex_kavita.source:KavitaSource")  # imported when a command asks for the sources


@hookimpl
def register_metadata_writers(register: Callable[[MetadataWriter | str], None], settings: Settings) -> None:
    register("bdnex_kavita.writeback:KavitaWriter")


@hookimpl
def register_commands(cli: click.Group) -> None:
    add_lazy_command(
        cli, "kavita", "bdnex_kavita.commands:kavita", "Kavita servers: tag their chapters, follow their events."
    )
