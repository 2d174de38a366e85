"""One album as the calibre metadata source "Bédéthèque (bdnex)" receives it.

The source runs inside calibre's own Python and cannot import bdnex-core, so it asks
``bdnex-core calibre album ID`` for this record. Building it here, with the rules
``calibre sync`` writes by (:mod:`bdnex_calibre.opf`), gives both one author format
("First Last", author sort "Last, First"), one series index and one summary layout;
the links point at the configured site, never at a host a recorded page named.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlparse

from bdnex_calibre.opf import author_sort_of, series_index, summary_html
from bdnex_core.api import person_name


def on_site(site: str, url: str | None, fallback_path: str) -> str:
    """``url``'s path (or ``fallback_path``) on the configured ``site``."""
    path = urlparse(url).path if url else fallback_path
    return urljoin(site.rstrip("/") + "/", path.lstrip("/"))


def calibre_record(album: Any, site: str) -> dict[str, Any]:
    """``album``: what ``bdnex_core.api.fetch_album`` returns; ``site``: the configured Bédéthèque."""
    authors: list[str] = []
    sort_names: dict[str, str] = {}
    for raw in [*album.writers, *album.pencillers]:
        display = person_name(raw)
        if display and display not in authors:
            authors.append(display)
            if "," in raw:
                sort_names[display] = " ".join(raw.split())
    return {
        "album_id": album.album_id,
        "title": album.title or album.series,
        "authors": authors,
        "author_sort": author_sort_of(authors, sort_names),
        "series": album.series,
        "series_index": series_index(album.tome) if album.series else None,
        "publisher": album.publisher,
        "pubdate": album.release_date or album.legal_deposit,
        "tags": [tag.strip() for tag in (album.genre or "").split(",") if tag.strip()],
        "comments": summary_html(album.summary),
        "rating": album.rating,
        "language": album.language or "fr",
        "isbn": (album.isbn or "").replace("-", "") or None,
        "url": on_site(site, album.url, f"BD--{album.album_id}.html"),
        "cover_url": on_site(site, album.cover_url, f"media/Couvertures/Couv_{album.album_id}.jpg"),
    }
