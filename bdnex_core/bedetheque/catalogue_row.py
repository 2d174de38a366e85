"""One album of the local catalogue as a named row, shared by the catalogue, the plugin API and ComicTagger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from bdnex_core.store.catalogue import CatalogueStore


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


def catalogue_rows(store: CatalogueStore) -> Iterator[CatalogueRow]:
    """Every album of the catalogue, as a named row (read a batch at a time)."""
    for row in store.album_rows(CatalogueRow._fields):
        yield CatalogueRow(*row)
