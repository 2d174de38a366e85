"""Generated covers, and scans derived from them, for the fake site, the cover benchmark and tests.

A real series shares a layout across its albums (logo band, palette, lettering) and each album has
its own art: exactly what makes "another tome of the same series" the hard case for a cover
comparison. So a generated cover is drawn from two seeds: the series' (band place and height, palette,
logo lettering) and the album's (its art: a sky, a ground, figures, shapes in the series' palette).
An edition keeps the album's art and may change the band's colour, the lettering or the colours.

A *scan* is what a file holds: the printed cover photographed or scanned, so cropped (up to 6 %),
slightly rotated (up to 2°), resized, shifted in colour and gamma, saved as JPEG at quality 40–95,
noisy, sometimes with a price sticker, sometimes as a front+back spread, sometimes after a blank or
a credits page. Everything is deterministic from its seeds; Pillow only, drawn at 300×420.
"""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image as PILImage
from PIL import ImageDraw

if TYPE_CHECKING:
    from PIL.Image import Image

SIZE = (300, 420)


@dataclass(frozen=True)
class Edition:
    """How an edition differs from the first one (all False/0: the first edition itself)."""

    band_colour: bool = False  # another colour for the logo band
    lettering: bool = False  # another title lettering
    colours: float = 0.0  # a colour cast (0: none; 0.1–0.3 for a re-coloured edition)


def album_cover_seeds(series_slug: str, album_id: int, first_edition: int) -> tuple[int, int, Edition]:
    """The seeds of a catalogue album's generated cover (the fake site's and the cover benchmarks'):
    its series' layout from the series' slug, its art from its own id; a re-edition keeps its first
    edition's art with the band re-coloured, except one in three (by id) that has art of its own."""
    series_seed = zlib.crc32(series_slug.encode())
    if album_id == first_edition or zlib.crc32(f"{album_id}art".encode()) % 3 == 0:
        return series_seed, album_id, Edition()
    return series_seed, first_edition, Edition(band_colour=True)


def _colour(rng: random.Random, base: tuple[int, int, int] | None = None, spread: int = 255) -> tuple[int, int, int]:
    if base is None:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    return tuple(max(0, min(255, channel + rng.randint(-spread, spread))) for channel in base)  # type: ignore[return-value]


def cover_image(series_seed: int, album_seed: int, edition: Edition = Edition(), size: tuple[int, int] = SIZE) -> Image:
    """The cover of album ``album_seed`` of series ``series_seed`` (as the site shows it)."""
    width, height = SIZE
    series = random.Random(series_seed * 7919 + 17)
    palette = [_colour(series) for _ in range(4)]
    band_top = series.random() < 0.6
    band_height = int(height * series.uniform(0.14, 0.24))
    band_colour = palette[0]
    letters = series.randint(5, 12)
    glyphs = [(series.randint(2, 5), series.random()) for _ in range(letters)]
    art = random.Random(album_seed * 104729 + 3)
    image = PILImage.new("RGB", SIZE, _colour(art, palette[1], 60))
    draw = ImageDraw.Draw(image)
    # the album's art: a sky gradient band, a ground, then figures and shapes in the series' palette
    horizon = art.randint(height // 3, height * 2 // 3)
    sky, ground = _colour(art, palette[2], 90), _colour(art, palette[3], 90)
    for y in range(0, horizon, 6):
        mix = y / horizon
        draw.rectangle(
            (0, y, width, y + 6), fill=tuple(int(s * (1 - mix) + g * mix) for s, g in zip(sky, ground, strict=True))
        )
    draw.rectangle((0, horizon, width, height), fill=ground)
    for _ in range(art.randint(6, 14)):
        x, y = art.randrange(width), art.randrange(height)
        w, h = art.randint(20, 140), art.randint(20, 160)
        fill = _colour(art, art.choice(palette), 110)
        kind = art.random()
        if kind < 0.4:
            draw.ellipse((x - w // 2, y - h // 2, x + w // 2, y + h // 2), fill=fill)
        elif kind < 0.75:
            points = [(x + art.randint(-w, w), y + art.randint(-h, h)) for _ in range(art.randint(3, 6))]
            draw.polygon(points, fill=fill)
        else:
            draw.rectangle((x, y, x + w // 2, y + h), fill=fill)
    for _ in range(art.randint(1, 3)):  # figures: a head and a body, the art's subject
        x, y = art.randint(40, width - 40), art.randint(height // 3, height - 60)
        scale = art.uniform(0.6, 1.6)
        body = _colour(art)
        draw.ellipse(
            (x - 14 * scale, y - 70 * scale, x + 14 * scale, y - 42 * scale), fill=_colour(art, (230, 190, 160), 30)
        )
        draw.polygon(
            [(x - 26 * scale, y + 40 * scale), (x, y - 44 * scale), (x + 26 * scale, y + 40 * scale)], fill=body
        )
    # the series' band and lettering, changed by an edition as asked
    if edition.band_colour:
        band_colour = _colour(random.Random(album_seed + 7), band_colour, 120)
    band = (0, 0, width, band_height) if band_top else (0, height - band_height, width, height)
    draw.rectangle(band, fill=band_colour)
    if edition.lettering:
        glyphs = [
            (random.Random(album_seed + i).randint(2, 5), random.Random(album_seed - i).random())
            for i in range(letters)
        ]
    ink = palette[1] if sum(band_colour) > 380 else (250, 245, 235)
    x = 14
    top = band[1] + band_height // 5
    for strokes, tall in glyphs:
        glyph_width = strokes * 5
        if x + glyph_width > width - 10:
            break
        for stroke in range(strokes):
            draw.rectangle(
                (x + stroke * 5, top + int(tall * 10), x + stroke * 5 + 3, band[3] - band_height // 5), fill=ink
            )
        x += glyph_width + 6
    # the album's title lettering under the band (each album's own)
    title_y = band[3] + 8 if band_top else band[1] - 26
    for index in range(art.randint(4, 9)):
        draw.rectangle((20 + index * 18, title_y, 32 + index * 18, title_y + 14), fill=ink)
    if edition.colours:
        image = _colour_cast(image, edition.colours, album_seed)
    return image if size == SIZE else image.resize(size)


def _colour_cast(image: Image, strength: float, seed: int) -> Image:
    rng = random.Random(seed + 31)
    factors = [1 + rng.uniform(-strength, strength) for _ in range(3)]
    channels = [
        channel.point(lambda value, f=factor: min(255, int(value * f)))
        for channel, factor in zip(image.split(), factors, strict=True)
    ]

    return PILImage.merge("RGB", channels)


def jpeg(image: Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


@dataclass(frozen=True)
class ScanRecipe:
    """The defects of one derived scan (chosen by :func:`scan_recipe` from a seed)."""

    crop: tuple[float, float, float, float]  # share cut from left, top, right, bottom
    rotation: float  # degrees
    width: int  # resized to this width
    gamma: float
    cast: float
    quality: int
    noise: int  # amplitude of the noise added
    sticker: bool
    spread: bool  # a front+back spread (the back cover on the left)
    first_page: str  # "", "blank" or "credits": what comes before the cover in the archive


def scan_recipe(seed: int) -> ScanRecipe:
    rng = random.Random(seed)
    total_crop = rng.uniform(0, 0.06)
    shares = [rng.random() for _ in range(4)]
    crop = tuple(total_crop * share / sum(shares) * 2 for share in shares)  # up to 6 % per axis, in all
    return ScanRecipe(
        crop=crop,  # type: ignore[arg-type]
        rotation=rng.uniform(-2, 2),
        width=rng.choice((220, 300, 480, 650, 900, 1400)),
        gamma=rng.uniform(0.75, 1.35),
        cast=rng.uniform(0, 0.12),
        quality=rng.randint(40, 95),
        noise=rng.choice((0, 0, 6, 12, 20)),
        sticker=rng.random() < 0.3,
        spread=rng.random() < 0.1,
        first_page=rng.choice(("", "", "", "blank", "credits")),
    )


def scan_of(cover: Image, recipe: ScanRecipe, seed: int) -> Image:
    """The printed cover as a scanner or a camera gives it back."""
    rng = random.Random(seed)
    width, height = cover.size
    left, top, right, bottom = recipe.crop
    image = cover.crop((int(width * left), int(height * top), int(width * (1 - right)), int(height * (1 - bottom))))
    image = image.rotate(recipe.rotation, resample=PILImage.Resampling.BICUBIC, expand=False, fillcolor=(245, 245, 240))
    if recipe.sticker:  # a price sticker on a corner
        draw = ImageDraw.Draw(image)
        w, h = image.size
        x, y = rng.choice(((w * 0.65, h * 0.82), (w * 0.05, h * 0.05), (w * 0.7, h * 0.04)))
        draw.rectangle((x, y, x + w * 0.22, y + h * 0.1), fill=(250, 250, 250), outline=(200, 30, 30), width=2)
        draw.rectangle((x + 6, y + 8, x + w * 0.16, y + 16), fill=(20, 20, 20))
    image = image.point([min(255, int(255 * (value / 255) ** recipe.gamma)) for value in range(256)] * 3)
    if recipe.cast:
        image = _colour_cast(image, recipe.cast, seed)
    target_height = int(recipe.width * image.size[1] / image.size[0])
    image = image.resize((recipe.width, target_height), PILImage.Resampling.BILINEAR)
    if recipe.noise:
        noise = PILImage.effect_noise(image.size, recipe.noise * 4).convert("RGB")
        image = PILImage.blend(image, noise, recipe.noise / 100)
    if recipe.spread:  # the back cover (another drawing) on the left, the front on the right
        back = cover_image(seed + 11, seed + 13).resize(image.size).point(lambda value: value // 2 + 100)
        spread = PILImage.new("RGB", (image.size[0] * 2, image.size[1]))
        spread.paste(back, (0, 0))
        spread.paste(image, (image.size[0], 0))
        image = spread
    return image


def blank_page(size: tuple[int, int] = (600, 840)) -> Image:
    return PILImage.effect_noise(size, 3).convert("RGB").point(lambda value: 250 + value % 4)


def credits_page(seed: int, size: tuple[int, int] = (600, 840)) -> Image:
    """A scanner team's page: a few lines of text on a plain background, a small logo."""
    rng = random.Random(seed)
    background = rng.choice(((255, 255, 255), (10, 10, 10), (240, 235, 220)))
    image = PILImage.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    ink = (30, 30, 30) if sum(background) > 380 else (230, 230, 230)
    for line in range(rng.randint(3, 8)):
        y = 200 + line * 40
        draw.rectangle((120, y, 120 + rng.randint(120, 360), y + 14), fill=ink)
    draw.ellipse((250, 60, 350, 160), fill=_colour(rng))
    return image
