"""Sample comic libraries: CBZ files with generated pages, named as collectors name them.

Used by the demo, the end-to-end tests and the batch benchmark. Each file comes with
what it should become (the album id, or ``None`` for an album absent from the
catalogue), so tests can check the outcome.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from bdnex_core.matching.namegen import realistic_names


@dataclass(frozen=True)
class CatalogueAlbum:
    album_id: int
    series: str
    tome: str | None
    title: str | None


@dataclass(frozen=True)
class SampleFile:
    path: Path
    expected_album_id: int | None  # None: not in the catalogue, must not be tagged automatically
    kind: str = "present"  # present, absent, broken


def page_jpeg(text: str, *, size: tuple[int, int] = (240, 320), seed: int = 0, quality: int = 70) -> bytes:
    """A small JPEG page with a coloured background and a caption (deterministic)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(60, 230) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle(
            (x0, y0, x0 + rng.randrange(20, 90), y0 + rng.randrange(20, 90)),
            fill=tuple(rng.randrange(256) for _ in range(3)),
        )
    draw.text((10, 10), text[:40], fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_cbz(
    path: Path,
    pages: Sequence[bytes],
    *,
    page_names: Sequence[str] | None = None,
    compression: int = zipfile.ZIP_STORED,
    extra_members: Iterable[tuple[str, bytes]] = (),
) -> Path:
    """A CBZ with the given page images (stored, as most scans are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = page_names or [f"page{number:03d}.jpg" for number in range(1, len(pages) + 1)]
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in zip(names, pages, strict=True):
            archive.writestr(name, data)
        for name, data in extra_members:
            archive.writestr(name, data)
    return path


def sample_pages(label: str, count: int, seed: int) -> list[bytes]:
    return [page_jpeg(f"{label} p{number}", seed=seed * 100 + number) for number in range(count)]


def _file_name(album: CatalogueAlbum, rng: random.Random) -> str:
    """A realistic file name for the album, in one of the conventions collectors use."""
    name = rng.choice(realistic_names(album.series, album.tome, album.title, rng=rng))
    return name if name.lower().endswith((".cbz", ".cbr", ".cb7")) else f"{name}.cbz"


def build_library(
    folder: Path,
    present: Sequence[CatalogueAlbum],
    absent: Sequence[CatalogueAlbum] = (),
    *,
    broken: int = 1,
    pages_per_file: int = 4,
    seed: int = 2026,
) -> list[SampleFile]:
    """Write a library of CBZ files into ``folder``; return each file with its expected album."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[SampleFile] = []
    used: set[str] = set()
    for kind, albums in (("present", present), ("absent", absent)):
        for album in albums:
            name = _file_name(album, rng)
            stem = Path(name).stem
            while f"{album.series}/{name}".lower() in used:
                name = f"{stem} ({len(used)}).cbz"
            used.add(f"{album.series}/{name}".lower())
            # one folder per series, as most libraries are sorted (and "T01.cbz" names need it)
            path = write_cbz(
                folder / _safe_folder(album.series) / name, sample_pages(stem, pages_per_file, album.album_id)
            )
            files.append(SampleFile(path, album.album_id if kind == "present" else None, kind))
    for number in range(broken):
        path = folder / f"Archive abimee {number + 1} - T01.cbz"
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w") as archive:
            for index, page in enumerate(sample_pages("broken", 2, number)):
                archive.writestr(f"{index:03d}.jpg", page)
        path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])  # truncated: no central directory
        files.append(SampleFile(path, None, "broken"))
    return files


def _safe_folder(series: str) -> str:
    return "".join(ch for ch in series if ch not in '/\\:*?"<>|').strip() or "BD"
