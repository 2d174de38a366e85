"""From the path Kavita sees (``MangaFileDto.filePath``) to the path we can open.

Kavita usually runs in a container (``/comics/BD/...``) while bdnex-core runs on the host
(``/srv/media/bd/...``). ``kavita.path_map`` lists ``{kavita: PREFIX, local: PREFIX}`` pairs;
the longest matching prefix wins, and a prefix only matches whole path components
(``/comics/bd`` does not match ``/comics/bdx``). Kavita normalises its paths to forward
slashes, Windows drives included (``C:/Comics/...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from bdnex_kavita.settings import PathMapping


@dataclass(frozen=True)
class MappedPath:
    """Where a Kavita path leads: ``local`` (None when no mapping covers it)."""

    kavita: str
    local: Path | None
    mapping: PathMapping | None

    @property
    def exists(self) -> bool:
        return self.local is not None and self.local.is_file()


def _parts(path: str) -> tuple[str, ...]:
    if "\\" in path or (len(path) > 1 and path[1] == ":"):
        return PureWindowsPath(path).parts
    return PurePosixPath(path).parts


def map_path(kavita_path: str, mappings: tuple[PathMapping, ...]) -> MappedPath:
    """The local path for ``kavita_path``; without mappings, Kavita's own path (same machine)."""
    parts = _parts(kavita_path)
    best: tuple[int, PathMapping] | None = None
    for mapping in mappings:
        prefix = _parts(mapping.kavita.rstrip("/\\") or "/")
        if parts[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
            best = (len(prefix), mapping)
    if best is None:
        return MappedPath(kavita_path, None if mappings else Path(kavita_path), None)
    length, mapping = best
    return MappedPath(kavita_path, Path(mapping.local).joinpath(*parts[length:]), mapping)
