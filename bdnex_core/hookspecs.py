"""Hook specifications of bdnex-core (markers and specs only).

Each hook is documented in ``docs/plugin_hooks.md``; a test fails when one is not.
Specs only grow by gaining arguments, so existing plugins keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from bdnex_core.config import Settings
    from bdnex_core.library import LibraryItem, LibrarySource, MetadataWriter

PROJECT_NAME = "bdnex_core"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``bdnex-core`` CLI.

    Called once when the CLI starts, after the core commands exist. Prefer
    ``bdnex_core.api.add_lazy_command(cli, name, "module:command", help)``: the command's
    module is imported only when it runs, so every other command starts fast;
    ``@cli.group()`` / ``@cli.command()`` on the group passed in work too.
    An implementation that raises is reported once; the CLI goes on without it.
    """


@hookspec
def register_config_schema(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """Contribute the JSON Schema of a configuration section: call ``register(section, schema)``.

    Called when the configuration is loaded. The core validates the whole file in one
    pass against its own schema plus every plugin's section, and fills in the schema's
    ``default`` values, so ``settings.section(name)`` already holds them. Mark secret
    keys with ``"x-secret": true`` (masked by ``config show``, never quoted in errors);
    ``"x-message"`` replaces the validator's message for a key. A section already
    claimed (by the core or an earlier plugin) is kept as it was.
    """


@hookspec
def register_library_sources(register: Callable[[LibrarySource | str], None], settings: Settings) -> None:
    """Contribute library sources: call ``register(source)`` for each, or ``register("module:Class")``
    to have the class imported and made only when a command asks for the sources.

    A source yields :class:`bdnex_core.library.LibraryItem` objects, each with
    its identity (a path, a Komga book id, a calibre book id). The core's local
    folder source is registered by a default plugin.
    """


@hookspec
def register_metadata_writers(register: Callable[[MetadataWriter | str], None], settings: Settings) -> None:
    """Contribute metadata writers: call ``register(writer)`` for each, or ``register("module:Class")``
    to have the class imported and made only when a run needs its writers.

    After an album is accepted for an item, every registered writer whose
    ``can_write(item, settings)`` is true is asked to write it. The CBZ
    ComicInfo writer is a default plugin; Komga and calibre add theirs.
    """


@hookspec
def file_tagged(item: LibraryItem, album: Mapping[str, Any], decision: str, session_id: int | None) -> None:
    """Notification: ``item`` was tagged with ``album`` (``Album.to_dict()``).

    ``decision`` is ``accept`` (automatic) or ``manual`` (chosen by a person).
    Called after the metadata writers succeeded and the database recorded it.
    Return values are ignored; exceptions are logged and do not stop the batch.
    """


@hookspec
def session_finished(session_id: int, status: str, stats: Mapping[str, Any]) -> None:
    """Notification: a processing session ended with ``status``
    (``completed``, ``paused``, ``failed``) and its counters in ``stats``.
    """
