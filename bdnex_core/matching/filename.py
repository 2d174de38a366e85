"""What a comic's file name says: series, tome, title, year, publisher, ISBN.

French BD libraries follow a few conventions (``Série - T01 - Titre``, ``Série Tome 1``,
``Série 01 Titre``, dotted or underscored names, ``[group]``/``(2015)``/``[FR]``/``(Dupuis)``
noise, hors-séries, intégrales, cycles, lettered tomes, one-shots, and files named just
``T01.cbz`` inside a folder named after the series). This module turns any of them into
a :class:`ParsedName`. It does no I/O and knows nothing of the catalogue.

How a name is read, in order: path and extension off; dots, underscores and slug hyphens
become spaces; an ISBN is taken out; bracketed groups are classified (year, language,
publisher, ISBN, one-shot, a tome such as ``(T3)``, or noise); scene-release tags at the end
(``FRENCH.CBZ.eBook-Team``) and a team after a bracketed tag (``(HD) - Team``) go; noise words
(``c2c``, ``HD``, ``1920px``, ``v2``) go; then the tome is chosen, the likeliest reading first:

1. a tome in brackets, ``Astérix (T3) Titre``;
2. a number opening the name before a separator, ``01 - Titre`` (the series is the folder);
3. a range, ``T1-3`` / ``Intégrale T1 à T3`` (an intégrale);
4. an explicit marker: ``T01``, ``T.1``, ``Tome 1``, ``#3``, ``HS2``, ``Hors-série 1``, ``INT2``,
   ``Intégrale 2``, a roman tome I..XXX after a marker (``Tome VI``, ``Livre IV``, ``Vol. XII``;
   never a bare numeral: ``XIII``, ``V pour Vendetta``) — numbered markers before bare
   ``HS``/``INT`` words, which count only as their own segment (``Série - HS - Titre``,
   ``Série INT``), not inside a series name;
5. a number opening the name before words, when a folder can give the series;
6. an implicit number: between separators (``Série - 40``), after ``Vol``/``n°``, or plain
   (``Série 01 Titre``), skipping numbers followed by ``ans``, ordinals (``2e série``) and
   four-digit numbers (``1984``, ``Paris 2119``).

A name marked as a one-shot (``(One shot)``, ``Album unique``) takes only steps 1, 3 and 4: its
numbers belong to its title. What precedes the tome is the series (a cycle joined to it stays:
Bédéthèque names series ``Rozen Maiden Saison 2``; a segment between series and tome is title),
what follows the title. Other plausible readings are kept in ``alternatives`` for the matcher to
try: other numbers when the tome was guessed or written without one (``L'intégrale - 0011``; never
a title's ``Part 1`` beside a written marker), the folder as the series with the whole name as title,
and a leading ``[bracket]`` as the series (``[Gamaran] T17``), which is the reading itself when the
name has no other series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from bdnex_core.isbn import isbn_is_valid
from bdnex_core.matching.normalize import normalize

EXTENSIONS = re.compile(r"\.(cbz|cbr|cb7|cbt|pdf|zip|rar|7z|epub)$", re.IGNORECASE)
BRACKETED = re.compile(r"\[([^\]]*)\]|\(([^)]*)\)|\{([^}]*)\}")
YEAR = re.compile(r"^(19[0-9]{2}|20[0-9]{2})$")
LANGUAGE_TAGS = {
    "fr": "fr",
    "vf": "fr",
    "french": "fr",
    "francais": "fr",
    "en": "en",
    "eng": "en",
    "vo": None,
    "nl": "nl",
    "es": "es",
    "de": "de",
    "it": "it",
}
# Only words that never belong to a name; anything else counts as noise only inside brackets.
NOISE_WORDS = re.compile(
    r"\b(c2c|hd|hq|scan(?:s|ne|ned)?|webrip|repack|fixed|ocr|\d{3,4}px?|v\d)\b",
    re.IGNORECASE,
)
# Release tags that end scene names ("Série.T01.Titre.FRENCH.CBZ.eBook-Team", "... FRENCH CBZ"): a run of
# them at the end, with the team after a dash, goes when it holds a tag no title ends with (FRENCH, CBZ, eBook)
_RELEASE_TAG = r"(?:(?:true)?french|multi|comics?|cb[zrt7]|pdf|epub|e-?books?|hd|digital|web(?:rip)?)"
RELEASE_TAIL = re.compile(
    rf"(?:(?<=\s)|^){_RELEASE_TAG}(?:[\s\x01]+{_RELEASE_TAG})*(?:[\s\x01]*-\s*[a-z0-9]+)?[\s\x01]*$", re.IGNORECASE
)
STRONG_RELEASE_TAG = re.compile(r"\b(?:(?:true)?french|cb[zrt7]|e-?books?|epub)\b", re.IGNORECASE)
NOISE_MARK = "\x01"  # stands where a bracketed tag was, until the team after it is read
TEAM_AFTER_TAG = re.compile(r"\x01[\s\x01]*-\s*[a-z0-9]+[\s\x01]*$", re.IGNORECASE)  # "(HD) - NoTag"
# "[Gamaran]", "[I.R.$.]", "[6000]": a letter or two digits (not a "[1]" duplicate counter)
LEADING_BRACKET = re.compile(r"^\s*\[(?P<content>(?=[^\[\]]*(?:[^\W\d_]|\d\d))[^\[\]]+)\]\s*(?P<rest>.*)$")
PUBLISHERS = (
    "Dupuis",
    "Dargaud",
    "Casterman",
    "Le Lombard",
    "Lombard",
    "Glénat",
    "Soleil",
    "Soleil Productions",
    "Delcourt",
    "Fluide Glacial",
    "Futuropolis",
    "Les Humanoïdes Associés",
    "Humanoïdes Associés",
    "Bamboo",
    "Vents d'Ouest",
    "Vent d'Ouest",
    "Kana",
    "Urban Comics",
    "Panini",
    "Panini Comics",
    "Marsu Productions",
    "Albin Michel",
    "Gallimard",
    "Rue de Sèvres",
    "Grand Angle",
    "Ankama",
    "Sandawe",
    "Kennes",
    "Paquet",
    "Akileos",
    "Pika",
    "Kurokawa",
    "Ki-oon",
    "Tonkam",
    "Delcourt Tonkam",
    "Le Label Dargaud",
    "Jungle",
    "Hachette",
    "Les Arènes",
    "Steinkis",
    "Éditions Jungle",
    "Comix Buro",
    "Hugo BD",
    "Bac@BD",
    "Le Lézard Noir",
    "Cornélius",
    "L'Association",
    "Rackham",
    "Mosquito",
    "Sakka",
    "Kazé",
    "Doki-Doki",
    "Vega",
    "Black Box",
    "Les Éditions Dupuis",
    "Éditions Dupuis",
    "Blake et Mortimer",
    "Éditions Blake et Mortimer",
    "Cambourakis",
    "Çà et là",
    "Actes Sud BD",
    "Fluide.G",
    "Drakoo",
    "Dupuis Jeunesse",
    "Glénat Manga",
    "Kana Dark",
    "Ki-oon Seinen",
    "Milan",
    "Bayard",
)
PUBLISHER_KEYS = {normalize(name): name for name in PUBLISHERS if name not in ("Blake et Mortimer",)}
ISBN_CANDIDATE = re.compile(r"(?<![0-9])(97[89][- ]?(?:[0-9][- ]?){9}[0-9]|(?:[0-9][- ]?){9}[0-9xX])(?![0-9])")

# A tome number: a single letter makes a lettered tome ('1a'); longer suffixes ('10VC', '2TL')
# are edition marks, and ordinals ('2e série', '1re') are not tomes at all.
_ORDINAL = r"(?!(?:e|er|re|eme|ème|nd|rd|th)\b)"
_N = rf"(?P<num>\d{{1,4}}){_ORDINAL}(?:(?P<letter>[a-z])(?![a-z]))?(?![0-9])"
_N3 = rf"(?P<num>\d{{1,3}}){_ORDINAL}(?:(?P<letter>[a-z])(?![a-z]))?(?![0-9])"
_INT_WORD = r"(?:int[ée]grales?|int|integral)(?![a-z])"
# "Tome VI", "Livre IV", "#XII": a roman tome only right after a marker (so "XIII", "V pour Vendetta"
# stay series); a bare "T" must start a word ("Don't I" is no tome) and be followed by a dot or a space
# ("T. II", "T IV"; "Le ti" is a title); validity is checked on the value
_ROMAN = r"(?P<roman>[ivx]{1,6})(?![\w'’])"
_ROMAN_MARKER = r"(?:(?<![\w'’])(?:tomes?|vol|volume|livre|n[°o])\.?\s*|(?<![\w'’])t(?:\.\s*|\s+)|#\s*)"
TOME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # "Série - Intégrale - Tome 3": the intégrale word as its own segment owns the number after it
    ("int", re.compile(rf"(?:^|(?<=- ))(?:l')?{_INT_WORD}\.?\s*-\s*(?:tomes?|t)\.?\s*{_N3}", re.IGNORECASE)),
    ("int", re.compile(rf"\b{_INT_WORD}\.?(?:\s*(?:(?:tomes?|t)\.?\s*)?{_N3})?", re.IGNORECASE)),
    ("hs", re.compile(rf"\b(?:hors[\s-]*s[ée]ries?|hs)(?![a-z])\.?(?:\s*(?:n[°o]?\s*)?{_N3})?", re.IGNORECASE)),
    ("regular", re.compile(rf"\b(?:tomes?|t)(?:\.\s*|\s*-?\s*){_N}", re.IGNORECASE)),
    ("regular", re.compile(rf"#\s*{_N}", re.IGNORECASE)),
    ("regular", re.compile(rf"{_ROMAN_MARKER}{_ROMAN}", re.IGNORECASE)),
)
# Weaker markers: often part of a series name ("Conan Vol 1 1970"), used when nothing better is there.
WEAK_TOME_PATTERN = re.compile(
    rf"\b(?:vol|volume|album|livre|chapitre|episode|ep|n[°o]|no|num[ée]ro)\.?\s*{_N}", re.IGNORECASE
)
NUMBER_SEGMENT = re.compile(
    rf"(?:^|\s-\s)\s*(?P<num>\d{{1,3}}|0\d{{3}}){_ORDINAL}(?P<letter>[a-z])?\s*(?=\s-\s|$)", re.IGNORECASE
)
LEADING_NUMBER = re.compile(
    rf"^(?P<num>\d{{1,3}}){_ORDINAL}(?:(?P<letter>[a-z])(?![a-z]))?(?P<after>\s*-\s*|\s*$|\s+)", re.IGNORECASE
)
# "T1-3", "T01-T03", "Tomes 1 à 3", "Intégrale T1 à T3": several tomes in one file, an intégrale.
# A plain " - " between numbers is a separator ("Série - T01 - 300 Spartiates"), not a range.
RANGE_AS_INT = re.compile(
    r"(?:\b(?:l\s*')?(?:int[ée]grales?|int)\s*)?"
    r"(?:\b(?:t|tomes?)\.?\s*(?P<first>\d{1,3})(?:-|\s+(?:à|a|au|et)\s+|\s*-\s*(?=t))(?:t\.?\s*)?(?P<last>\d{1,3})"
    r"|(?<![\w-])(?P<bare_first>\d{1,3})-(?P<bare_last>\d{1,3})(?![\w-]))(?![0-9])",
    re.IGNORECASE,
)
CYCLE = re.compile(r"\b(?:cycle|saison|arc)\s*(?P<num>\d{1,2}|[ivx]{1,4})\b", re.IGNORECASE)
ONE_SHOT = re.compile(r"\b(?:one[\s-]?shot|album unique)\b", re.IGNORECASE)
BARE_NUMBER = re.compile(rf"(?<![\w.])(?P<num>\d{{1,3}}|0\d{{3}}){_ORDINAL}(?P<letter>[a-z])?(?![\w.])", re.IGNORECASE)
NOT_A_TOME_AFTER = {
    "ans",
    "an",
    "jours",
    "jour",
    "heures",
    "nuits",
    "minutes",
    "fois",
    "eme",
    "e",
    "er",
    "mille",
    "000",
}
ROMAN = {
    "x" * tens + units: 10 * len("x" * tens) + value
    for tens in range(4)
    for value, units in enumerate(("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix"))
    if tens or units
}  # i..xxxix
ROMAN_TOMES = {key: value for key, value in ROMAN.items() if value <= 30}
SEPARATOR_EDGES = " -_.,:;~+"
PARENT_IGNORED = {
    "bd",
    "comics",
    "bandes dessinees",
    "bande dessinee",
    "downloads",
    "telechargements",
    "a trier",
    "inbox",
    "new",
}
TOME_MARK = "\x00"  # stands where a bracketed tome was: "Astérix (T3) Titre"
# Words that say which edition a file is, not which album: "(rééd. 2000)", "- EO", "édition spéciale", "N&B"
EDITION_WORDS = re.compile(
    r"(?:^|(?<=[\s(\[-]))(?:r[ée][ée]d(?:ition)?\.?(?:\s+(?P<year>(?:19|20)\d\d))?"
    r"|[ée]d(?:ition)?\.?\s+(?:sp[ée]ciale|originale|collector|limit[ée]e|anniversaire|luxe|de\s+luxe)"
    r"|(?-i:EO)|[ée]dition\s+originale|n\s*&\s*b|noir\s+(?:et|&)\s+blanc|tirage\s+de\s+t[êe]te)(?=$|[\s)\].,-])",
    re.IGNORECASE,
)
# Tags some libraries put first: "FR - Série", "BD - Série", "BD.FR.Série"
PREFIX_TAG = r"(?:fr|vf|bd|bds|comics?|manga|ebook|scan|french)"
DOTTED_TAGS = re.compile(rf"^(?:{PREFIX_TAG}[._])+(?=[^._])", re.IGNORECASE)
LEADING_TAGS = re.compile(rf"^\s*(?:{PREFIX_TAG}\s*-\s*|{PREFIX_TAG}\s+{PREFIX_TAG}\s+)+(?=\S)", re.IGNORECASE)
# "Tome 55 sur 214", "T2 de 3": the total is no title
TOME_TOTAL = re.compile(
    r"(?P<tome>\b(?:tomes?|t|vol|volume|livre|n[°o])\.?\s*\d{1,3}[a-z]?)\s*(?:sur|de|of|/)\s*\d{1,3}\b", re.IGNORECASE
)
CARDINALS = {
    word: value
    for value, words in enumerate(
        (
            (),
            ("un", "une", "premier", "premiere", "1er", "1re"),
            ("deux", "deuxieme", "second", "seconde", "2e", "2eme"),
            ("trois", "troisieme"),
            ("quatre", "quatrieme"),
            ("cinq", "cinquieme"),
            ("six", "sixieme"),
            ("sept", "septieme"),
            ("huit", "huitieme"),
            ("neuf", "neuvieme"),
            ("dix", "dixieme"),
            ("onze", "onzieme"),
            ("douze", "douzieme"),
            ("treize", "treizieme"),
            ("quatorze", "quatorzieme"),
            ("quinze", "quinzieme"),
            ("seize", "seizieme"),
            ("dix sept", "dix septieme"),
            ("dix huit", "dix huitieme"),
            ("dix neuf", "dix neuvieme"),
            ("vingt", "vingtieme"),
        )
    )
    for word in words
}
_NUMBER_WORD = r"(?:dix[\s-](?:sept|huit|neuf)(?:i[eè]me)?|[a-zéèê]+|1er|1re|2e|2[eè]me)"
_TOME_WORD = r"(?:tome|livre|volume|[ée]pisode)"
# "Tome quatre", "Livre dix", "Tome premier"; "troisième tome", "Premier livre"
WORD_AFTER_MARKER = re.compile(rf"\b(?P<marker>{_TOME_WORD})\s+(?P<number>{_NUMBER_WORD})\b", re.IGNORECASE)
WORD_BEFORE_MARKER = re.compile(rf"\b(?P<number>{_NUMBER_WORD})\s+(?P<marker>{_TOME_WORD})\b", re.IGNORECASE)
# Letters of scripts that normalisation drops (Greek and Cyrillic, Hebrew and Arabic, Thai, kana, CJK, Hangul),
# as code point ranges: a character class this wide costs every process 2 ms to compile
OTHER_SCRIPTS = (
    (0x0370, 0x04FF),
    (0x0590, 0x06FF),
    (0x0E00, 0x0E7F),
    (0x3040, 0x30FF),
    (0x3400, 0x9FFF),
    (0xAC00, 0xD7AF),
)


def in_other_script(text: str) -> bool:
    """Whether ``text`` has a letter of a script normalisation drops."""
    return not text.isascii() and any(low <= ord(char) <= high for char in text for low, high in OTHER_SCRIPTS)


# "Undertaker02LaDansedesvautours": words run together, told apart by their capitals and digits
RUN_TOGETHER = re.compile(
    r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ0-9])|(?<=[A-ZÀ-Þ])(?=[0-9])|(?<=[0-9])(?=[A-Za-zÀ-ÿ])"
    r"|(?<=[A-ZÀ-Þ])(?=[A-ZÀ-Þ][a-zà-ÿ])"  # an acronym then a word: "GTOParadise", "AUTVadot"
)


@dataclass(frozen=True)
class ParsedName:
    raw: str
    series: str | None = None
    series_norm: str = ""
    tome: str | None = None  # canonical: '1', '12', '1a', '0', 'HS', 'HS1', 'INT', 'INT2'
    tome_number: int | None = None
    tome_kind: str | None = None  # regular, hs, int, oneshot; None when unknown
    title: str | None = None
    title_norm: str = ""
    year: int | None = None
    publisher: str | None = None
    isbn: str | None = None
    cycle: int | None = None
    language: str | None = None
    noise: tuple[str, ...] = field(default_factory=tuple)
    # the title's segments ("Offspring - Morvan - Dorison": authors after the title), normalised
    title_segments: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # the segments before the tome, as written; the first is the series ("Goux - Avengers - Tome 39")
    series_segments: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # the title holds segments a reading moved out of the series place (an author, or the title itself)
    title_moved: bool = field(default=False, repr=False, compare=False)
    # words in a script normalisation drops ("最後の希望"): what they say is never compared
    unread: bool = field(default=False, repr=False, compare=False)
    # segments a reading leaves out as an author or noise ("Goux" of "Goux - Série - T02"), normalised
    dropped: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # the tome was written with a marker ("T51", "Tome 3", "#4", "HS2"), not guessed from a bare number
    tome_explicit: bool = field(default=False, repr=False, compare=False)
    # other readings of an ambiguous name (another number as the tome, or none), likeliest first
    alternatives: tuple[ParsedName, ...] = field(default=(), repr=False, compare=False)


class _Tome(NamedTuple):
    start: int
    end: int
    kind: str  # regular, hs, int
    number: int | None
    letter: str
    explicit: bool  # written with a marker (T, Tome, #, HS, INT), not guessed from a bare number


def find_isbn(text: str) -> tuple[str | None, str]:
    """A valid ISBN-13/10 in ``text`` (digits only), and the text without it."""
    for match in ISBN_CANDIDATE.finditer(text):
        digits = re.sub(r"[- ]", "", match.group(1))
        if isbn_is_valid(digits):
            return digits.upper(), text[: match.start()] + " " + text[match.end() :]
    return None, text


def _clean_spacing(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(SEPARATOR_EDGES)


def _despace(stem: str) -> str:
    """Dots, underscores and slug hyphens used as spaces become spaces ('Les.Tuniques.Bleues.T12')."""
    if "_" in stem:
        stem = stem.replace("_", " ")
    if "." in stem:  # 'Les.Tuniques.Bleues', '9.Retrouvailles', 'T.01'; 'Spirou 1.5' keeps its dot
        core = BRACKETED.sub("", stem).strip()
        dotted = core.count(".") >= 2 or " " not in core
        stem = stem.replace(".", " ") if dotted else re.sub(r"(?<!\d)\.|\.(?!\d)", " ", stem)
    # 'L-Epee-de-Feu-Tome-1' (hyphens only, no spaces); 'Spider-Man' and 'T01-T03' keep theirs
    # (hyphens inside brackets do not count: '[Digital-1920]-Team' is a tag and a team, not a slug)
    return " ".join(
        word.replace("-", " ") if BRACKETED.sub("", word).count("-") >= 2 else word for word in stem.split(" ")
    )


def _path_parts(path: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\\/]", path) if part.strip()]


def _classify_group(content: str, found: dict[str, object], noise: list[str]) -> str | None:
    """Read one bracketed group; return what replaces it in the name (None: keep it as written)."""
    text = content.strip()
    key = normalize(text)
    if not key:
        return " - "
    if key in ("les", "le", "la", "l", "the"):
        return None  # "Tuniques Bleues (Les)": the article belongs to the series name
    edition = EDITION_WORDS.fullmatch(text)
    if edition is not None:  # "(rééd. 2000)", "(EO)": which edition the file is, and its year
        if edition["year"]:
            found.setdefault("year", int(edition["year"]))
        noise.append(text)
        return f" {NOISE_MARK} "
    if YEAR.match(key):
        found.setdefault("year", int(key))
    elif ONE_SHOT.fullmatch(key):
        found["one_shot"] = True
        noise.append(text)
    elif key in LANGUAGE_TAGS:
        if LANGUAGE_TAGS[key]:
            found.setdefault("language", LANGUAGE_TAGS[key])
    elif key in PUBLISHER_KEYS:
        found.setdefault("publisher", PUBLISHER_KEYS[key])
    elif find_isbn(text)[0]:
        found.setdefault("isbn", find_isbn(text)[0])
    else:
        markers = _explicit_tomes(text)
        tome = markers[0] if markers else None
        rest = _clean_spacing(text[: tome.start] + text[tome.end :]) if tome is not None else ""
        if tome is not None and "tome_match" not in found and not rest:
            found["tome_match"] = tome
            return f" {TOME_MARK} "
        if tome is not None and "tome_match" not in found and tome.number is not None and text[tome.start :].strip():
            before = text[: tome.start].rstrip(" ,;-")
            if before and text[: tome.start].rstrip().endswith(",") and not _clean_spacing(text[tome.end :]):
                # "Titre (Série, tome 22)": the series and the tome, written after the title
                found["tome_match"], found["bracket_series"] = tome._replace(start=0, end=1), _clean_spacing(before)
                return f" {TOME_MARK} "
        noise.append(text)  # [group], (scan), "(1)" duplicate counters...
        return f" {NOISE_MARK} "
    return " - "


def _own_segment(text: str, start: int, end: int, *, both_sides: bool = False) -> bool:
    """Whether text[start:end] stands apart: at an end of the name or next to a ' - ' separator
    (on both sides with ``both_sides``)."""
    before, after = text[:start].rstrip(), text[end:].lstrip()
    apart_before, apart_after = not before or before.endswith("-"), not after or after.startswith("-")
    return apart_before and apart_after if both_sides else apart_before or apart_after


def _tome_from_match(kind: str, match: re.Match[str]) -> _Tome:
    groups = match.groupdict()
    number = int(groups["num"]) if groups.get("num") else None
    if groups.get("roman"):
        number = ROMAN_TOMES.get(groups["roman"].lower())
    return _Tome(match.start(), match.end(), kind, number, (groups.get("letter") or "").lower(), True)


def _explicit_tomes(text: str) -> list[_Tome]:
    """Every explicit tome marker, the likeliest first: numbered ones ("Tome 20") before bare
    "HS"/"INT", then by position. The words "Hors série"/"Intégrale" without a number count only
    as their own segment ("Série - Hors série - Titre")."""
    found = []
    for kind, pattern in TOME_PATTERNS:
        for match in pattern.finditer(text):
            tome = _tome_from_match(kind, match)
            if match.groupdict().get("roman") and tome.number is None:
                continue  # "Tome VV", "T XL": not a tome we read
            short = text[tome.start : tome.end].strip(" .").lower() in ("hs", "int")
            if tome.number is None and not short and not _own_segment(text, tome.start, tome.end):
                continue  # "Serie jaune Hors serie Elvifrance": the words are part of a series name
            found.append(tome)
    unique = {(tome.start, tome.end): tome for tome in reversed(found)}  # first pattern wins a span
    return sorted(unique.values(), key=lambda tome: (tome.number is None, tome.start, tome.kind == "regular"))


def _range_tome(text: str) -> _Tome | None:
    """'Blueberry T1-3', 'Intégrale T1 à T3': an intégrale whose number the name does not give."""
    for match in RANGE_AS_INT.finditer(text):
        first, last = match["first"] or match["bare_first"], match["last"] or match["bare_last"]
        if normalize(text[: match.start()]) and int(first) < int(last):
            return _Tome(match.start(), match.end(), "int", None, "", True)
    return None


def _leading_tome(text: str, *, words_allowed: bool) -> _Tome | None:
    """'01 - Titre', '03', and with a folder for the series '14 La sangre': the name opens with its tome."""
    match = LEADING_NUMBER.match(text)
    if match is None:
        return None
    if match["after"].strip() != "-" and match.end() < len(text) and not words_allowed:
        return None  # "13 rue de l'Espoir", "300 Spartiates": a title that starts with a number
    end = match.end() if match["after"].strip() == "-" else match.end("num") + len(match["letter"] or "")
    return _Tome(0, end, "regular", int(match["num"]), (match["letter"] or "").lower(), False)


def _bare_numbers(text: str) -> list[_Tome]:
    return [
        _Tome(match.start(), match.end(), "regular", int(match["num"]), (match["letter"] or "").lower(), False)
        for match in BARE_NUMBER.finditer(text)
        if normalize(text[: match.start()])
    ]


def _ends_segment(text: str, end: int) -> bool:
    return re.match(r"\s*(?:-\s|$)", text[end:]) is not None


def _implicit_tome(text: str) -> _Tome | None:
    """A tome without 'T'/'Tome'/'#': a number between dashes ('Série - 40 - Titre'), a weak marker
    ('Vol 2'), or the last plain number ('Les Tuniques Bleues 12', 'Conan Vol 1 1970 157')."""
    segment = next((m for m in NUMBER_SEGMENT.finditer(text) if normalize(text[: m.start("num")])), None)
    if segment is not None:
        return _Tome(
            segment.start("num"),
            segment.end(),
            "regular",
            int(segment["num"]),
            (segment["letter"] or "").lower(),
            False,
        )
    weak = WEAK_TOME_PATTERN.search(text)
    ending = [match for match in WEAK_TOME_PATTERN.finditer(text) if _ends_segment(text, match.end())]
    if ending:  # "Selecciones Marvel Vol1 - Vol.22 - Nova": the last marker closing a segment is the tome's
        weak = ending[-1]
    bare = None
    for match in BARE_NUMBER.finditer(text):
        if not normalize(text[: match.start()]):
            continue  # a leading number belongs to the title ("1984", "13 rue de l'Espoir") or the parent rule
        if weak is not None and weak.start() <= match.start() < weak.end():
            continue
        after_words = normalize(text[match.end() :]).split()
        if after_words and after_words[0] in NOT_A_TOME_AFTER:
            continue
        if bare is None or not bare.group("num").startswith("0") or match.group("num").startswith("0"):
            bare = match  # the last one, unless an earlier one is zero-padded like a tome ("Série 01 Titre 2")
    if (
        weak is not None
        and bare is not None
        and bare.start() < weak.start()
        and (bare["num"].startswith("0") or int(bare["num"]) == int(weak["num"]))
    ):
        weak = None  # 'Lune de sang 03 Vol 3', 'Nevada Lug 383 Numero 383': the first number is the tome
    if weak is not None and (bare is None or bare.start() < weak.start() or _ends_segment(text, weak.end())):
        return _tome_from_match("regular", weak)._replace(explicit=False)
    if bare is not None:
        return _Tome(
            bare.start(), bare.end(), "regular", int(bare.group("num")), (bare.group("letter") or "").lower(), False
        )
    return None


def _canonical_tome(tome: _Tome) -> str | None:
    if tome.kind == "hs":
        return f"HS{tome.number}" if tome.number is not None else "HS"
    if tome.kind == "int":
        return f"INT{tome.number}" if tome.number is not None else "INT"
    return None if tome.number is None else f"{tome.number}{tome.letter}"


def _series_from_parent(parent: str | None) -> str | None:
    if not parent:
        return None
    cleaned = _clean_spacing(BRACKETED.sub(" ", _despace(parent)))
    return cleaned if cleaned and normalize(cleaned) not in PARENT_IGNORED else None


def _choose_tome(text: str, found: dict[str, object], *, has_parent: bool, one_shot: bool) -> _Tome | None:
    if TOME_MARK in text:
        start = text.index(TOME_MARK)
        return found["tome_match"]._replace(start=start, end=start + 1)  # type: ignore[attr-defined]
    explicit = _marked_tome(text)
    if one_shot:  # 'Push 2015 05 (One shot)': numbers are the title's, unless written as a tome
        return explicit
    return (
        _leading_tome(text, words_allowed=False)
        or explicit
        or (_leading_tome(text, words_allowed=True) if has_parent else None)
        or _implicit_tome(text)
    )


def _marked_tome(text: str) -> _Tome | None:
    """The first range or explicit marker; a range ('Intégrale T1 à T3') beats a marker found later,
    not a numbered one before it ('Intégrale 1 - tomes 1 à 4')."""
    ranged = _range_tome(text)
    marker = next(iter(_explicit_tomes(text)), None)
    if ranged is None or (marker is not None and marker.number is not None and marker.end <= ranged.start):
        return marker
    return ranged


def _strip_release_tags(text: str, noise: list[str]) -> str:
    """Scene tags at the end ('FRENCH CBZ eBook-Team') and a team after a bracketed tag ('(HD) - NoTag')."""
    tail = RELEASE_TAIL.search(text)
    if (
        tail is not None
        and STRONG_RELEASE_TAG.search(tail.group())
        and normalize(text[: tail.start()])
        and (normalize(tail.group()) != "french" or "FRENCH" in tail.group())  # a title may end in "french"
    ):
        noise.append(tail.group().replace(NOISE_MARK, " ").strip())
        text = text[: tail.start()] + f" {NOISE_MARK} "
    team = TEAM_AFTER_TAG.search(text)
    if team is not None and normalize(text[: team.start()]):
        noise.append(team.group().strip(f" -{NOISE_MARK}"))
        text = text[: team.start()]
    return text.replace(NOISE_MARK, " - ")


def _bracketed_series(stem: str) -> str | None:
    """'[Gamaran] T17 (scan fr)': the name rewritten with its first bracket as the series ('Gamaran - T17 ...'),
    when that bracket says nothing else (not a year, language, publisher, ISBN or tome)."""
    match = LEADING_BRACKET.match(stem)
    if match is None or not match["rest"]:
        return None
    if _classify_group(match["content"], {}, []) != f" {NOISE_MARK} ":
        return None
    return f"{match['content'].strip()} - {match['rest']}"


def _without_edition_words(title: str, noise: list[str]) -> tuple[str, int | None]:
    """The title without the words that name an edition ("rééd. 2000", "EO", "N&B"), and the year they give."""
    year = None
    for match in EDITION_WORDS.finditer(title):
        noise.append(match.group().strip())
        if match["year"]:
            year = int(match["year"])
    if year is None and not noise:
        return title, None
    cleaned = EDITION_WORDS.sub(" ", title)
    cleaned = re.sub(r"\(\s*\)|\[\s*\]", " ", cleaned)
    return re.sub(r"(?:\s*-\s*){2,}", " - ", cleaned).strip(SEPARATOR_EDGES), year


def _number_word(word: str) -> int | None:
    return CARDINALS.get(normalize(word))


def _tomes_in_words(text: str) -> str:
    """'Tome quatre', 'Livre dix', 'Tome premier', 'troisième tome' -> 'Tome 4', 'Tome 10', 'Tome 1', 'Tome 3'."""

    # written as an explicit tome: "Livre dix" says it is a tome as clearly as "Tome 10" ("Vol 2 - Livre deux")
    def after(match: re.Match[str]) -> str:
        number = _number_word(match["number"])
        return match.group() if number is None else f"Tome {number}"

    def before(match: re.Match[str]) -> str:
        word = normalize(match["number"])
        number = CARDINALS.get(word)
        # only an ordinal: "un tome de trop" has an article, not a number
        if number is None or not (word.endswith(("ieme", "er", "re", "e", "nd", "nde")) and word not in ("une",)):
            return match.group()
        return f"Tome {number}"

    return WORD_BEFORE_MARKER.sub(before, WORD_AFTER_MARKER.sub(after, text))


def _split_run_together(stem: str) -> str:
    """'Undertaker02LaDansedesvautours' -> 'Undertaker 02 La Dansedesvautours' (a name with no separator)."""
    if re.search(r"[\s._\-\[\]()]", stem):
        return stem
    if len(RUN_TOGETHER.findall(stem)) < 2 and not re.search(r"[^\W\d_]{3}\d", stem):
        return stem  # one capital inside a word ('McCoy') is no boundary; a number after a word is ('Spirou02')
    return RUN_TOGETHER.sub(" ", stem)


def _noted(noise: list[str], text: str) -> str:
    """Keep ``text`` among the noise; what replaces it in the name (a space)."""
    noise.append(text)
    return " "


def parse_filename(name: str, parent: str | None = None) -> ParsedName:
    """Parse a comic file name (with or without extension, or a path); ``parent`` is its folder's name."""
    folders = _path_parts(name)
    stem = folders[-1] if folders else ""
    if parent is None and len(folders) > 1:
        parent = folders[-2]  # 'Nains/T01.cbz': a path carries its folder
    elif parent:
        parent = next(reversed(_path_parts(parent)), None)  # a whole folder path: its last part
    while EXTENSIONS.search(stem):
        stem = EXTENSIONS.sub("", stem)
    found: dict[str, object] = {}
    noise: list[str] = []
    isbn, stem = find_isbn(stem)
    if isbn:
        found["isbn"] = isbn
    tags = DOTTED_TAGS.match(stem)
    if tags is not None and normalize(stem[tags.end() :]):  # "FR.Série.T01", "BD_FR_Série"
        noise.append(tags.group().strip("._"))
        stem = stem[tags.end() :]
    stem = _despace(_split_run_together(stem))
    bracketed = _bracketed_series(stem)

    def consume(match: re.Match[str]) -> str:
        content = next(group for group in match.groups() if group is not None)
        replacement = _classify_group(content, found, noise)
        return match.group(0) if replacement is None else replacement

    text = BRACKETED.sub(consume, stem)
    text = _strip_release_tags(text, noise)
    text = NOISE_WORDS.sub(lambda m: _noted(noise, m.group()), text)
    one_shot = bool(ONE_SHOT.search(text)) or "one_shot" in found
    text = ONE_SHOT.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip(SEPARATOR_EDGES)  # what removed groups left at the ends
    untagged = LEADING_TAGS.sub("", text)
    if normalize(untagged) and untagged != text:  # "FR - Série", "BD.FR.Série"
        noise.append(text[: len(text) - len(untagged)].strip(" -"))
        text = untagged
    text = _tomes_in_words(TOME_TOTAL.sub(r"\g<tome>", text))

    cycle_match = CYCLE.search(text)
    cycle = None
    if cycle_match:
        value = cycle_match["num"].lower()
        cycle = int(value) if value.isdigit() else ROMAN.get(value)
        last = not text[cycle_match.end() :].strip(SEPARATOR_EDGES)
        after_tome = last and bool(_explicit_tomes(text[: cycle_match.start()]))
        # "Sillage - Cycle 2 - T08": a segment of its own; "Rozen Maiden Saison 2" keeps it; and "Série - T03 -
        # Cycle I", the segment after the tome, is its title (an intégrale is titled so)
        if _own_segment(text, cycle_match.start(), cycle_match.end(), both_sides=True) and not after_tome:
            text = (text[: cycle_match.start()] + " - " + text[cycle_match.end() :]).strip(" ")
            text = re.sub(r"(?:\s*-\s*){2,}", " - ", text).strip(SEPARATOR_EDGES)

    tome = _choose_tome(text, found, has_parent=bool(_series_from_parent(parent)), one_shot=one_shot)
    extras: dict[str, Any] = {
        "raw": name,
        "parent": parent,
        "found": found,
        "noise": tuple(noise),
        "one_shot": one_shot,
        "cycle": cycle,
    }
    parsed = _assemble(text, tome, **extras)
    if tome is not None and TOME_MARK not in text:
        # which number is the tome is a guess when names carry others ("Ms Marvel 2006 21 ... part 1",
        # "Serie bleue ... Hors serie Elvifrance Tome 20"): keep the other readings for the matcher to try
        # numbers inside a title ("Alignment Earth Part 1", "1914-1918") are no tome beside a written marker
        # a marker without a number ("Buck Danny L'intégrale - 0011") leaves the numbers their chance
        guesses = _explicit_tomes(text) + ([] if tome.explicit and tome.number is not None else _bare_numbers(text))
        others = [other for other in guesses if other[:2] != tome[:2]]
        readings = [_assemble(text, other, **extras) for other in others[:4]]
        if not tome.explicit:
            readings.append(_assemble(text, None, **extras))  # no tome at all: a number in a one-shot's name
        parsed = replace(parsed, alternatives=tuple(readings))
    folder = _series_from_parent(parent)
    guessed = parsed.tome is None or (tome is not None and not tome.explicit)
    if folder and guessed and parsed.series and (normalize(folder) != parsed.series_norm or tome is not None):
        # "Nains/Redwin de la Forge.cbz": a file named by its title inside its series' folder
        # the whole name is the title ("Scattered part 8": its number is the title's)
        title_parts = tuple(part for part in map(_clean_spacing, text.split(" - ")) if normalize(part))
        reading = replace(
            parsed,
            series=folder,
            series_norm=normalize(folder),
            tome=None,
            tome_number=None,
            tome_kind="oneshot" if one_shot else None,
            title=" - ".join(title_parts),
            title_norm=normalize(" ".join(title_parts)),
            title_segments=tuple(normalize(part) for part in title_parts),
            series_segments=(),
            alternatives=(),
        )
        parsed = replace(parsed, alternatives=(*parsed.alternatives, reading))
    if bracketed is not None:
        # the bracket is a series or a team's tag: only the catalogue can tell, so both readings are offered
        reading = replace(parse_filename(bracketed, parent), raw=name)
        if parsed.series is None:
            return reading
        parsed = replace(parsed, alternatives=(*parsed.alternatives, reading))
    return parsed


def _assemble(
    text: str,
    tome: _Tome | None,
    *,
    raw: str,
    parent: str | None,
    found: dict[str, object],
    noise: tuple[str, ...],
    one_shot: bool,
    cycle: int | None,
) -> ParsedName:
    kept_noise = list(noise)
    series_text, title_text = (text[: tome.start], text[tome.end :]) if tome is not None else (text, "")
    series, title = _clean_spacing(series_text), _clean_spacing(title_text)
    segments = tuple(
        part for part in map(_clean_spacing, series.split(" - ")) if normalize(part) not in ("", "l", "le", "la", "les")
    )
    if tome is None and " - " in series_text:
        head, _, rest = series_text.partition(" - ")
        series, title = _clean_spacing(head), _clean_spacing(rest)
        segments = segments[:1]
    if " - " in series:
        # "Série - Alignment Earth - Tome 6": what stands between the series and the tome is title too
        series, _, before_tome = series.partition(" - ")
        if normalize(before_tome) not in ("l", "le", "la", "les"):  # "Thorgal - L'Intégrale 2": the tome's article
            title = _clean_spacing(f"{before_tome} - {title}")
        series = _clean_spacing(series)
    series = re.sub(r"\s+[lL]['’]$", "", series)  # "Hulk L'" before "Intégrale T6": the article was the tome's
    title, edition_year = _without_edition_words(title, kept_noise)
    title_parts = [part for part in map(_clean_spacing, title.split(" - ")) if part]
    title = _clean_spacing(" ".join(title_parts))
    if normalize(series) in ("", "l", "le", "la", "les"):  # "Blueberry/L'Intégrale T2": no series in the name
        series = _series_from_parent(parent) or series
    if found.get("bracket_series") and tome is not None and TOME_MARK in text:
        # "Titre (Série, tome 22)": the bracket gives series and tome, the rest of the name is the title
        title_parts = [part for part in (series, *title_parts) if normalize(part)]
        title = _clean_spacing(" - ".join(title_parts))
        series = str(found["bracket_series"])
        segments = (series,)
    return ParsedName(
        raw=raw,
        series=series or None,
        series_norm=normalize(series),
        tome=_canonical_tome(tome) if tome is not None else None,
        tome_number=tome.number if tome is not None else None,
        tome_kind=tome.kind if tome is not None else ("oneshot" if one_shot else None),
        title=title or None,
        title_norm=normalize(title),
        year=found.get("year") or edition_year,  # type: ignore[arg-type]
        publisher=found.get("publisher"),  # type: ignore[arg-type]
        isbn=found.get("isbn"),  # type: ignore[arg-type]
        cycle=cycle,
        language=found.get("language"),  # type: ignore[arg-type]
        noise=tuple(kept_noise),
        title_segments=tuple(normalize(part) for part in title_parts if normalize(part)),
        series_segments=segments if len(segments) > 1 else (),
        unread=_unread_part(text),
        tome_explicit=tome is not None and tome.explicit,
    )


def _unread_part(text: str) -> bool:
    """Whether a part of the name is written only in a script normalisation drops ("…-最後の希望"): what
    it says (often the title) is lost, and what is left may name another album."""
    if not in_other_script(text):
        return False
    return any(in_other_script(part) and not normalize(part) for part in re.split(r"\s+-\s+|-|[/()\[\]]", text))
