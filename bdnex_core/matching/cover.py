"""Perceptual hashes of cover images (Pillow only), to tell close candidates apart.

A scanned or photographed cover differs from the site's cover in size, crop, colour and
compression, so byte hashes are useless; a difference hash (dHash: is each pixel brighter
than its right neighbour, on a small grey thumbnail) survives those changes. An average
hash (aHash) is combined with it: each catches cases the other misses.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from bdnex_core.errors import ParseError

HASH_SIDE = 8  # 8 x 8 = 64 bits per hash


@dataclass(frozen=True)
class CoverHash:
    dhash: int
    ahash: int

    def to_hex(self) -> str:
        return f"{self.dhash:016x}{self.ahash:016x}"

    @classmethod
    def from_hex(cls, text: str) -> CoverHash:
        return cls(int(text[:16], 16), int(text[16:32], 16))


def _grey_thumbnail(image: Image.Image, width: int, height: int) -> list[int]:
    image = ImageOps.exif_transpose(image).convert("L")
    # trim a uniform border (scanner margins) before shrinking; keep the image if that trims it all
    box = ImageOps.invert(image).getbbox() if image.getextrema()[1] == 255 else None
    if box and (box[2] - box[0]) * (box[3] - box[1]) > 0.5 * image.width * image.height:
        image = image.crop(box)
    return list(image.resize((width, height), Image.Resampling.LANCZOS).tobytes())  # mode L: one byte a pixel


def hash_image(image: Image.Image) -> CoverHash:
    wide = _grey_thumbnail(image, HASH_SIDE + 1, HASH_SIDE)
    dhash = 0
    for row in range(HASH_SIDE):
        for column in range(HASH_SIDE):
            left = wide[row * (HASH_SIDE + 1) + column]
            right = wide[row * (HASH_SIDE + 1) + column + 1]
            dhash = (dhash << 1) | (1 if left > right else 0)
    square = _grey_thumbnail(image, HASH_SIDE, HASH_SIDE)
    mean = sum(square) / len(square)
    ahash = 0
    for value in square:
        ahash = (ahash << 1) | (1 if value > mean else 0)
    return CoverHash(dhash, ahash)


def hash_cover(source: bytes | str | Path) -> CoverHash:
    """Hash an image given as bytes or a file path; :class:`ParseError` if it is not an image."""
    try:
        if isinstance(source, bytes):
            with Image.open(io.BytesIO(source)) as image:
                return hash_image(image)
        with Image.open(source) as image:
            return hash_image(image)
    except (UnidentifiedImageError, OSError) as error:
        where = None if isinstance(source, bytes) else str(source)
        raise ParseError(f"not a readable cover image: {error}", path=where) from error


def similarity(first: CoverHash, second: CoverHash) -> float:
    """1.0 for identical hashes, about 0.5 for unrelated images, 0 for opposites."""
    distance = bin(first.dhash ^ second.dhash).count("1") + bin(first.ahash ^ second.ahash).count("1")
    return 1.0 - distance / (2 * HASH_SIDE * HASH_SIDE)
