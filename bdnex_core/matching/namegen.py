"""File names as collectors write them, for one album: used by the accuracy evaluation, tests and the demo.

Given a series, a tome in the catalogue's canonical form ('1', '1a', '0', '10VC', 'HS', 'HS2',
'INT', 'INT3' or None for a one-shot) and a title, :func:`realistic_names` returns names drawn
from the conventions seen in French BD libraries:

- layouts: ``Série - T01 - Titre``, ``Série - Tome 1 - Titre``, ``Série T1 Titre``, ``Série Tome 1``,
  ``Série 01 Titre``, ``Série - 40``, ``Série #3``, ``Série (T3) Titre``, ``Série - T.01 - Titre``, and
  folder forms where the series is the folder (``Série/T01.cbz``, ``Série/01 - Titre.cbz``);
- tomes: zero-padded or not, lettered (``T1a``), ``T00``; hors-séries ``HS``, ``HS2``, ``HS 2``,
  ``Hors-série 2``, ``Hors Série``; intégrales ``INT``, ``INT3``, ``Intégrale 3``, ``L'Intégrale T3``;
  edition suffixes (``10VC``) are written as the bare number, as collectors do;
- one-shots: ``Titre``, ``Titre (One shot)``, ``Titre - One shot``;
- spelling: Bédéthèque slugs lose accents and apostrophes, so elisions come back as ``L'``/``d'``; an
  article moved to the end of a slug (``Tuniques Bleues Les``) comes back in front (``Les Tuniques
  Bleues``) or in brackets (``Tuniques Bleues (Les)``); sometimes the whole name is lower case;
- separators: spaces, dots (``Les.Tuniques.Bleues.T12``), underscores, hyphens only (slug-like);
- noise: ``[team]`` prefixes, ``[FR]``/``[VF]``, ``(c2c)``, ``(scan)``, ``HD``, ``1920px``/``1080p``,
  ``v2`` and ``(1)`` duplicates; the album's year ``(2015)`` and publisher ``(Dupuis)`` when given;
- extensions: ``.cbz``, ``.cbr``, ``.pdf``, ``.CBZ``.
"""

from __future__ import annotations

import random
import re

TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+) (?P<article>Les|Le|La|L|The)$", re.IGNORECASE)
# 'L Heritier', 'Le Mangeur d or': a letter left alone by the slug was an elision
ELISION = re.compile(r"\b(?P<letter>[LlDdJjNnSsCc]|[Qq]u) (?=[A-Za-zÀ-ÿ])")
# Noise that says nothing about the album (a random year or publisher would mislead a scorer).
SUFFIX_NOISE = ("[FR]", "(c2c)", "(1)", "HD", "v2", "[1920px]", "(scan)", "(Digital)", "[VF]", "1080p")
PREFIX_NOISE = ("[Team-BD]", "[BDFR]", "[FR]")
EXTENSIONS = (".cbz", ".cbz", ".cbz", ".cbr", ".pdf", ".CBZ")


def restore_spelling(text: str, rng: random.Random) -> str:
    """Undo what slugs did to a name, the way a person would type it."""
    text = ELISION.sub(lambda m: f"{m['letter']}'", text)
    moved = TRAILING_ARTICLE.match(text)
    if moved and len(moved["rest"].split()) >= 1:
        article, rest = moved["article"], moved["rest"]
        roll = rng.random()
        if roll < 0.45:
            text = f"{article}'{rest}" if article.lower() == "l" else f"{article} {rest}"
        elif roll < 0.75:
            text = f"{rest} ({article}')" if article.lower() == "l" else f"{rest} ({article})"
    return text


def _tome_forms(tome: str) -> tuple[list[str], list[str]]:
    """(explicit forms such as 'T01', numeric forms such as '01') for a canonical tome."""
    upper = tome.upper()
    if upper.startswith("HS"):
        number = upper[2:]
        if not number:
            return ["HS", "Hors-série", "Hors Série"], []
        return [
            f"HS{number}",
            f"HS {number}",
            f"Hors-série {number}",
            f"Hors Série {number}",
            f"HS{int(number):02d}",
        ], []
    if upper.startswith("INT"):
        number = upper[3:]
        if not number:
            return ["INT", "Intégrale", "L'Intégrale"], []
        return [
            f"INT{number}",
            f"INT {number}",
            f"Intégrale {number}",
            f"L'Intégrale T{number}",
            f"Intégrale T{number}",
        ], []
    match = re.match(r"^(?P<num>\d+)(?P<suffix>[A-Za-z]*)$", tome)
    if match is None:
        return [tome], []
    tome_number = int(match["num"])
    letter = match["suffix"].lower() if len(match["suffix"]) == 1 else ""  # '10VC' is written 'T10'
    explicit = [
        f"T{tome_number:02d}{letter}",
        f"T{tome_number}{letter}",
        f"Tome {tome_number}{letter}",
        f"Tome {tome_number:02d}{letter}",
        f"T.{tome_number:02d}{letter}",
        f"#{tome_number}{letter}",
    ]
    numeric = [f"{tome_number:02d}{letter}", f"{tome_number}{letter}"] if tome_number < 1000 else []
    return explicit, numeric


def _with_tome(series: str, tome: str, title: str, rng: random.Random) -> list[str]:
    explicit, numeric = _tome_forms(tome)
    names: list[str] = []
    for form in explicit:
        names += [f"{series} - {form} - {title}", f"{series} - {form}", f"{series} {form}"]
        if any(ch.isdigit() for ch in form) or form in ("HS", "INT"):
            names.append(f"{series} {form} {title}")  # 'Série Intégrale Titre' would be unreadable
        if not form.startswith("#"):
            names.append(f"{series}/{form} - {title}")
    for form in numeric:
        names += [f"{series} - {form} - {title}", f"{series} - {form}", f"{series}/{form} - {title}"]
        if form.startswith("0") or not title:
            names.append(f"{series} {form} {title}")
    explicit_t = next((form for form in explicit if form.startswith("T")), None)
    if explicit_t:
        names += [f"{series} ({explicit_t}) {title}", f"{series}/{explicit_t}"]
    if not title:
        names = [name.replace(" -  - ", " - ").replace(" - /", "/") for name in names]
    return [re.sub(r"\s*-\s*$", "", name).strip() for name in names]


def _one_shot(series: str, title: str) -> list[str]:
    names = [title, f"{title} (One shot)", f"{title} - One shot"]
    if series and series != title:
        names += [f"{series} - {title}"]
    return names


def _dress(name: str, rng: random.Random, facts: tuple[str, ...]) -> str:
    """Separators, case and noise (and the album's own year or publisher, ``facts``), as libraries accumulate them."""
    folder, _, base = name.rpartition("/")
    roll = rng.random()
    if roll < 0.08:
        base = base.replace(" - ", ".").replace(" ", ".")
    elif roll < 0.16:
        base = base.replace(" - ", "_").replace(" ", "_")
    elif roll < 0.19 and "(" not in base and "'" not in base:
        base = base.replace(" - ", "-").replace(" ", "-")
    elif roll < 0.24:
        base = base.lower()
    roll = rng.random()
    if roll < 0.3:
        base = f"{base} {rng.choice(SUFFIX_NOISE)}"
    elif roll < 0.38:
        base = f"{rng.choice(PREFIX_NOISE)} {base}"
    elif roll < 0.45:
        base = f"{base} {rng.choice(SUFFIX_NOISE)} {rng.choice(SUFFIX_NOISE[:3])}"
    if facts and rng.random() < 0.3:
        base = f"{base} {rng.choice(facts)}"
    return f"{folder}/{base}" if folder else base


def realistic_names(
    series: str,
    tome: str | None,
    title: str | None,
    *,
    rng: random.Random,
    year: int | None = None,
    publisher: str | None = None,
) -> list[str]:
    """Plausible file names (with extension) for one album; callers usually pick one with ``rng.choice``.

    ``year`` and ``publisher``, when known, sometimes appear as ``(2015)`` / ``(Dupuis)``.
    """
    facts = tuple(fact for fact in (f"({year})" if year else "", f"({publisher})" if publisher else "") if fact)
    series = restore_spelling(series.strip(), rng)
    title = restore_spelling((title or "").strip(), rng) if title else ""
    names = _with_tome(series, tome, title, rng) if tome else _one_shot(series, title or series)
    dressed = {_dress(name, rng, facts) + rng.choice(EXTENSIONS) for name in names if name.strip()}
    return sorted(dressed)
