"""bdnex-core hooks: the ``kavita`` library source and writer, its configuration section and commands.

Loaded with every command, so it imports only what the hooks need at once; the commands'
module (:mod:`bdnex_kavita.commands`) imports the HTTP and WebSocket code when a command runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bdnex_core import hookimpl

if TYPE_CHECKING:
    import click

    from bdnex_core.api import Settings
    from bdnex_core.library import LibrarySource, MetadataWriter


@hookimpl
def register_config_schema(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    from bdnex_kavita.settings import SCHEMA, SECTION

    register(SECTION, SCHEMA)


@hookimpl
def register_library_sources(register: Callable[[LibrarySource], None], settings: Settings) -> None:
    from bdnex_kavita.source import KavitaSource

    register(KavitaSource())


@hookimpl
def register_metadata_writers(register: Callable[[MetadataWriter], None], settings: Settings) -> None:
    from bdnex_kavita.writeback import KavitaWriter

    register(KavitaWriter())


@hookimpl
def register_commands(cli: click.Group) -> None:
    from bdnex_kavita.commands import kavita

    cli.add_command(kavita)
