"""Default metadata writer: ComicInfo.xml written into the comic archive (in place under the run's
journal, or through an atomic copy: ``archives.write``). Loaded with every command, so it names the writer
(:mod:`.comicinfo_writer`), imported when a run uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bdnex_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.library import MetadataWriter


@hookimpl(trylast=True)
def register_metadata_writers(register: Callable[[MetadataWriter | str], None], settings: Settings) -> None:
    register("bdnex_core.default_plugins.comicinfo_writer:ComicInfoWriter")
