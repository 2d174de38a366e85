"""How Kavita 0.8.3 reads a comic file's name and ComicInfo in a *Comic* library (``BasicParser``).

Written from Kavita's ``Parser.cs`` and its tests (``API.Tests/Parsing/ComicParsingTests.cs``), for
the names BD collectors use: ``Tome``/``T``/``Vol``/``V`` followed by a number is a *volume*
(``Chevaliers d'Héliopolis T3 - Rubedo`` -> series "Chevaliers d'Héliopolis", volume 3, no
chapter), a bare number after the series is a *chapter* (issue: ``Babe 01`` -> chapter 1, no
volume). Then ComicInfo wins (``DefaultParser.UpdateFromComicInfo``): ``Volume`` replaces the
volume, ``Number`` the chapter, ``Series`` the series. A file with neither a volume nor a chapter is a
special (Kavita's volume 100000). Numbers become sort keys with ``MinNumberFromRange``: anything
but digits, ``.`` and ``-`` counts as 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

DEFAULT_CHAPTER = "-100000"
LOOSE_LEAF_VOLUME = "-100000"
SPECIAL_VOLUME = "100000"

# "Tintin - T22 Vol 714 pour Sydney", "Conquistador_-Tome_2", "Chevaliers d'Héliopolis T3 - ..."
_SERIES_BEFORE_VOLUME = re.compile(
    r"^(?P<series>.+?)\s?(?:\b|_|-)\s?(?:vol|tome|t)\.?(?:\s|_)?(?P<volume>\d+(?:-\d+)?)", re.I
)
_VOLUME = re.compile(r"(?:^|[\s_\-.])(?:vol|tome|t|v)\.?(?:\s|_)?(?P<volume>\d+(?:\.\d+)?(?:-\d+)?)(?![\d])", re.I)
# "Babe 01", "Batman & Catwoman - Trail of the Gun 01", "Y - The Last Man #001"
_SERIES_BEFORE_NUMBER = re.compile(r"^(?P<series>.+?)(?:\s|_|-)+#?(?P<chapter>\d+(?:\.\d+)?)(?:\s|_|$|\()", re.I)
_CHAPTER_AFTER_VOLUME = re.compile(r"(?:vol|tome|t|v)\.?(?:\s|_)?\d+(?:\s|_|-)+#?(?P<chapter>\d+)(?:\s|_|$|\()", re.I)
_YEAR_OR_TAG = re.compile(r"\([^)]*\)|\[[^\]]*\]")


@dataclass(frozen=True)
class ParsedFile:
    series: str
    volume: str
    chapter: str
    title: str
    is_special: bool


def clean(name: str) -> str:
    return re.sub(r"\s+", " ", name.replace("_", " ")).strip(" -_.")


def strip_leading_zeros(number: str) -> str:
    if number in (DEFAULT_CHAPTER,):
        return number
    stripped = number.lstrip("0")
    return stripped if stripped and not stripped.startswith(".") else "0" + stripped


def parse_name(stem: str) -> tuple[str, str, str]:
    """(series, volume, chapter) from a file name without extension, Kavita's comic way."""
    text = _YEAR_OR_TAG.sub(" ", stem)
    volume, chapter, series = LOOSE_LEAF_VOLUME, DEFAULT_CHAPTER, ""
    found = _SERIES_BEFORE_VOLUME.search(text)
    if found:
        series = clean(found.group("series"))
        volume = strip_leading_zeros(found.group("volume"))
        after = _CHAPTER_AFTER_VOLUME.search(text)
        if after:
            chapter = strip_leading_zeros(after.group("chapter"))
        return series, volume, chapter
    found_volume = _VOLUME.search(text)
    if found_volume:
        volume = strip_leading_zeros(found_volume.group("volume"))
    found = _SERIES_BEFORE_NUMBER.search(text + " ")
    if found:
        series = clean(found.group("series"))
        chapter = strip_leading_zeros(found.group("chapter"))
    return series or clean(text), volume, chapter


def parse_file(path: str, comicinfo: dict[str, str] | None, folder_series: str) -> ParsedFile:
    """The series, volume and chapter Kavita gives a file (``BasicParser.Parse`` for a Comic library)."""
    stem = PurePosixPath(path).stem
    series, volume, chapter = parse_name(stem)
    if not series:
        series = folder_series
    info = comicinfo or {}
    if info.get("Volume"):
        volume = info["Volume"]
    if info.get("Number"):
        chapter = info["Number"]
    if info.get("Series"):
        series = info["Series"].strip()
    special = volume == LOOSE_LEAF_VOLUME and chapter == DEFAULT_CHAPTER
    if special:
        volume = SPECIAL_VOLUME
    return ParsedFile(series, volume, chapter, clean(stem), special)


def min_number(range_text: str) -> float:
    """Kavita's ``MinNumberFromRange``: the smallest number of ``1``, ``1-3``, ``2.5``; 0 for anything else."""
    if not range_text or not re.fullmatch(r"[\d\-.]+", range_text):
        return 0.0
    if range_text.startswith("-") and range_text[1:].replace(".", "").isdigit():
        return float(range_text)
    parts = [part for part in range_text.split("-") if part]
    try:
        return min(float(part) for part in parts)
    except ValueError:
        return 0.0


def normalize(name: str) -> str:
    """Kavita's ``Parser.Normalize``: letters, digits and ``+!`` only, lower case."""
    return re.sub(r"[^\w+!＊！＋]|_", "", name).lower()
