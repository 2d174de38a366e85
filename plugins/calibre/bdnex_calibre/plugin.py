"""bdnex-core hooks: the ``calibre`` library source and writer, and the ``calibre`` commands.

Loaded by every ``bdnex-core`` command, so it imports only the hook marker and the settings' schema:
the source, the writer and the commands are named here and imported when they are used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bdnex_calibre.copies import remove_temporary_copies
from bdnex_calibre.settings import SCHEMA, SECTION
from bdnex_core import hookimpl
from bdnex_core.api import add_lazy_command

if TYPE_CHECKING:
    import click

    from bdnex_core.api import Settings
    from bdnex_core.library import LibrarySource, MetadataWriter


@hookimpl
def register_config_schema(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    register(SECTION, SCHEMA)


@hookimpl
def register_library_sources(register: Callable[[LibrarySource | str], None], settings: Settings) -> None:
    register("bdnex_calibre.writeback:CalibreSource")  # imported when a command asks for the sources


@hookimpl
def register_metadata_writers(register: Callable[[MetadataWriter | str], None], settings: Settings) -> None:
    register("bdnex_calibre.writeback:CalibreWriter")


@hookimpl
def session_finished(session_id: int, status: str, stats: Mapping[str, Any]) -> None:
    remove_temporary_copies()


@hookimpl
def register_commands(cli: click.Group) -> None:
    add_lazy_command(
        cli,
        "calibre",
        "bdnex_calibre.commands:calibre",
        "calibre libraries: tag them, and build the calibre metadata-source plugin.",
    )
