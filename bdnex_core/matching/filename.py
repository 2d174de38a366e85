"""What a comic's file name says: series, tome, title, year, publisher, ISBN.

French BD libraries follow a few conventions (``Série - T01 - Titre``, ``Série Tome 1``,
``Série 01 Titre``, dotted or underscored names, ``[group]``/``(2015)``/``[FR]``/``(Dupuis)``
noise, hors-séries, intégrales, cycles, lettered tomes, one-shots, and files named just
``T01.cbz`` inside a folder named after the series). This module turns any of them into
a :class:`ParsedName`. It does no I/O and knows nothing of the catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from bdnex_core.matching.normalize import normalize

EXTENSIONS = re.compile(r"\.(cbz|cbr|cb7|cbt|pdf|zip|rar|7z|epub)$", re.IGNORECASE)
BRACKETED = re.compile(r"\[([^\]]*)\]|\(([^)]*)\)|\{([^}]*)\}")
YEAR = re.compile(r"^(19[0-9]{2}|20[0-9]{2})$")
LANGUAGE_TAGS = {"fr": "fr", "vf": "fr", "french": "fr", "francais": "fr", "en": "en", "eng": "en", "vo": None,
                 "nl": "nl", "es": "es", "de": "de", "it": "it"}
NOISE_WORDS = re.compile(
    r"\b(c2c|hd|hq|sd|scan(?:s|ne|ned)?|digital|numerique|webrip|repack|fixed|complet|bd|cbz|cbr|"
    r"\d{3,4}p|\d{3,4}px|v\d|ocr|uncensored|noir et blanc|n&b)\b",
    re.IGNORECASE,
)
PUBLISHERS = (
    "Dupuis", "Dargaud", "Casterman", "Le Lombard", "Lombard", "Glénat", "Glenat", "Soleil", "Soleil Productions",
    "Delcourt", "Fluide Glacial", "Futuropolis", "Les Humanoïdes Associés", "Humanoïdes Associés", "Humanoides Associes",
    "Bamboo", "Vents d'Ouest", "Vent d'Ouest", "Kana", "Urban Comics", "Panini", "Panini Comics", "Marsu Productions",
    "Albin Michel", "Gallimard", "Rue de Sèvres", "Grand Angle", "Ankama", "Sandawe", "Kennes", "Paquet", "Akileos",
    "Pika", "Kurokawa", "Ki-oon", "Tonkam", "Delcourt Tonkam", "Le Label Dargaud", "Jungle", "Hachette",
    "Les Arènes", "Steinkis", "Éditions Jungle", "Comix Buro", "Hugo BD", "Bac@BD", "Le Lézard Noir", "Cornélius",
    "L'Association", "Rackham", "Mosquito", "Sakka", "Kazé", "Doki-Doki", "Vega", "Black Box",
)
PUBLISHER_KEYS = {normalize(name): name for name in PUBLISHERS}
ISBN_CANDIDATE = re.compile(r"(?<![0-9])(97[89][- ]?(?:[0-9][- ]?){9}[0-9]|(?:[0-9][- ]?){9}[0-9xX])(?![0-9])")

# Tome markers, tried in order on the cleaned, space-separated name (case-insensitive).
_N = r"(?P<num>\d{1,4})(?P<letter>[a-z])?(?![0-9])"
TOME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("int", re.compile(rf"\b(?:int[ée]grales?|int|integral)(?![a-z])\.?\s*(?:(?:t|tome|tomes)\.?\s*)?(?P<range>\d{{1,3}}\s*(?:-|a|à|et)\s*(?:t\s*)?\d{{1,3}}|{_N})?", re.IGNORECASE)),
    ("hs", re.compile(rf"\b(?:hors[\s-]*s[ée]ries?|hs)(?![a-z])\.?\s*(?:n[°o]?\s*)?(?:{_N})?", re.IGNORECASE)),
    ("regular", re.compile(rf"\b(?:tome|tomes|t)\.?\s*{_N}", re.IGNORECASE)),
    ("regular", re.compile(rf"#\s*{_N}", re.IGNORECASE)),
)
# Weaker markers: often part of a series name ("Conan Vol 1 1970"), used when nothing better is there.
WEAK_TOME_PATTERN = re.compile(rf"\b(?:vol|volume|album|livre|episode|ep|n[°o]|no|num[ée]ro)\.?\s*{_N}", re.IGNORECASE)
NUMBER_SEGMENT = re.compile(r"(?:^|\s-\s)\s*(?P<num>\d{1,3})(?P<letter>[a-z])?\s*(?=\s-\s|$)", re.IGNORECASE)
RANGE_AS_INT = re.compile(r"\b(?:t|tome|tomes)?\s*(?P<first>\d{1,3})\s*(?:-|à|a)\s*(?:t\s*)?(?P<last>\d{1,3})\b", re.IGNORECASE)
CYCLE = re.compile(r"\b(?:cycle|saison|arc)\s*(?P<num>\d{1,2}|[ivx]{1,4})\b", re.IGNORECASE)
ONE_SHOT = re.compile(r"\b(?:one[\s-]?shot|album unique)\b", re.IGNORECASE)
# ordinals ("2e série", "1re série") name an edition, not a tome
BARE_NUMBER = re.compile(r"(?<![\w.])(?P<num>\d{1,3})(?!(?:e|er|re|eme|ème)\b)(?P<letter>[a-z])?(?![\w.])", re.IGNORECASE)
NOT_A_TOME_AFTER = {"ans", "an", "jours", "jour", "heures", "nuits", "minutes", "fois", "eme", "e", "er", "mille", "000"}
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
SEPARATOR_EDGES = " -_.,:;~+"
PARENT_IGNORED = {"bd", "comics", "bandes dessinees", "bande dessinee", "downloads", "telechargements", "a trier", "inbox", "new"}


@dataclass(frozen=True)
class ParsedName:
    raw: str
    series: str | None = None
    series_norm: str = ""
    tome: str | None = None
    tome_number: int | None = None
    tome_kind: str | None = None  # regular, hs, int, oneshot
    title: str | None = None
    title_norm: str = ""
    year: int | None = None
    publisher: str | None = None
    isbn: str | None = None
    cycle: int | None = None
    language: str | None = None
    noise: tuple[str, ...] = field(default_factory=tuple)
    alternatives: tuple[ParsedName, ...] = field(default=(), repr=False, compare=False)


def isbn_is_valid(digits: str) -> bool:
    if len(digits) == 13 and digits.isdigit():
        total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits[:12]))
        return (10 - total % 10) % 10 == int(digits[12])
    if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] in "xX"):
        total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
        check = 10 if digits[9] in "xX" else int(digits[9])
        return (total + check) % 11 == 0
    return False


def find_isbn(text: str) -> tuple[str | None, str]:
    """A valid ISBN-13/10 in ``text`` (digits only), and the text without it."""
    for match in ISBN_CANDIDATE.finditer(text):
        digits = re.sub(r"[- ]", "", match.group(1))
        if isbn_is_valid(digits):
            return digits.upper(), text[: match.start()] + " " + text[match.end():]
    return None, text


def _clean_spacing(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(SEPARATOR_EDGES + " ")


def _despace(stem: str) -> str:
    """Dots and underscores used as spaces become spaces ('Les.Tuniques.Bleues.T12')."""
    if "_" in stem:
        stem = stem.replace("_", " ")
    if stem.count(".") >= 2 or ("." in stem and " " not in stem):
        stem = stem.replace(".", " ")
    return stem


TOME_MARK = " \x00 "


def _classify_group(content: str, found: dict[str, object], noise: list[str]) -> str | None:
    """Read one bracketed group; return what replaces it in the name (None: keep it as written)."""
    text = content.strip()
    key = normalize(text)
    if not key:
        return " - "
    if key in ("les", "le", "la", "l", "the"):
        return None  # "Tuniques Bleues (Les)": the article belongs to the series name
    if YEAR.match(key):
        found.setdefault("year", int(key))
    elif key in LANGUAGE_TAGS:
        if LANGUAGE_TAGS[key]:
            found.setdefault("language", LANGUAGE_TAGS[key])
    elif key in PUBLISHER_KEYS:
        found.setdefault("publisher", PUBLISHER_KEYS[key])
    elif find_isbn(text)[0]:
        found.setdefault("isbn", find_isbn(text)[0])
    else:
        tome = _find_tome(text)
        if tome is not None and "tome_match" not in found and _clean_spacing(text[: tome[0]] + text[tome[1]:]) == "":
            found["tome_match"] = tome[2:]
            return TOME_MARK  # "Astérix (T3) Astérix et les Goths": series before, title after
        noise.append(text)  # [group], (scan), "(1)" duplicate counters...
    return " - "


def _explicit_tomes(text: str) -> list[tuple[int, int, str, int | None, str, bool]]:
    """Every explicit tome marker, the likeliest first: numbered ones ("Tome 20") before bare
    "Hors série"/"Intégrale" words (often part of a series name), then by position."""
    found = [_tome_from_match(kind, match) for kind, pattern in TOME_PATTERNS for match in pattern.finditer(text)]
    unique = {candidate[:2]: candidate for candidate in found}
    return sorted(unique.values(), key=lambda candidate: (candidate[3] is None, candidate[0]))


def _find_tome(text: str) -> tuple[int, int, str, int | None, str, bool] | None:
    """(start, end, kind, number, letter, explicit) of the likeliest tome marker in ``text``."""
    markers = _explicit_tomes(text)
    return markers[0] if markers else None


def _tome_from_match(kind: str, match: re.Match[str]) -> tuple[int, int, str, int | None, str, bool]:
    groups = match.groupdict()
    number = int(groups["num"]) if groups.get("num") else None
    letter = (groups.get("letter") or "").lower()
    if kind == "int" and groups.get("range"):
        first = re.match(r"\d+", groups["range"])
        number = None if first is None or re.search(r"\D", groups["range"].strip()) else int(first.group())
    return (match.start(), match.end(), kind, number, letter, True)


def _implicit_tome(text: str) -> tuple[int, int, str, int | None, str, bool] | None:
    """A tome without 'T'/'Tome'/'#': a number between dashes ('Série - 40 - Titre'), a weak marker
    ('Vol 2'), or the last plain number ('Les Tuniques Bleues 12', 'Conan Vol 1 1970 157')."""
    segment = next((m for m in NUMBER_SEGMENT.finditer(text) if normalize(text[: m.start("num")])), None)
    if segment is not None:
        return (segment.start("num"), segment.end(), "regular", int(segment["num"]), (segment["letter"] or "").lower(), False)
    weak = WEAK_TOME_PATTERN.search(text)
    bare = None
    for match in BARE_NUMBER.finditer(text):
        if not normalize(text[: match.start()]):
            continue  # a leading number belongs to the title ("1984", "13 rue de l'Espoir") or the parent rule
        if weak is not None and weak.start() <= match.start() < weak.end():
            continue
        after_words = normalize(text[match.end():]).split()
        if after_words and after_words[0] in NOT_A_TOME_AFTER:
            continue
        if bare is None or not bare.group("num").startswith("0") or match.group("num").startswith("0"):
            bare = match  # the last one, unless an earlier one is zero-padded like a tome ("Série 01 Titre 2")
    if weak is not None and (bare is None or bare.start() < weak.start()):
        return _tome_from_match("regular", weak)[:5] + (False,)
    if bare is not None:
        return (bare.start(), bare.end(), "regular", int(bare.group("num")), (bare.group("letter") or "").lower(), False)
    return None


def _canonical_tome(kind: str, number: int | None, letter: str) -> str | None:
    if kind == "hs":
        return f"HS{number}" if number is not None else "HS"
    if kind == "int":
        return f"INT{number}" if number is not None else "INT"
    return None if number is None else f"{number}{letter}"


def _series_from_parent(parent: str | None) -> str | None:
    if not parent:
        return None
    cleaned = _clean_spacing(BRACKETED.sub(" ", _despace(parent)))
    return cleaned if cleaned and normalize(cleaned) not in PARENT_IGNORED else None


def parse_filename(name: str, parent: str | None = None) -> ParsedName:
    """Parse a comic file name (with or without extension); ``parent`` is its folder's name."""
    raw = name
    stem = name.rsplit("/", 1)[-1]
    while EXTENSIONS.search(stem):
        stem = EXTENSIONS.sub("", stem)
    stem = _despace(stem)
    found: dict[str, object] = {}
    noise: list[str] = []
    isbn, stem = find_isbn(stem)
    if isbn:
        found["isbn"] = isbn

    def consume(match: re.Match[str]) -> str:
        content = next(group for group in match.groups() if group is not None)
        replacement = _classify_group(content, found, noise)
        return match.group(0) if replacement is None else replacement

    text = BRACKETED.sub(consume, stem)
    text = NOISE_WORDS.sub(lambda m: noise.append(m.group()) or " ", text)
    one_shot = bool(ONE_SHOT.search(text))
    text = ONE_SHOT.sub(" ", text)
    cycle = None
    cycle_match = CYCLE.search(text)
    if cycle_match:
        value = cycle_match.group("num").lower()
        cycle = int(value) if value.isdigit() else ROMAN.get(value)
    text = re.sub(r"\s+", " ", text)

    tome = None
    if TOME_MARK.strip() in text:
        start = text.index(TOME_MARK.strip())
        tome = (start, start + 1, *found["tome_match"])  # type: ignore[misc]
    elif "tome_match" not in found:
        tome = _find_tome(text)
        if tome is None:
            range_match = RANGE_AS_INT.search(text)
            if range_match and normalize(text[: range_match.start()]) and int(range_match["first"]) < int(range_match["last"]):
                tome = (range_match.start(), range_match.end(), "int", None, "", True)
        if tome is None:
            tome = _implicit_tome(text)
        if tome is None:
            leading = re.match(r"^\s*(?P<num>\d{1,3})(?P<letter>[a-z])?\s*(?:-|$)", text, re.IGNORECASE)
            if leading:  # "01 - Titre.cbz": the series is the folder's name
                tome = (leading.start("num"), leading.end(), "regular", int(leading["num"]), (leading["letter"] or "").lower(), False)
    common = {"raw": raw, "parent": parent, "found": found, "noise": tuple(noise), "one_shot": one_shot,
              "cycle": cycle, "cycle_match": cycle_match}
    parsed = _assemble(text, tome, **common)
    if tome is not None and TOME_MARK.strip() not in text:
        # which number is the tome is a guess when names carry others ("Ms Marvel 2006 21 ... part 1",
        # "Serie bleue ... Hors serie Elvifrance Tome 20"): keep the other readings for the matcher to try
        others = [other for other in [*_explicit_tomes(text), *_bare_numbers(text)] if other[:2] != tome[:2]]
        readings = [_assemble(text, other, **common) for other in others[:4]]
        if not tome[5]:
            readings.append(_assemble(text, None, **common))  # no tome at all: a number in a one-shot's name
        parsed = replace(parsed, alternatives=tuple(readings))
    return parsed


def _bare_numbers(text: str) -> list[tuple[int, int, str, int | None, str, bool]]:
    return [
        (match.start(), match.end(), "regular", int(match["num"]), (match["letter"] or "").lower(), False)
        for match in BARE_NUMBER.finditer(text)
        if normalize(text[: match.start()])
    ]


def _assemble(text: str, tome: tuple | None, *, raw: str, parent: str | None, found: dict[str, object],
              noise: tuple[str, ...], one_shot: bool, cycle: int | None, cycle_match: re.Match[str] | None) -> ParsedName:
    series_text, title_text = text, ""
    kind = number = letter = None
    if tome is not None:
        start, end, kind, number, letter, _explicit = tome
        series_text, title_text = text[:start], text[end:]
    if cycle_match and tome is not None and cycle_match.start() >= tome[1]:
        title_text = title_text.replace(cycle_match.group(), " ")
    elif cycle_match:
        series_text = series_text.replace(cycle_match.group(), " ")

    series = _clean_spacing(series_text)
    title = _clean_spacing(title_text)
    if tome is None and " - " in series_text:
        head, _, rest = series_text.partition(" - ")
        series, title = _clean_spacing(head), _clean_spacing(rest)
    if " - " in series:
        series = _clean_spacing(series.split(" - ")[0])
    title = re.sub(r"\s*-\s*$", "", title)
    title = _clean_spacing(" ".join(part for part in title.split(" - ") if _clean_spacing(part)))
    if not normalize(series):
        series = _series_from_parent(parent) or ""
    tome_text = _canonical_tome(kind, number, letter or "") if kind else None
    tome_kind = kind if kind else ("oneshot" if one_shot else None)
    return ParsedName(
        raw=raw,
        series=series or None,
        series_norm=normalize(series) if series else "",
        tome=tome_text,
        tome_number=number,
        tome_kind=tome_kind,
        title=title or None,
        title_norm=normalize(title) if title else "",
        year=found.get("year"),  # type: ignore[arg-type]
        publisher=found.get("publisher"),  # type: ignore[arg-type]
        isbn=found.get("isbn"),  # type: ignore[arg-type]
        cycle=cycle,
        language=found.get("language"),  # type: ignore[arg-type]
        noise=noise,
    )
