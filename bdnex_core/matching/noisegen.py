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


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


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
    name = ALL_CONVENTIONS[convention](series, regular[0], regular[1], title, rng)
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


# ---------------------------------------------------------------- conventions no parser rule was written for at first

AUTHORS = _words(
    "Morvan Dorison Jarry Goux Vatine Cauvin Lambil Hermann Rosinski Vance Franquin Jacobs Peyo Janry Dufaux "
    "Delaby Arleston Tarquin Mourier Bourgeon Loisel Tillier Sfar Blain Larcenet Trondheim Bilal Moebius Giraud "
    "Charlier Hubinon Leloup Walthery Cosey Derib Pellerin Rossi Corbeyran Istin Ersel Bec Peru Lupano Cauuet"
)
EDITION_NOTES = (
    "(rééd. {year})",
    "rééd. {year}",
    "- EO",
    "(EO)",
    "édition spéciale",
    "(N&B)",
    "N&B",
    "- édition originale",
)
PREFIX_TAGS = ("FR - ", "BD - ", "BD.FR.", "FR.", "BD FR ")
CARDINAL_WORDS = _words("un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize")
ORDINAL_WORDS = _words(
    "premier deuxième troisième quatrième cinquième sixième septième huitième neuvième dixième onzième douzième"
)


def _marker(number: int, letter: str, rng: random.Random) -> str:
    return rng.choice((f"T{number:02d}{letter}", f"T{number}{letter}", f"Tome {number}{letter}"))


def authors_after(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    if not title:
        return None
    authors = " - ".join(rng.sample(AUTHORS, rng.randint(1, 2)))
    return f"{series} - {_marker(number, letter, rng)} - {title} - {authors}"


def authors_in_front(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    author = rng.choice(AUTHORS)
    base = f"{author} - {series} - {_marker(number, letter, rng)}"
    return f"{base} - {title}" if title else base


def edition_words(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    note = rng.choice(EDITION_NOTES).format(year=rng.randint(1990, 2024))
    base = f"{series} - {_marker(number, letter, rng)}" + (f" - {title}" if title else "")
    return f"{base} {note}"


def tome_of_total(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    total = number + rng.randint(0, 200)
    tome = rng.choice(
        (f"Tome {number}{letter} sur {total}", f"T{number}{letter} de {total}", f"Tome {number} sur {total}")
    )
    if letter and "{letter}" not in tome:
        tome = f"Tome {number}{letter} sur {total}"
    return f"{series} - {tome} - {title}" if title else f"{series} {tome}"


def tome_in_words(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    if letter or not 1 <= number <= len(CARDINAL_WORDS):
        return None
    forms = [f"Tome {CARDINAL_WORDS[number - 1]}", f"Livre {CARDINAL_WORDS[number - 1]}"]
    if number <= len(ORDINAL_WORDS):
        forms += [f"{ORDINAL_WORDS[number - 1]} tome", f"Tome {ORDINAL_WORDS[number - 1]}" if number == 1 else ""]
    tome = rng.choice([form for form in forms if form])
    return f"{series} - {tome} - {title}" if title else f"{series} - {tome}"


def prefix_tags(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    tag = rng.choice(PREFIX_TAGS)
    if tag.endswith("."):
        return tag + ".".join(filter(None, (_dots(series), f"T{number:02d}{letter}", _dots(title))))
    return f"{tag}{series} - T{number:02d}{letter}" + (f" - {title}" if title else "")


def _camel(text: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[\s'’-]+", text) if word)


def run_together(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    if not re.fullmatch(r"[A-Za-zÀ-ÿ'’ -]+", series + " " + title) or letter:
        return None
    # the title as typed in a hurry: capitals only where words began, some words left glued
    glued = "".join(
        word if rng.random() < 0.4 else word[:1].upper() + word[1:] for word in re.split(r"[\s'’-]+", title)
    )
    return f"{_camel(series)}{number:02d}{glued[:1].upper()}{glued[1:]}"


def four_digits(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    return f"{series} - {number:04d}{letter}" + (f" - {title}" if title else "")


def swapped(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    if not title:
        return None
    return rng.choice(
        (
            f"{title} - {series} T{number:02d}{letter}",
            f"{title} ({series}, tome {number}{letter})",
            f"{title} - {series} - T{number}{letter}",
        )
    )


def series_folder(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    return f"{series}/{title}" if title else None


def one_hyphen(series: str, number: int, letter: str, title: str, rng: random.Random) -> str | None:
    return f"{series}-{title}" if title else None


MORE_CONVENTIONS: dict[str, Convention] = {
    "authors after title": authors_after,
    "authors in front": authors_in_front,
    "edition words": edition_words,
    "Tome N sur M": tome_of_total,
    "tome in words": tome_in_words,
    "prefix tags": prefix_tags,
    "run-together": run_together,
    "four-digit tome": four_digits,
    "swapped order": swapped,
    "Série/Titre folder": series_folder,
    "Série-Titre": one_hyphen,
}
# the conventions of issue 21, then the later ones
ALL_CONVENTIONS: dict[str, Convention] = {**CONVENTIONS, **MORE_CONVENTIONS}
