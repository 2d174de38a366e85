"""The series store on SQLite and PostgreSQL: records with a TTL, a publisher chosen once, the albums of
each series, the series id learned per catalogue slug, and the album cache read in bulk."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bdnex_core.bedetheque.album import SERIES_PAGE, Album
from bdnex_core.bedetheque.series import SeriesRecord, choose_publisher
from bdnex_core.db import BDneXDB, utcnow

URL = "https://www.bedetheque.com/serie-47467-BD-Nains.html"


@pytest.fixture
def db(database_location):
    database = BDneXDB(database_location)
    yield database
    database.close()


def nains(*publishers: str) -> SeriesRecord:
    albums = [
        {"album_id": 245127 + position, "tome": str(position + 1), "title": f"T{position + 1}", "publisher": publisher}
        for position, publisher in enumerate(publishers)
    ]
    record = SeriesRecord(47467, URL, "Nains", slug="Nains", genres=["Fantasy"], status="Série finie", albums=albums)
    record.publishers = list(dict.fromkeys(publishers))
    record.publisher = choose_publisher(albums)
    return record


def test_a_record_lives_its_ttl_and_keeps_its_chosen_publisher(db):
    now = utcnow()
    first = nains("Soleil Productions", "Glénat")
    assert db.series.put(first.to_dict(), tome_count=first.tome_count, now=now) == "Soleil Productions"
    stored = SeriesRecord.from_dict(db.series.get(47467, now=now))
    assert (stored.title, stored.genres, stored.normal_status, stored.tome_count) == ("Nains", ["Fantasy"], "ended", 2)
    assert db.series.of_album(245128) == 47467 and db.series.id_of_slug("Nains") == (True, 47467)
    later = now + db.series_ttl + timedelta(seconds=1)
    assert db.series.get(47467, now=later) is None  # read again after its TTL...
    assert db.series.get(47467, fresh=False, now=later) is not None  # ...but known meanwhile
    # the page read again: tome 1 now by another house (a reprint listed first); the choice stays
    again = nains("Delcourt", "Glénat", "Dupuis")
    assert again.publisher == "Delcourt"
    assert db.series.put(again.to_dict(), tome_count=again.tome_count, now=later) == "Soleil Productions"
    stored = SeriesRecord.from_dict(db.series.get(47467, now=later))
    assert stored.publisher == "Soleil Productions" and stored.publishers == ["Delcourt", "Glénat", "Dupuis"]
    assert db.series.of_album(245129) == 47467 and db.series.records([47467, 1])[47467]["title"] == "Nains"
    assert db.series.series_of_albums([245127, 245129, 1]) == {245127: 47467, 245129: 47467}
    assert db.backend.value("SELECT tome_count FROM bdgest_series WHERE id = 47467") == 3


def test_slugs_learned_and_albums_read_in_bulk(db):
    assert db.series.id_of_slug("One-shot-x") == (False, None)
    db.series.learn_slug("One-shot-x", None)
    assert db.series.id_of_slug("One-shot-x") == (True, None)
    db.series.learn_slug("One-shot-x", 12)
    assert db.series.id_of_slug("One-shot-x") == (True, 12)
    now = utcnow()
    db.albums.put(Album(1, "u1", title="A", filled_from=SERIES_PAGE), now=now)
    db.albums.put(Album(2, "u2", title="B"), now=now - timedelta(days=30))
    fresh = db.albums.fresh_many([1, 2, 3], now=now)
    assert list(fresh) == [1] and fresh[1]["filled_from"] == SERIES_PAGE


def test_the_publisher_rule():
    assert choose_publisher([{"tome": "2", "publisher": "B"}, {"tome": "1", "publisher": "A"}]) == "A"
    assert choose_publisher([{"tome": "1", "publisher": "A"}, {"tome": "1", "publisher": "C"}]) == "A"
    assert choose_publisher([{"tome": "HS1", "publisher": "B"}, {"tome": None, "publisher": "C"}]) == "B"
    listed = [{"tome": "HS1", "publisher": "B"}, {"tome": "INT1", "publisher": "C"}, {"tome": "HS2", "publisher": "C"}]
    assert choose_publisher(listed) == "C"  # no regular tome: the most frequent
    assert choose_publisher([{"tome": "1"}]) is None
