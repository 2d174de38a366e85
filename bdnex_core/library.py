"""What plugins exchange with the core: library items, sources and metadata writers.

A *library source* yields :class:`LibraryItem` objects (a local folder, a Komga
library, a calibre library). A *metadata writer* writes an album's metadata back
(ComicInfo.xml inside the CBZ, Komga's REST API, calibredb). Both are contributed
through the ``register_library_sources`` / ``register_metadata_writers`` hooks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bdnex_core.config import Settings

COMIC_SUFFIXES = frozenset({".cbz", ".cbr", ".cb7"})


@dataclass(frozen=True)
class LibraryItem:
    """One comic file to process, and where it came from.

    ``source`` names the library source (``folder``, ``komga``, ``calibre``);
    ``external_id`` is that source's identity for the book (a Komga book id, a
    calibre book id), ``None`` for plain files. ``path`` is the local file when
    one is reachable. ``hints`` carries what the source already knows
    (series, number, an existing ``bedetheque`` id, ...). The hint
    ``write_comicinfo=False`` keeps the core's ComicInfo writer away from the file
    (a source whose write-back goes through its own API only); ``unavailable="reason"`` makes
    the item fail alone with that reason (a file the source cannot reach) while the rest go on.
    """

    source: str
    name: str
    path: Path | None = None
    external_id: str | None = None
    hints: Mapping[str, Any] = field(default_factory=dict)

    @cached_property  # asked for several times per item in a batch of 100,000
    def key(self) -> str:
        """A stable identity for de-duplication: the source id when there is one."""
        return f"{self.source}:{self.external_id}" if self.external_id else str(self.path)


@dataclass
class WriteResult:
    """What a metadata writer did for one item."""

    writer: str
    written: bool
    message: str = ""
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@runtime_checkable
class LibrarySource(Protocol):
    """Something that yields comics to process."""

    name: str

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        """Yield the items found at ``locations`` (folders, library ids, URLs: source-specific)."""
        ...


@runtime_checkable
class MetadataWriter(Protocol):
    """Something that writes an album's metadata back for an item."""

    name: str

    def can_write(self, item: LibraryItem, settings: Settings) -> bool:
        """Whether this writer applies to ``item`` (e.g. a CBZ on disk, a Komga book)."""
        ...

    def write(self, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool = False) -> WriteResult:
        """Write ``metadata`` (a :class:`bdnex_core.comicinfo.ComicInfo`) for ``item``."""
        ...
