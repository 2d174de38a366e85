"""File names as collectors write them, for an album: used by the demo, tests and the accuracy benchmark.

The conventions drawn from are those the filename parser supports: ``Série - T01 - Titre``,
``Série - Tome 1 - Titre``, ``Série T1 Titre``, ``Série 01 Titre``, ``Série Tome 1``,
``Série - 01``, ``Série #1``, dotted and underscored forms, with optional noise
(``(2015)``, ``[FR]``, ``(c2c)``, ``[team]``), hors-séries (``HS``, ``Hors-série 2``),
intégrales (``INT``, ``Intégrale 3``) and lettered tomes (``1a``).
"""

from __future__ import annotations

import random

NOISE = ("(2015)", "[FR]", "(c2c)", "[team-bd]", "(Digital)", "(1)", "[HD]", "(scan)")


def _tome_forms(tome: str, rng: random.Random) -> list[str]:
    upper = tome.upper()
    if upper.startswith("HS"):
        number = upper[2:]
        return [f"HS{number}", f"HS {number}".strip(), f"Hors-série {number}".strip(), f"Hors Série {number}".strip()]
    if upper.startswith("INT"):
        number = upper[3:]
        return [f"INT{number}", f"Intégrale {number}".strip(), f"INT {number}".strip()]
    digits = "".join(ch for ch in tome if ch.isdigit())
    letter = tome[len(digits):] if tome.startswith(digits) else ""
    if not digits:
        return [tome]
    number = int(digits)
    return [f"T{number:02d}{letter}", f"T{number}{letter}", f"Tome {number}{letter}", f"Tome {number:02d}{letter}",
            f"{number:02d}{letter}", f"{number}{letter}", f"#{number}{letter}"]


def realistic_names(series: str, tome: str | None, title: str | None, *, rng: random.Random) -> list[str]:
    """Several plausible file names (with ``.cbz``) for one album; callers usually pick one."""
    names: list[str] = []
    title = title or ""
    if tome:
        for form in _tome_forms(tome, rng):
            explicit = not form[0].isdigit()
            names.append(f"{series} - {form} - {title}" if title else f"{series} - {form}")
            if explicit:
                names.append(f"{series} {form} {title}".strip())
            names.append(f"{series} {form}")
    else:
        names.append(f"{series} - {title}" if title and title != series else series)
        if title and title != series:
            names.append(title if rng.random() < 0.3 else f"{series} - {title}")
    variants: list[str] = []
    for name in names:
        variants.append(name)
        roll = rng.random()
        if roll < 0.15:
            variants.append(name.replace(" - ", ".").replace(" ", "."))
        elif roll < 0.3:
            variants.append(name.replace(" - ", "_").replace(" ", "_"))
        elif roll < 0.5:
            variants.append(f"{name} {rng.choice(NOISE)}")
    return [f"{variant.strip()}.cbz" for variant in variants if variant.strip()]
