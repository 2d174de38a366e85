"""Which page of an archive is its front cover, and that cover's fingerprint.

ComicInfo's ``FrontCover`` page when the file says so. Otherwise the first page that looks like a
cover: scanners often put a blank page or a credits page (their team's name on a plain background)
first, so among the first three pages a blank or mostly plain page is passed over when a later one
of them is not. A front+back spread (a page wider than tall) is fingerprinted whole and by its right
half (:mod:`.fingerprint`), so it matches the site's front cover either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bdnex_core import archives
from bdnex_core.covers.fingerprint import CoverFingerprint, fingerprint_image, open_image

if TYPE_CHECKING:
    from PIL.Image import Image

LOOK_AT_FIRST = 3  # blank and credits pages are skipped among these
BLANK_SPREAD = 6.0  # standard deviation of grey levels below which a page is blank
PLAIN_SHARE = 0.80  # a page whose background (one grey level ±12) covers this share holds text, not art
FRONT_COVER = re.compile(rb"<Page\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class ArchiveCover:
    page: str  # the archive member used
    fingerprint: CoverFingerprint
    why: str  # "ComicInfo FrontCover", "first page", "page 2 (page 1 is blank)"...


def frontcover_index(comicinfo: bytes | None) -> int | None:
    """The ``Image`` index of ComicInfo's ``<Page Type="FrontCover">``, if any."""
    for tag in FRONT_COVER.findall(comicinfo or b""):
        kinds = re.search(rb'Type\s*=\s*"([^"]*)"', tag)
        image = re.search(rb'Image\s*=\s*"(\d+)"', tag)
        if kinds and image and b"frontcover" in kinds.group(1).lower().split():
            return int(image.group(1))
    return None


def not_a_cover(image: Image) -> str | None:
    """Why this page is no cover (``blank``, ``a credits page``), or ``None``."""
    grey = image.convert("L").resize((48, 64))
    histogram = grey.histogram()
    total = sum(histogram)
    mean = sum(level * count for level, count in enumerate(histogram)) / total
    spread = (sum(count * (level - mean) ** 2 for level, count in enumerate(histogram)) / total) ** 0.5
    if spread < BLANK_SPREAD:
        return "blank"
    background = max(range(256), key=histogram.__getitem__)
    plain = sum(histogram[max(0, background - 12) : background + 13]) / total
    return "a credits page" if plain >= PLAIN_SHARE else None


def choose_cover(pages: list[str], read: Callable[[str], bytes], comicinfo: bytes | None = None) -> ArchiveCover | None:
    """The archive's cover among ``pages`` (names in reading order), read with ``read(name) -> bytes``."""
    if not pages:
        return None
    index = frontcover_index(comicinfo)
    if index is not None and 0 <= index < len(pages):
        return ArchiveCover(pages[index], fingerprint_image(open_image(read(pages[index]))), "ComicInfo FrontCover")
    skipped: list[str] = []
    first: tuple[str, Image] | None = None
    for position, name in enumerate(pages[:LOOK_AT_FIRST], start=1):
        image = open_image(read(name))
        first = first or (name, image)
        reason = not_a_cover(image)
        if reason is None:
            why = f"page {position} ({'; '.join(skipped)})" if skipped else "first page"
            return ArchiveCover(name, fingerprint_image(image), why)
        skipped.append(f"page {position} is {reason}")
    assert first is not None
    return ArchiveCover(
        first[0], fingerprint_image(first[1]), f"first page ({'; '.join(skipped)}; none looks like art)"
    )


def archive_cover(path: Path) -> ArchiveCover | None:
    """The cover of the archive at ``path`` (``None``: no image page)."""
    with archives.open_archive(path) as comic:
        return choose_cover(comic.pages(), comic.read_member, comic.comicinfo_bytes())
