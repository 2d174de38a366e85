"""Scoring a candidate album against a parsed file name: named, weighted, explainable.

A :class:`Score` holds components (series, tome, title, year, publisher, isbn, cover),
each a similarity 0..1 with a weight and a short reason; components the file name says
nothing about are left out of the weighted mean. *Caps* record disagreements that must
forbid an automatic match whatever the mean (the tome differs, the tome does not exist
in the series, the series is only vaguely similar). Deciding is not done here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bdnex_core.matching.filename import ParsedName
from bdnex_core.matching.index import IndexedAlbum
from bdnex_core.matching.normalize import strip_articles

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

    def add(self, name: str, similarity: float, reason: str) -> None:
        self.components.append(Component(name, max(0.0, min(1.0, similarity)), WEIGHTS[name], reason))

    def cap(self, reason: str) -> None:
        self.caps.append(reason)

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


def _title_similarity(wanted: str, title: str) -> float:
    if not title:
        return 0.0
    similarity = max(fuzz.ratio(wanted, title), fuzz.token_sort_ratio(strip_articles(wanted), strip_articles(title)))
    if len(wanted) >= 5 and title.startswith(wanted + " "):
        similarity = max(similarity, 90.0)  # a shortened title: "Redwin" for "Redwin de la Forge"
    return similarity / 100.0


def tome_similarity(parsed: ParsedName, album: IndexedAlbum) -> tuple[float, str]:
    if parsed.tome is None:
        if album.tome is None:
            return 1.0, "both one-shots"
        return 0.5, f"no tome in the name, album is tome {album.tome}"
    if album.tome is None:
        return 0.0, f"tome {parsed.tome} in the name, album is a one-shot"
    if parsed.tome.lower() == album.tome.lower():
        return 1.0, f"{parsed.tome} = {album.tome}"
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
    score = Score(album.album_id)
    score.add("series", series_similarity, f"{series_how} '{album.series_norm}'")
    tome, reason = tome_similarity(parsed, album)
    score.add("tome", tome, reason)
    wanted_title = parsed.title_norm
    if wanted_title:
        similarity = _title_similarity(wanted_title, album.title_norm)
        score.add("title", similarity, f"'{wanted_title}' ~ '{album.title_norm}'")
    elif album.tome is None and parsed.tome is None:
        # a one-shot: its title is its series name in the catalogue; the name's series is its title
        score.add("title", _title_similarity(parsed.series_norm, album.title_norm), "one-shot title from the name")
    if parsed.tome is not None and tome == 0.0:
        score.cap("tome number differs")
    if parsed.tome is not None and not tome_exists_in_series:
        score.cap(f"tome {parsed.tome} does not exist in this series")
    if series_similarity < 0.9:
        score.cap("series only similar")
    if parsed.tome is None and album.tome is not None and not wanted_title:
        score.cap("no tome or title in the name to tell the albums of this series apart")
    if wanted_title and score.component("title") and score.component("title").similarity < 0.6:  # type: ignore[union-attr]
        score.cap("title differs")
    return score


def score_title_only(parsed: ParsedName, album: IndexedAlbum, title: str) -> Score:
    """An album found by its own title when no series matched the name: the series is left out
    of the mean (the name does not give it), and the result can only go to review."""
    score = Score(album.album_id)
    score.add("title", _title_similarity(title, album.title_norm), f"album title '{album.title_norm}'")
    if parsed.tome is not None:
        tome, reason = tome_similarity(parsed, album)
        score.add("tome", tome, reason)
    score.cap(
        f"found by its album title only; the name gives no series of the catalogue (series '{album.series_norm}')"
    )
    return score
