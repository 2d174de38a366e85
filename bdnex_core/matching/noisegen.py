"""File names carrying the noise of real collections, one generator per convention (for the evaluation).

:mod:`namegen` writes the tidy names collectors give their files. Names found in the wild are
messier, and each mess is a way to read the wrong album: a roman tome (``Tome VI``), a scene
release (``Série.T01.Titre.FRENCH.CBZ.eBook-Team``), the series in brackets (``[Série] T94 - Titre
(scan fr)``), ``Vol. 13``, a letter mistyped in the series, numbers inside the title (``Part 1``,
``1914-1918``), ``T.1`` and lettered tomes. Each convention is a function of one album that returns
a name, or None when the album cannot be written that way (no roman numeral for tome 45).

``contradicting`` is not a convention but a trap: the right series and tome with the title of
another album of the series; such a name must never be matched automatically.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from bdnex_core.matching.namegen import restore_spelling

ROMAN_NUMERALS = ("I", "V", "X")
TEAMS = ("NoTag", "BDFR", "Papyrus", "Zmg", "TAGADA", "GZR")
TAIL_TAGS = ("[Digital-1920]", "(HD)", "FRENCH", "CBZ", "(scan fr)", "[Digital]", "FRENCH CBZ", "(Digital-Empire)")
REGULAR_TOME = re.compile(r"^(?P<num>\d{1,3})(?P<letter>[a-z]?)$")


def roman(number: int) -> str:
    """1..39 in roman numerals (I, IV, XIX, XXX)."""
    tens, units = divmod(number, 10)
    ones = ("", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX")
    return "X" * tens + ones[units]


def _regular(tome: str | None) -> tuple[int, str] | None:
    match = REGULAR_TOME.match(tome or "")
    return (int(match["num"]), match["letter"]) if match else None


def _typo(series: str, rng: random.Random) -> str | None:
    """One letter substituted, dropped or doubled, inside a word long enough to stay recognisable."""
    positions = [i for i, ch in enumerate(series) if ch.isalpha() and i > 0 and series[i - 1].isalpha()]
    if len(series.replace(" ", "")) < 8 or not positions:
        return None
    i = rng.choice(positions)
    kind = rng.randrange(3)
    if kind == 0:
        letter = rng.choice([ch for ch in "aeioulnrst" if ch != series[i].lower()])
        return series[:i] + letter + series[i + 1 :]
    if kind == 1:
        return series[:i] + series[i + 1 :]
    return series[:i] + series[i] + series[i:]


def _dots(text: str) -> str:
    return re.sub(r"[\s.]+", ".", text.replace("'", " ")).strip(".")


Convention = Callable[[str, int, str, str, random.Random], str | None]


def roman_tome(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    if not 1 <= number <= 30 or letter:
        return None
    form = rng.choice(("Tome", "Tome", "T", "Vol", "Volume", "Livre", "#", "n°"))
    marker = f"{form}{roman(number)}" if form == "#" else f"{form} {roman(number)}"
    layouts = [f"{series} - {marker} - {title}", f"{series} {marker} - {title}", f"{series} - {marker}"]
    return rng.choice(layouts if title else layouts[2:])


def scene(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    tome = rng.choice((f"T{number:02d}{letter}", f"T{number}{letter}", f"Tome.{number}{letter}"))
    tags = rng.choice(("FRENCH.CBZ.eBook", "FRENCH.COMIC.CBZ.eBook", "FRENCH.CBR.eBook", "FRENCH.PDF.eBook"))
    return ".".join(filter(None, (_dots(series), tome, _dots(title), tags))) + "-" + rng.choice(TEAMS)


def bracketed_series(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    tome = rng.choice((f"T{number:02d}{letter}", f"T{number}{letter}", f"Tome {number}{letter}"))
    tail = rng.choice(("(scan fr)", "[Digital]", "(FR)", "", "(c2c)"))
    return f"[{series}] {tome} - {title} {tail}".strip() if title else f"[{series}] {tome} {tail}".strip()


def volume(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    form = rng.choice((f"Vol. {number}{letter}", f"Vol.{number:02d}{letter}", f"Vol {number}{letter}"))
    return rng.choice((f"{series} {form} - {title}", f"{series} - {form} - {title}")) if title else f"{series} {form}"


def typo_in_series(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    typed = _typo(series, rng)
    if typed is None:
        return None
    tome = rng.choice((f"T{number:02d}{letter}", f"Tome {number}{letter}"))
    return f"{typed} - {tome} - {title}" if title else f"{typed} - {tome}"


def title_numbers(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    if not re.search(r"\d|\bPart\b|\bPartie\b", title, re.IGNORECASE):
        return None
    tome = rng.choice(
        (f"T{number:02d}{letter}", f"Tome {number}{letter}")
        + ((f"Tome {roman(number)}",) if 1 <= number <= 30 and not letter else ())
    )
    return rng.choice((f"{series} - {tome} - {title}", f"{series} {tome} - {title}"))


def dotted_and_lettered(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    tome = rng.choice((f"T.{number}{letter}", f"T. {number}{letter}", f"Tome {number:02d}{letter}"))
    return f"{series} {tome} - {title}" if title else f"{series} {tome}"


def release_tags(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    tags = " ".join(rng.sample(TAIL_TAGS, rng.randint(1, 3)))
    base = f"{series} - T{number:02d}{letter} - {title}" if title else f"{series} - T{number:02d}{letter}"
    return rng.choice((f"{base} {tags}", f"{base} {tags} - {rng.choice(TEAMS)}", f"{base} {tags}-{rng.choice(TEAMS)}"))


CONVENTIONS: dict[str, Convention] = {
    "roman tome": roman_tome,
    "scene release": scene,
    "[series] bracketed": bracketed_series,
    "Vol. N": volume,
    "series typo": typo_in_series,
    "numbers in title": title_numbers,
    "T.N / lettered": dotted_and_lettered,
    "release tags": release_tags,
}


def noisy_name(convention: str, series: str, tome: str | None, title: str | None, *, rng: random.Random) -> str | None:
    """A name for one album (series and title as a person types them) in ``convention``, with an
    extension; None when the album cannot be written so (only regular tomes are)."""
    regular = _regular(tome)
    if regular is None:
        return None
    series = restore_spelling(series.strip(), rng)
    title = restore_spelling(title.strip(), rng) if title else ""
    name = CONVENTIONS[convention](series, regular[0], regular[1], title, rng)
    return None if name is None else name + rng.choice((".cbz", ".cbz", ".cbr", ".CBZ"))


def contradicting_name(series: str, tome: str, other_title: str, *, rng: random.Random) -> str | None:
    """The right series and tome, another album's title: a name that contradicts itself."""
    regular = _regular(tome)
    if regular is None or not other_title:
        return None
    series = restore_spelling(series.strip(), rng)
    number, letter = regular
    marker = rng.choice((f"T{number:02d}{letter}", f"Tome {number}{letter}"))
    return f"{series} - {marker} - {restore_spelling(other_title, rng)}.cbz"
