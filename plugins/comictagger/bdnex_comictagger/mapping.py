"""bdnex-core's Album as ComicTagger's GenericMetadata, and series names with their aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comicapi.genericmetadata import GenericMetadata, MetadataOrigin
from comicapi.utils import parse_url

from bdnex_comictagger.tomes import display_issue
from bdnex_core import api

if TYPE_CHECKING:
    from bdnex_core.api import Album

# Bédéthèque roles -> ComicTagger role names (Dessin is pencils and inks in a BD album)
ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("writers", ("Writer",)),
    ("pencillers", ("Penciller", "Inker")),
    ("colorists", ("Colorist",)),
    ("cover_artists", ("Cover",)),
    ("letterers", ("Letterer",)),
    ("translators", ("Translator",)),
)


def series_display_name(slug: str) -> str:
    """'Tuniques-Bleues-Les' -> 'Tuniques Bleues (Les)', the way catalogues write a moved article."""
    words = slug.replace("-", " ").split()
    if len(words) > 1 and words[-1].lower() in api.TRAILING_ARTICLE_SET:
        return f"{' '.join(words[:-1])} ({words[-1].capitalize()})"
    return " ".join(words)


def series_aliases(name: str, query: str = "") -> set[str]:
    """Article-moved and accent-free forms; the query itself when it names the same series.

    ComicTagger compares the searched name with the series' name and aliases at about 90%:
    "Les Tuniques Bleues" would not meet "Tuniques Bleues (Les)" without them.
    """
    aliases = set(api.move_article(name))
    aliases.update(api.normalize(form) for form in [name, *aliases])
    if query:
        target = api.strip_articles(api.normalize(name))
        parsed = api.parse_filename(query)
        if target and target in {api.strip_articles(api.normalize(query)), api.strip_articles(parsed.series_norm)}:
            aliases.add(query)  # the same series, written with its article or its tome marker
    aliases.discard(name)
    return {alias for alias in aliases if alias}


def album_metadata(album: Album, *, source: MetadataOrigin) -> GenericMetadata:
    metadata = GenericMetadata(
        data_origin=source,
        issue_id=str(album.album_id),
        series_id=str(album.series_id) if album.series_id else None,
        series=album.series,
        issue=display_issue(album.tome),
        issue_count=album.series_album_count,
        title=album.title or None,
        publisher=album.publisher,
        imprint=album.collection,
        language="fr",
        gtin=album.isbn.replace("-", "") if album.isbn else None,
        description=album.summary,
        critical_rating=album.rating,
        format=album.format,
        notes=f"Bédéthèque album {album.album_id}",
    )
    if album.series:
        metadata.series_aliases = series_aliases(album.series)
    date = album.release_date or ""
    if len(date) >= 10:
        metadata.year, metadata.month, metadata.day = int(date[:4]), int(date[5:7]), int(date[8:10])
    elif album.legal_deposit and len(album.legal_deposit) >= 7:
        metadata.year, metadata.month = int(album.legal_deposit[:4]), int(album.legal_deposit[5:7])
    if album.genre:
        metadata.genres = {genre.strip() for genre in album.genre.split(",") if genre.strip()}
    if album.url:
        metadata.web_links = [parse_url(album.url)]
    if album.planches:
        metadata.page_count = None  # the archive's page count, not the printed planches
    for field_name, roles in ROLES:
        for raw in getattr(album, field_name):
            person = api.person_name(raw)
            if person:
                for role in roles:
                    metadata.add_credit(person, role, primary=field_name == "writers")
    metadata.is_empty = False
    return metadata
