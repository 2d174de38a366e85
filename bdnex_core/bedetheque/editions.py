"""Which edition of an album a file is: the facts of each edition, gathered politely, and the rule applied.

Matching finds the album (its edition group in the catalogue index); the rule of
:func:`bdnex_core.matching.editions.choose_edition` picks the edition. Its facts come first from the
album cache (ISBN, dépôt légal and publisher of every album cached, from its page or from its series
page), then from one album page's ``N éditions`` list (the date, tome and publisher of every edition,
including editions the local catalogue lacks). Only what the rule needs is fetched: what a tag of the
file fetches anyway (series first: one series page caches every edition it lists), the album page when
an edition is still undated, and, for an ISBN no cached edition has, the pages of the other editions
until one has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.service import fetch_album
from bdnex_core.errors import BdnexError
from bdnex_core.isbn import to_isbn13
from bdnex_core.matching.editions import EditionChoice, EditionFacts, choose_edition, facts_from_label

if TYPE_CHECKING:
    from bdnex_core.db import BDneXDB

MAX_ISBN_FETCHES = 6  # pages fetched to find the edition of an ISBN no cached edition has


def facts_of(album: Album) -> EditionFacts:
    """An album's own facts as one edition."""
    deposit = album.legal_deposit or (album.release_date[:7] if album.release_date else None)
    return EditionFacts(album.album_id, deposit, album.publisher, album.isbn)


def _cached(db: BDneXDB, album_id: int) -> Album | None:
    data = db.albums.latest(album_id)  # facts of an edition do not age: any cached copy is good
    return Album.from_dict(data) if data else None


class EditionFinder:
    """Gathers the facts of one album's editions, cache first, and applies the rule."""

    def __init__(self, client: Any, db: BDneXDB):
        self.client, self.db = client, db

    def facts(self, album_ids: Sequence[int], *, first: int) -> tuple[dict[int, EditionFacts], Album | None]:
        """Facts of the editions ``album_ids`` (the index's group) and of those the album page of ``first``
        lists; that page is read from the cache, else fetched (it is the page a tag needs anyway)."""

        page = _cached(self.db, first)
        if page is None:
            # what a tag of this album needs anyway; series first, its series page caches every edition it lists
            page = fetch_album(self.client, self.db, first)
        known: dict[int, EditionFacts] = {}
        for album_id in album_ids:
            album = _cached(self.db, album_id)
            if album is not None:
                known[album_id] = facts_of(album)
        undated = any(album_id not in known or not known[album_id].legal_deposit for album_id in album_ids)
        if not page.editions and len(album_ids) > 1 and undated:
            # from a series page that does not date every edition: the album page's list dates them all
            page = fetch_album(self.client, self.db, first, force=True)
        known[page.album_id] = _merge(facts_of(page), known.get(page.album_id))
        for edition in page.editions:
            listed = facts_from_label(edition.album_id, edition.label)
            known[edition.album_id] = _merge(known.get(edition.album_id), listed)
        for album_id in album_ids:
            known.setdefault(album_id, EditionFacts(album_id))
        return known, page

    def choose(
        self,
        album_ids: Sequence[int],
        *,
        first: int,
        policy: str,
        isbn: str | None = None,
        year: int | None = None,
        same_cover: frozenset[int] | None = None,
    ) -> tuple[EditionChoice, list[EditionFacts]]:
        """The edition by the rule (``choose_edition``), and the facts of every edition considered."""
        known, _page = self.facts(album_ids, first=first)
        if isbn and not any(_same(fact.isbn, isbn) for fact in known.values()):
            self._fetch_for_isbn(known, isbn)
        editions = sorted(known.values(), key=lambda fact: fact.album_id)
        return choose_edition(editions, policy=policy, isbn=isbn, year=year, same_cover=same_cover), editions

    def _fetch_for_isbn(self, known: dict[int, EditionFacts], isbn: str) -> None:
        """Pages of the editions whose ISBN is unknown, until one has ``isbn`` (a few at most)."""

        unknown = [album_id for album_id, fact in sorted(known.items()) if not fact.isbn]
        for album_id in unknown[:MAX_ISBN_FETCHES]:
            try:
                album = fetch_album(self.client, self.db, album_id)
            except BdnexError as exc:
                if exc.stops_run:
                    raise
                continue  # an edition whose page cannot be read: the others may still say
            known[album_id] = _merge(facts_of(album), known.get(album_id))
            if _same(album.isbn, isbn):
                return


def _same(one: str | None, other: str | None) -> bool:
    first, second = to_isbn13(one), to_isbn13(other)
    return first is not None and first == second


def _merge(preferred: EditionFacts | None, other: EditionFacts | None) -> EditionFacts:
    """One edition's facts from two sources: ``preferred``'s where it has them."""
    if preferred is None:
        assert other is not None
        return other
    if other is None:
        return preferred
    return EditionFacts(
        preferred.album_id,
        preferred.legal_deposit or other.legal_deposit,
        preferred.publisher or other.publisher,
        preferred.isbn or other.isbn,
        preferred.label or other.label,
    )
