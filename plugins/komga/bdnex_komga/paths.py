"""From the path Komga sees (``BookDto.url``) to the path we can open.

Komga often runs in a container (``/data/bd/...``) while bdnex-core runs on the
host (``/srv/media/bd/...``). ``komga.path_map`` lists ``{komga: PREFIX, local:
PREFIX}`` pairs; the longest matching Komga prefix wins, and a prefix only
matches whole path components (``/data/bd`` does not match ``/data/bdx``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from bdnex_komga.settings import PathMapping


@dataclass(frozen=True)
class MappedPath:
    """Where a Komga path leads: ``local`` (None when nothing maps it) and whether that file exists."""

    komga: str
    local: Path | None
    mapping: PathMapping | None

    @property
    def exists(self) -> bool:
        return self.local is not None and self.local.is_file()


def _parts(path: str) -> tuple[str, ...]:
    if "\\" in path or (len(path) > 1 and path[1] == ":"):
        return PureWindowsPath(path).parts
    return PurePosixPath(path).parts


def map_path(komga_path: str, mappings: tuple[PathMapping, ...]) -> MappedPath:
    """The local path for ``komga_path``; without mappings, Komga's own path (same machine)."""
    parts = _parts(komga_path)
    best: tuple[int, PathMapping] | None = None
    for mapping in mappings:
        prefix = _parts(mapping.komga.rstrip("/\\") or "/")
        if parts[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
            best = (len(prefix), mapping)
    if best is None:
        if mappings:
            return MappedPath(komga_path, None, None)
        return MappedPath(komga_path, Path(komga_path), None)
    length, mapping = best
    return MappedPath(komga_path, Path(mapping.local).joinpath(*parts[length:]), mapping)
