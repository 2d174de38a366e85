"""Scoring a candidate album against a parsed file name: named, weighted, explainable.

A :class:`Score` holds components (series, tome, title, year, publisher, isbn),
each a similarity 0..1 with a weight and a short reason; components the file name says
nothing about are left out of the weighted mean. *Caps* record disagreements that must
forbid an automatic match whatever the mean (the tome differs, the tome does not exist
in the series, the series is only vaguely similar, the title the name carries names another
album even though series and tome agree). Deciding is not done here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bdnex_core.matching.editions import qualifier_named, split_tome, tome_qualifier
from bdnex_core.matching.filename import ROMAN, ParsedName
from bdnex_core.matching.index import IndexedAlbum
from bdnex_core.matching.normalize import strip_articles

# Below this, the title the name carries names another album: no automatic match, whatever series and
# tome say ("Tome 5 - L'épreuve du feu" for "La porte du temps" scores 0.61)
TITLE_DISAGREES = 0.7
# A name without a tome names its album by the title alone: the title must then be the album's
TITLE_ALONE = 0.95
# A one-shot's title is its series: a name that only starts it ("Smith" for "Smith Times") is not it
ONE_SHOT_TITLE = 0.95
# A series this close (one letter off in a short name) is the name's when its tome and title are exactly there
TYPO_CONFIRMED = 0.85
# "part 2", "1914", "book ii", "part two", "tome deux" ("i", "un", "une" alone are words, not numbers)
NUMBER_WORDS = {
    word: value
    for words in (
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
        ("", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"),
    )
    for value, word in enumerate(words, start=1)
    if word
}
NUMBER_WORD = re.compile(rf"\b(?:\d+|[ivx]{{2,6}}|{'|'.join(NUMBER_WORDS)})\b")
WEIGHTS = {"series": 0.45, "tome": 0.35, "title": 0.20, "year": 0.05, "publisher": 0.05, "isbn": 0.5}


@dataclass(frozen=True)
class Component:
    name: str
    similarity: float
    weight: float
    reason: str


@dataclass
class Score:
    album_id: int
    components: list[Component] = field(default_factory=list)
    caps: list[str] = field(default_factory=list)
    url: str | None = None
    label: str | None = None
    editions: tuple[int, ...] = ()  # the other editions of the same album (the index's edition group)
    # a cap that says the name is *not* this album (another tome, title, edition or series), not only
    # that it may not be: such a candidate makes no other ambiguous
    contradicted: bool = False

    def add(self, name: str, similarity: float, reason: str) -> None:
        self.components.append(Component(name, max(0.0, min(1.0, similarity)), WEIGHTS[name], reason))

    def cap(self, reason: str, *, contradiction: bool = False) -> None:
        self.caps.append(reason)
        self.contradicted = self.contradicted or contradiction

    @property
    def score(self) -> float:
        total = sum(component.weight for component in self.components)
        return sum(c.similarity * c.weight for c in self.components) / total if total else 0.0

    @property
    def confidence(self) -> float:
        """The score, lowered when a cap forbids accepting it (so a capped candidate never looks certain)."""
        return min(self.score, 0.84) if self.caps else self.score

    def component(self, name: str) -> Component | None:
        return next((component for component in self.components if component.name == name), None)

    def explain(self) -> str:
        parts = [f"{c.name} {c.similarity:.2f} ({c.reason})" for c in self.components]
        parts += [f"CAP: {cap}" for cap in self.caps]
        return "; ".join(parts)


def readable_explain(explain: str) -> str:
    """A score's explanation as a person reads it: the reasons an automatic match is forbidden said so."""
    return explain.replace("CAP: ", "not automatic: ")


def _title_similarity(wanted: str, title: str) -> float:
    if not title:
        return 0.0
    similarity = max(fuzz.ratio(wanted, title), fuzz.token_sort_ratio(strip_articles(wanted), strip_articles(title)))
    if len(wanted) >= 5 and title.startswith(wanted + " "):
        similarity = max(similarity, 90.0)  # a shortened title: "Redwin" for "Redwin de la Forge"
    return similarity / 100.0


def title_similarity(parsed: ParsedName, title: str) -> tuple[float, str]:
    """How well the name's title names ``title``: the whole of it, or one run of its segments
    ("Offspring - Morvan - Dorison": authors after the title; "Goux - Titre": an author before it)."""
    wanted = parsed.title_norm
    best, said = _title_similarity(wanted, title), wanted
    segments = parsed.title_segments
    if len(segments) > 1:
        for start in range(len(segments)):
            for end in range(start + 1, len(segments) + 1):
                if (start, end) == (0, len(segments)):
                    continue
                run = " ".join(segments[start:end])
                similarity = _title_similarity(run, title)
                if similarity > best:
                    best, said = similarity, run
    return best, said


def _number_list(normalized: str) -> list[int]:
    found = NUMBER_WORD.findall(normalized)
    values = [int(word) if word.isdigit() else NUMBER_WORDS.get(word) or ROMAN.get(word, -1) for word in found]
    return [value for value in values if value != -1]


def _numbers(normalized: str) -> set[int]:
    return set(_number_list(normalized))


def _in_order(wanted: str, title: str) -> float:
    """Similarity of two titles as written, word order included (articles aside)."""
    return fuzz.ratio(strip_articles(wanted), strip_articles(title)) / 100.0


def _unmatched_words(one: str, other: str) -> list[str]:
    """Words of either text that the other has not, even mistyped (a typo changes a letter, not a word)."""
    first, second = strip_articles(one).split(), strip_articles(other).split()

    def alone(word: str, among: list[str]) -> bool:
        return all(fuzz.ratio(word, candidate) < 75 for candidate in among)

    return [word for word in first if alone(word, second)] + [word for word in second if alone(word, first)]


def title_numbers_differ(wanted: str, album: IndexedAlbum) -> set[int]:
    """Numbers of the name's title that the album's title (or tome) does not have: "Part 4" for "Part 2",
    "Numéro 22" for "Numéro 23", "Part 3 of 3" for "Part 1 of 3" (counted, not only looked up). Empty
    when the name's title has no number of its own."""
    if not album.title_norm:
        return set()
    own = Counter(_number_list(album.title_norm))
    extra = Counter(_number_list(wanted)) - own
    # a number of the name's title may be the tome ("Nevada Lug 383 Numero 383"), unless the album's
    # title has numbers of its own ("Barelli en Nusa Penida 1" is tome 2: "… Penida 2" is another album)
    return set(extra) - (set() if own else {album.tome_number})


def tome_similarity(parsed: ParsedName, album: IndexedAlbum) -> tuple[float, str]:
    if parsed.tome is None:
        if album.tome is None:
            return 1.0, "both one-shots"
        return 0.5, f"no tome in the name, album is tome {album.tome}"
    if album.tome is None:
        return 0.0, f"tome {parsed.tome} in the name, album is a one-shot"
    if parsed.tome.lower() == album.tome.lower():
        return 1.0, f"{parsed.tome} = {album.tome}"
    if parsed.tome.lower() == split_tome(album.tome)[0].lower() and not tome_qualifier(album.tome):
        return 0.95, f"{parsed.tome} ~ {album.tome} (a printing of the same album)"
    same_kind = (parsed.tome_kind or "regular") == (album.tome_kind or "regular")
    if same_kind and parsed.tome_number is not None and parsed.tome_number == album.tome_number:
        return 0.7, f"{parsed.tome} ~ {album.tome} (same number, other edition)"
    if same_kind and parsed.tome_number is None:
        return 0.6, f"{parsed.tome} ~ {album.tome}"
    return 0.0, f"{parsed.tome} != {album.tome}"


def score_album(
    parsed: ParsedName,
    album: IndexedAlbum,
    series_similarity: float,
    series_how: str,
    *,
    tome_exists_in_series: bool,
) -> Score:
    score = Score(album.album_id, editions=album.editions)
    score.add("series", series_similarity, f"{series_how} '{album.series_norm}'")
    wanted_title = parsed.title_norm
    tome, reason = tome_similarity(parsed, album)
    by_title = parsed.tome is None and album.tome is not None and bool(wanted_title)
    said = wanted_title  # the part of the name's title that names the album best
    if parsed.title_moved and not album.title_norm:
        # "Goux - Série - T02" read with "Goux" moved out of the series: an album without a title has
        # nothing for it to contradict (an author, or noise)
        wanted_title, by_title = "", False
    if not by_title:  # "Série - Titre": the name says nothing of the tome, its title names the album
        score.add("tome", tome, reason)
    if wanted_title:
        similarity, said = title_similarity(parsed, album.title_norm)
        score.add("title", similarity, f"'{said}' ~ '{album.title_norm}'")
        if by_title and (similarity < TITLE_ALONE or _in_order(said, album.title_norm) < TITLE_ALONE - 0.05):
            # the title alone names the album: its words, in their order ("La Cosa contra La Masa" is
            # not "La Masa contra La Cosa")
            score.cap(f"no tome in the name, and its title '{said}' is not quite the album's", contradiction=True)
        elif album.tome is None and parsed.tome is None and similarity < ONE_SHOT_TITLE:
            # a one-shot is its title: "Le interference" only starts "Le interference Sally Ben..."
            score.cap(f"the one-shot's title '{album.title_norm}' is not the name's '{said}'", contradiction=True)
    elif album.tome is None and parsed.tome is None:
        # a one-shot: its title is its series name in the catalogue; the name's series is its title
        similarity = _title_similarity(parsed.series_norm, album.title_norm)
        score.add("title", similarity, "one-shot title from the name")
        extra = _unmatched_words(parsed.series_norm, album.title_norm) if series_how.startswith("fuzzy") else []
        if extra:  # a one-shot's title one word away is another one-shot ("… Artcurial Herge samedi …")
            score.cap(f"the one-shot's title differs by the words {', '.join(extra)}", contradiction=True)
        if similarity < ONE_SHOT_TITLE:  # "La smith" is not the one-shot "Smith Times"
            score.cap(
                f"the one-shot's title '{album.title_norm}' is not the name's '{parsed.series_norm}'",
                contradiction=True,
            )
    if parsed.unread:
        score.cap("the name holds words in a script that is not compared (its title may be another album's)")
    if parsed.tome is not None and tome == 0.0:
        score.cap("tome number differs", contradiction=True)
    if parsed.tome is not None and not tome_exists_in_series:
        score.cap(f"tome {parsed.tome} does not exist in this series", contradiction=True)
    other_edition = tome_qualifier(album.tome)
    if other_edition and other_edition.lower() not in (parsed.tome or "").lower():
        score.cap(
            f"tome {album.tome} is another edition ({other_edition}); the name does not say so", contradiction=True
        )
    if series_how.startswith("qualified") and album.qualifier is not None:
        score.cap(
            f"'{album.series_norm}' is {album.qualifier.base} {album.qualifier.text}, another "
            f"{album.qualifier.kind} edition; the name does not say so",
            contradiction=True,
        )
    elif album.qualifier is not None and not qualifier_named(album.qualifier, parsed.series_norm):
        score.cap(
            f"'{album.series_norm}' is a {album.qualifier.kind} edition the name's series does not name",
            contradiction=True,
        )
    title = score.component("title")
    confirmed = (  # a mistyped series ("Gelibotu" for "Gelibotu"), its tome and exact title given
        series_similarity >= TYPO_CONFIRMED
        and tome == 1.0
        and title is not None
        and title.similarity >= TITLE_ALONE
        and len(wanted_title) >= 5
    )
    if series_similarity < 0.9 and not confirmed:
        score.cap("series only similar")
    elif series_how.startswith("fuzzy") and _numbers(parsed.series_norm) ^ _numbers(album.series_norm):
        # "Captan America Vol 1" is close to "Capitan America Vol 3", another edition: a typo's neighbour
        # that differs in its numbers (volume, year) is not the same series
        score.cap(f"series only similar, and its numbers differ from '{album.series_norm}'")
    if parsed.tome is None and album.tome is not None and not wanted_title:
        score.cap("no tome or title in the name to tell the albums of this series apart")
    if series_how.startswith("prefix") and not wanted_title and album.tome is not None:
        # "Kamikaze - T02" for "Kamikaze Kaito Jeanne": the name's series may be another one, absent from
        # the catalogue, and no title is there to confirm this one
        score.cap(f"series found only as the start of '{album.series_norm}', and no title in the name to confirm it")
    elif series_how.startswith("prefix") and album.tome is not None and title is not None and title.similarity < 0.9:
        # only a title that names this album confirms a series the name gave in part
        score.cap(f"series found only as the start of '{album.series_norm}', and its title does not confirm it")
    if wanted_title and title is not None:
        if title.similarity < TITLE_DISAGREES:
            score.cap(
                f"title differs: the name says '{wanted_title}', the album is '{album.title_norm}'", contradiction=True
            )
        elif title_numbers_differ(wanted_title, album):
            # every number of the name's title, in whichever segment ("0152 - Nom d'un pétard"), is the album's
            numbers = ", ".join(map(str, sorted(title_numbers_differ(wanted_title, album))))
            score.cap(f"title differs in its numbers ({numbers}): '{said}' ~ '{album.title_norm}'", contradiction=True)
    return score


# the start of the cap of an album found by its own title alone (callers with more evidence look for it)
TITLE_ONLY_CAP = "found by its album title only"


def score_title_only(parsed: ParsedName, album: IndexedAlbum, title: str) -> Score:
    """An album found by its own title when no series matched the name: the series is left out
    of the mean (the name does not give it), and the result can only go to review."""
    score = Score(album.album_id)
    score.add("title", _title_similarity(title, album.title_norm), f"album title '{album.title_norm}'")
    if parsed.tome is not None:
        tome, reason = tome_similarity(parsed, album)
        score.add("tome", tome, reason)
    score.cap(f"{TITLE_ONLY_CAP}; the name gives no series of the catalogue (series '{album.series_norm}')")
    return score
