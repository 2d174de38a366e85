"""Properties of normalize and parse_filename that must hold for any name, not just the table."""

from __future__ import annotations

import random
import string

import pytest

from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.normalize import normalize, strip_articles
from tests.test_filename_parse import CASES

SPACED_NAMES = [
    name for name, parent, *_ in CASES if parent is None and not any(ch in name.rsplit(".", 1)[0] for ch in "()[]./\\_")
]
ALPHABET = string.ascii_letters + string.digits + " -_.'’&()[]#éèàçÉÀœæ«»–—!?,;:" + "日本"


def _words(parsed) -> tuple[str, str | None]:
    return normalize(f"{parsed.series_norm} {parsed.title_norm}"), parsed.tome


def test_enough_spaced_names_to_compare() -> None:
    assert len(SPACED_NAMES) >= 40


@pytest.mark.parametrize("name", SPACED_NAMES)
def test_dotted_and_underscored_forms_read_like_the_spaced_one(name: str) -> None:
    # dots and underscores stand for spaces: the same name with single spaces (separators
    # such as " - " carry meaning, and a dotted name has none) must read the same
    stem = name.removesuffix(".cbz").removesuffix(".cbr").strip().replace(" - ", " ")
    spaced = parse_filename(stem + ".cbz")
    for joiner in (".", "_"):
        variant = stem.replace(" ", joiner) + ".cbz"
        parsed = parse_filename(variant)
        assert (parsed.series_norm, parsed.tome, parsed.title_norm) == (
            spaced.series_norm,
            spaced.tome,
            spaced.title_norm,
        )


@pytest.mark.parametrize("name", SPACED_NAMES)
def test_extension_and_case_do_not_change_the_reading(name: str) -> None:
    stem = name.removesuffix(".cbz").removesuffix(".cbr").strip()
    reading = parse_filename(stem + ".cbz")
    for variant in (stem, stem + ".CBR", stem + ".pdf", stem + ".cb7", stem + ".zip"):
        assert _words(parse_filename(variant)) == _words(reading), variant
    upper = parse_filename(stem.upper() + ".CBZ")
    assert upper.series_norm == reading.series_norm and upper.tome == (reading.tome or None)


def test_normalize_is_idempotent_on_random_text() -> None:
    rng = random.Random(3)
    for _ in range(3000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))
        once = normalize(text)
        assert normalize(once) == once
        assert once == once.strip() and "  " not in once
        assert all(ch.isdigit() or "a" <= ch <= "z" or ch == " " for ch in once)
        assert strip_articles(strip_articles(once)) in (strip_articles(once), strip_articles(strip_articles(once)))


def test_parse_filename_reads_any_text_consistently() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        name = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))) + rng.choice(["", ".cbz", ".CBR"])
        parsed = parse_filename(name, rng.choice([None, "Nains", "", "BD"]))
        assert parsed.raw == name
        assert parsed.series_norm == normalize(parsed.series or "")
        assert parsed.title_norm == normalize(parsed.title or "")
        assert parsed.tome_kind in (None, "regular", "hs", "int", "oneshot")
        assert (parsed.tome is None) == (parsed.tome_kind in (None, "oneshot"))
        if parsed.tome_kind == "regular":
            assert parsed.tome is not None and parsed.tome.startswith(str(parsed.tome_number))
        if parsed.year is not None:
            assert 1900 <= parsed.year <= 2099


@pytest.mark.parametrize(
    ("name", "parent"),
    [
        ("Nains/T01.cbz", None),
        ("T01.cbz", "Nains"),
        ("T01.cbz", "/srv/bd/Nains"),
        ("T01.cbz", "Nains/"),
        ("/srv/bd/Nains/T01.cbz", None),
        ("Nains\\T01.cbz", None),
    ],
)
def test_folder_forms_agree(name: str, parent: str | None) -> None:
    parsed = parse_filename(name, parent)
    assert (parsed.series, parsed.tome) == ("Nains", "1")


def test_alternatives_offer_other_readings_of_ambiguous_numbers() -> None:
    parsed = parse_filename("Ms Marvel 2006 21 Chapter 3.cbz")
    readings = {(reading.series_norm, reading.tome) for reading in (parsed, *parsed.alternatives)}
    assert len(readings) >= 2
    assert parse_filename("Nains - T01 - Redwin.cbz").tome == "1"
