"""Default library source: comic files found in local folders (recursive). Loaded with every command, so it
names the source (:mod:`.folder_files`), imported when a command lists a library."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bdnex_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.library import LibrarySource


@hookimpl(trylast=True)
def register_library_sources(register: Callable[[LibrarySource | str], None], settings: Settings) -> None:
    register("bdnex_core.default_plugins.folder_files:FolderSource")
