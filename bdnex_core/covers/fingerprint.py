"""A cover's fingerprint: two 64-bit perceptual hashes, and the verdict of comparing two of them.

Why these two: on the real pair we hold (a 2560×3591 scan of Nains tome 1 with a sticker, the
site's covers of tomes 1 and 3: same series, same logo, layout and palette) the DCT hash (pHash)
puts the same album at 6 bits of 64 and the other tome at 26–28, the gradient hash (dHash) at 4
against 29–31; colour hashes cannot tell them apart. The generated benchmark
(``benchmarks/bench_cover.py``) sets the thresholds below on 2,000+ covers and their derived scans.

Both hashes are computed in pure Python over a 32×32 (pHash) and 9×8 (dHash) grey thumbnail that
Pillow makes; only the 8×8 low frequencies of the DCT are needed, which is ~10k multiplications, a
millisecond. A JPEG is decoded in draft mode (the decoder's own 1/2–1/8 scaling), so a full-page scan
costs a few milliseconds instead of a full decode.

A fingerprint may hold several *views*: a front+back spread (a page wider than tall) holds the
whole page and its right half (the front cover); a site's cover (the reference, uncropped) holds
itself and eight crops of 2–4.5 % from its sides, as a scan trims them; two fingerprints are as
close as their closest views (on the benchmark the crops take the worst same-album distance from 31
to 27 and leave other albums above 31). Stored as text (``c1:`` then 32 hex digits per view), with the file's record and the album
cache.
"""

from __future__ import annotations

import enum
import io
import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from PIL.Image import Image

VERSION = "c1"
BITS = 64
PHASH_SIDE = 32  # the thumbnail of the DCT; its 8×8 lowest frequencies make the hash
DRAFT_SIDE = 64  # JPEG draft decoding scales down while both sides stay at least this
SPREAD_RATIO = 1.1  # a page this much wider than tall is a front+back spread
WORK_SIDE = 160  # views are cut from a grey copy this size at most (cheap crops, same hashes)
# the crops of a reference cover's views: share cut from (left, top, right, bottom)
REFERENCE_CROPS = (
    (0.0, 0.0, 0.0, 0.0),
    (0.03, 0.03, 0.0, 0.0),
    (0.0, 0.0, 0.03, 0.03),
    (0.03, 0.0, 0.0, 0.03),
    (0.0, 0.03, 0.03, 0.0),
    (0.03, 0.0, 0.03, 0.0),
    (0.0, 0.03, 0.0, 0.03),
    (0.02, 0.02, 0.02, 0.02),
    (0.045, 0.045, 0.0, 0.0),
)

# Verdicts on the sum of both distances (0–128), set on the generated benchmark where same-album
# scans reach ~30 at worst and other albums of a series start ~40 (see the benchmark's figures):
SAME_AT_MOST = 26  # clearly the same cover
DIFFERENT_FROM = 40  # clearly another cover; in between: unsure, it decides nothing


class Verdict(enum.StrEnum):
    SAME = "same"
    DIFFERENT = "different"
    UNSURE = "unsure"


@dataclass(frozen=True)
class CoverHash:
    """One view's hashes."""

    phash: int
    dhash: int

    def distance(self, other: CoverHash) -> tuple[int, int]:
        return (self.phash ^ other.phash).bit_count(), (self.dhash ^ other.dhash).bit_count()


@dataclass(frozen=True)
class CoverFingerprint:
    views: tuple[CoverHash, ...]

    def to_text(self) -> str:
        return VERSION + ":" + ",".join(f"{view.phash:016x}{view.dhash:016x}" for view in self.views)

    @classmethod
    def from_text(cls, text: str) -> CoverFingerprint | None:
        """The fingerprint stored as ``text``; ``None`` for another version or damaged text (recomputed)."""
        version, _, body = (text or "").partition(":")
        if version != VERSION or not body:
            return None
        try:
            views = tuple(CoverHash(int(part[:16], 16), int(part[16:], 16)) for part in body.split(","))
        except ValueError:
            return None
        if any(len(part) != 32 for part in body.split(",")):
            return None
        return cls(views)


@dataclass(frozen=True)
class CoverComparison:
    phash_distance: int
    dhash_distance: int

    @property
    def distance(self) -> int:
        """Both distances added: 0 (identical) to 128."""
        return self.phash_distance + self.dhash_distance

    @property
    def verdict(self) -> Verdict:
        if self.distance <= SAME_AT_MOST:
            return Verdict.SAME
        if self.distance >= DIFFERENT_FROM:
            return Verdict.DIFFERENT
        return Verdict.UNSURE

    def describe(self) -> str:
        """``same (distance 6 of 64)``: the pHash distance a person can weigh, then the gradient's."""
        return f"{self.verdict} (distance {self.phash_distance} of {BITS}; gradient {self.dhash_distance} of {BITS})"


def compare(first: CoverFingerprint, second: CoverFingerprint) -> CoverComparison:
    """Two fingerprints as close as their closest views."""
    pairs = (one.distance(other) for one in first.views for other in second.views)
    phash, dhash = min(pairs, key=lambda pair: (pair[0] + pair[1], pair[0]))
    return CoverComparison(phash, dhash)


class CoverImageError(ValueError):
    """Bytes that are no image Pillow can read."""


def open_image(data: bytes, *, draft_side: int = DRAFT_SIDE) -> Image:
    """The image of ``data``, decoded small when it is a JPEG (draft mode), upright (EXIF), in RGB."""
    try:
        opened = PILImage.open(io.BytesIO(data))
        if opened.format == "JPEG":
            opened.draft("RGB", (draft_side, draft_side))
        return ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PILImage.DecompressionBombError) as exc:
        raise CoverImageError(f"not a readable image ({exc})") from None


def fingerprint_bytes(data: bytes, *, reference: bool = False) -> CoverFingerprint:
    """The fingerprint of an image file's bytes: a page of an archive (a spread: the whole and its
    right half), or with ``reference`` a site's cover (itself and its crops)."""
    return fingerprint_image(open_image(data), reference=reference)


def fingerprint_image(image: Image, *, reference: bool = False) -> CoverFingerprint:
    grey = image.convert("L")
    if max(grey.size) > WORK_SIDE:
        grey.thumbnail((WORK_SIDE, WORK_SIDE), PILImage.Resampling.BOX)
    width, height = grey.size
    crops: tuple[tuple[float, float, float, float], ...]
    if reference:
        crops = REFERENCE_CROPS
    elif width > height * SPREAD_RATIO:
        crops = ((0.0, 0.0, 0.0, 0.0), (0.5, 0.0, 0.0, 0.0))
    else:
        crops = ((0.0, 0.0, 0.0, 0.0),)
    views = []
    for left, top, right, bottom in crops:
        box = (round(width * left), round(height * top), round(width * (1 - right)), round(height * (1 - bottom)))
        views.append(hash_view(grey.crop(box) if box != (0, 0, width, height) else grey))
    return CoverFingerprint(tuple(views))


def hash_view(grey: Image) -> CoverHash:
    """The hashes of one grey image."""
    small = list(grey.resize((PHASH_SIDE, PHASH_SIDE), PILImage.Resampling.LANCZOS).tobytes())
    gradient = list(grey.resize((9, 8), PILImage.Resampling.LANCZOS).tobytes())
    return CoverHash(_phash(small), _dhash(gradient))


@cache
def _cosines() -> tuple[tuple[float, ...], ...]:
    """cos(π(2n+1)k / 2N) for the 8 lowest frequencies k of an N=32 DCT-II."""
    side = PHASH_SIDE
    return tuple(tuple(math.cos(math.pi * (2 * n + 1) * k / (2 * side)) for n in range(side)) for k in range(8))


def _phash(pixels: list[int]) -> int:
    """The 8×8 lowest DCT frequencies of a 32×32 grey image, each bit: above their median."""
    side = PHASH_SIDE
    cosines = _cosines()
    rows = [pixels[row * side : (row + 1) * side] for row in range(side)]
    # DCT along each row (8 frequencies kept), then down each of those 8 columns
    by_row = [[sum(c * p for c, p in zip(cosine, row, strict=True)) for cosine in cosines] for row in rows]
    low = [
        sum(c * by_row[n][u] for n, c in enumerate(cosine))  # frequency (v, u)
        for cosine in cosines
        for u in range(8)
    ]
    median = sorted(low)[len(low) // 2 - 1 : len(low) // 2 + 1]
    threshold = (median[0] + median[1]) / 2
    return _bits(value > threshold for value in low)


def _dhash(pixels: list[int]) -> int:
    """Each pixel of a 9×8 grey image against its right neighbour."""
    return _bits(pixels[row * 9 + col + 1] > pixels[row * 9 + col] for row in range(8) for col in range(8))


def _bits(flags: object) -> int:
    value = 0
    for flag in flags:  # type: ignore[attr-defined]
        value = (value << 1) | int(bool(flag))
    return value
