"""bdnex-core hooks: the ``komga`` library source and writer, and the ``komga`` commands.

Loaded by every ``bdnex-core`` command, so it imports only the hook marker and the settings' schema:
the source, the writer and the commands are named here and imported when they are used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bdnex_core import hookimpl
from bdnex_core.api import add_lazy_command
from bdnex_komga.downloads import remove_temporary_downloads
from bdnex_komga.settings import SCHEMA, SECTION

if TYPE_CHECKING:
    import click

    from bdnex_core.api import Settings
    from bdnex_core.library import LibrarySource, MetadataWriter


@hookimpl
def register_config_schema(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    register(SECTION, SCHEMA)


@hookimpl
def register_library_sources(register: Callable[[LibrarySource | str], None], settings: Settings) -> None:
    register("bdnex_komga.source:KomgaSource")  # imported when a command asks for the sources


@hookimpl
def register_metadata_writers(register: Callable[[MetadataWriter | str], None], settings: Settings) -> None:
    register("bdnex_komga.writeback:KomgaWriter")


@hookimpl
def session_finished(session_id: int, status: str, stats: Mapping[str, Any]) -> None:
    remove_temporary_downloads()


@hookimpl
def register_commands(cli: click.Group) -> None:
    add_lazy_command(
        cli,
        "komga",
        "bdnex_komga.commands:komga",
        "Komga servers: tag their books, follow their events, receive forwarded events.",
    )
