"""Tome numbers as ComicTagger issue numbers: '1', 'HS1', 'INT2', '1a'; and the forms files use."""

from __future__ import annotations

import re

# "T01", "Tome 1", "t.1", "#1", "HS 2", "Hors-série 2", "Int. 3", "Intégrale 3"
PREFIXES = (
    (re.compile(r"^(?:hors[\s-]*s[ée]rie|hs)\s*\.?\s*", re.IGNORECASE), "HS"),
    (re.compile(r"^(?:int[ée]grale|int)\s*\.?\s*", re.IGNORECASE), "INT"),
    (re.compile(r"^(?:tome|t|#|n[°o]?)\s*\.?\s*", re.IGNORECASE), ""),
)


# what file-name parsers leave after the number: "10.pdf" (from "Tome 10.pdf.cbz"), "12 (1)"
_TRAILING_JUNK = re.compile(r"(?:\.(?:pdf|cbz|cbr|cb7|zip|rar)|\s*\(\d\))+$", re.IGNORECASE)
# a tome marker or a year a parser left at the end of a series name: "Kamisama Dolls Tome", "X - T."
_TRAILING_MARKER = re.compile(r"(?:[\s.-]+(?:tome|t|vol|volume|n[°o]?|#|(?:19|20)\d\d)\.?)+$", re.IGNORECASE)


def canonical_issue(text: str) -> str:
    """A comparable form: 'T01' -> '1', 'HS 02' -> 'HS2', 'Int. 1' -> 'INT1', '1A' -> '1a', '' -> '';
    a file extension a parser left ('10.pdf') is dropped."""
    text = _TRAILING_JUNK.sub("", " ".join(str(text or "").split()))
    kind = ""
    for pattern, name in PREFIXES:
        match = pattern.match(text)
        if match and (match.end() < len(text) or name):
            kind, text = name, text[match.end() :]
            break
    number = re.match(r"^0*(\d+)\s*([a-z]?)$", text, re.IGNORECASE)
    if number:
        return f"{kind}{number.group(1)}{number.group(2).lower()}"
    return f"{kind}{text.lower()}" if kind else text.lower()


def display_issue(tome: str | None) -> str | None:
    """The issue number ComicTagger shows and writes (ComicInfo Number)."""
    return canonical_issue(tome) if tome else None


def series_without_marker(name: str) -> str:
    """A series name without the tome marker or year a parser left at its end:
    'Kamisama Dolls Tome' -> 'Kamisama Dolls', 'Justice League 3000 2014' -> 'Justice League 3000'."""
    stripped = _TRAILING_MARKER.sub("", name).strip(" -.")
    return stripped or name
