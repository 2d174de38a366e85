"""One album of the local catalogue as a named row, shared by the catalogue, the plugin API and ComicTagger."""

from __future__ import annotations

from typing import NamedTuple


class CatalogueRow(NamedTuple):
    """One album of the local Bédéthèque catalogue (built from the site's sitemaps)."""

    album_id: int
    url: str
    series_norm: str
    tome: str | None
    tome_number: int | None
    tome_kind: str | None
    title_norm: str
    series_slug: str | None
    title_slug: str | None
