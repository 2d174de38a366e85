"""What plugins exchange with the core: library items, sources and metadata writers.

A *library source* yields :class:`LibraryItem` objects (a local folder, a Komga
library, a calibre library). A *metadata writer* writes an album's metadata back
(ComicInfo.xml inside the CBZ, Komga's REST API, calibredb). Both are contributed
through the ``register_library_sources`` / ``register_metadata_writers`` hooks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bdnex_core.config import Settings

COMIC_SUFFIXES = frozenset({".cbz", ".cbr", ".cb7"})


@dataclass(frozen=True)
class WriteBack:
    """How the source wants an item's metadata written back. Typed, and stored with the session
    file and the review entry, so a resumed run and a review write exactly as the first run would."""

    comicinfo: bool = True  # the core's ComicInfo writer may write into the item's file
    downloaded: bool = False  # ``path`` is a temporary copy downloaded from the source
    force: bool = False  # overwrite fields the source has locked

    def to_dict(self) -> dict[str, bool]:
        return {"comicinfo": self.comicinfo, "downloaded": self.downloaded, "force": self.force}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> WriteBack:
        data = data or {}
        return cls(**{name: bool(data[name]) for name in ("comicinfo", "downloaded", "force") if name in data})


@dataclass(frozen=True)
class LibraryItem:
    """One comic file to process, and where it came from.

    ``source`` names the library source (``folder``, ``komga``, ``calibre``);
    ``external_id`` is that source's identity for the book (a Komga book id, a
    calibre book id), ``None`` for plain files. ``path`` is the local file when
    one is reachable. ``hints`` carries what the source merely knows (series, number,
    parent folder, an existing ``bedetheque_id``, its own ids...). ``write_back`` says how
    to write back (see :class:`WriteBack`); ``unavailable="reason"`` makes the item fail alone
    with that reason (a file the source cannot reach) while the rest go on.
    """

    source: str
    name: str
    path: Path | None = None
    external_id: str | None = None
    hints: Mapping[str, Any] = field(default_factory=dict)
    write_back: WriteBack = field(default_factory=WriteBack)
    unavailable: str | None = None

    @cached_property  # asked for several times per item in a batch of 100,000
    def key(self) -> str:
        """A stable identity for de-duplication: the source id when there is one."""
        return f"{self.source}:{self.external_id}" if self.external_id else str(self.path)

    def to_record(self) -> dict[str, Any]:
        """What is stored with a session file or a review entry (JSON-serialisable)."""
        return {
            "source": self.source,
            "name": self.name,
            "path": None if self.path is None else str(self.path),
            "external_id": self.external_id,
            "hints": dict(self.hints),
            "write_back": self.write_back.to_dict(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LibraryItem:
        """The item as stored; a file that is gone (a temporary download) leaves ``path`` empty."""
        path = Path(record["path"]) if record.get("path") else None
        return cls(
            source=str(record["source"]),
            name=str(record["name"]),
            path=path if path is not None and path.exists() else None,
            external_id=record.get("external_id"),
            hints=dict(record.get("hints") or {}),
            write_back=WriteBack.from_dict(record.get("write_back")),
        )


@dataclass
class WriteResult:
    """What a metadata writer did for one item."""

    writer: str
    written: bool
    message: str = ""
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: where the item's file now is, when the write moved it (a CBR converted to a CBZ)
    new_path: Path | None = None


class NewItems(NamedTuple):
    """What a source's ``scan_new`` found: the items to process, how many it listed, how many of
    those it left out as processed before and unchanged since."""

    items: Sequence[LibraryItem]
    found: int
    unchanged: int


@runtime_checkable
class LibrarySource(Protocol):
    """Something that yields comics to process. A source may also offer ``scan_new(settings, db,
    locations, *, takes, force) -> NewItems``: its new items, told from its own listing (the folder
    source does, so that a re-scan builds no item for an unchanged file)."""

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
