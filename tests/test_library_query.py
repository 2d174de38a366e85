"""`ls` and `missing` over a recorded library, on SQLite (FTS5) and on PostgreSQL (its own full-text
search): the same terms give the same files on both, accents and case folded, words found by their
beginning, in byte order of their paths."""

from __future__ import annotations

import sqlite3
import unicodedata

import pytest

from bdnex_core.app.query import QueryError, count_files, list_files, missing_tomes
from bdnex_core.db import BDneXDB
from bdnex_core.hashing import Fingerprint

LIBRARY = "/library"
FILES = [
    # (path under LIBRARY, series, tome, title, publisher, year, status, decision, album id, score)
    ("Nains/Nains - T01.cbz", "Nains", "1", "Redwin de la Forge", "Soleil", 2015, "success", "accept", 1001, 0.95),
    ("Nains/Nains - T02.cbz", "Nains", "2", "Oösram des Errants", "Soleil", 2016, "success", "accept", 1002, 0.9),
    ("Nains/Nains - HS1.cbz", "Nains", "HS1", "L'École des Nains", "Soleil", 2018, "manual", "manual", 1003, None),
    (
        "Thorgal/thorgal_01.cbz",
        "Thorgal",
        "1",
        "La Magicienne trahie",
        "Le Lombard",
        1980,
        "success",
        "review",
        2001,
        0.6,
    ),
    (
        "Thorgal/Thorgal-02.cbr",
        "Thorgal",
        "2",
        "L'Île des mers gelées",
        "Le Lombard",
        1980,
        "success",
        "accept",
        2002,
        0.8,
    ),
    ("ÉTÉ/Été indien.cbz", "Été", "1", "Œuvre au noir", "Glénat", 2001, "success", "accept", 3001, 0.99),
    (
        "Blake/Blake et Mortimer 01.cbz",
        "Blake et Mortimer",
        "1",
        "Le Secret de l’Espadon",
        "Dargaud",
        1950,
        "failed",
        None,
        None,
        None,
    ),
    ("inbox/zz_unknown.cbz", None, None, None, None, None, "skipped", "none", None, None),
]


def paths(rows):
    return [row["file_path"].removeprefix(LIBRARY + "/") for row in rows]


@pytest.fixture
def db(database_location):
    with BDneXDB(database_location) as database, database.write():
        for session in (1, 2):
            database.backend.execute(
                "INSERT INTO processing_sessions (id, directory, status) VALUES (?, ?, 'completed')", [session, LIBRARY]
            )
        for number, (path, series, tome, title, publisher, year, status, decision, album, score) in enumerate(FILES):
            database.files.record_processing(
                f"{LIBRARY}/{path}",
                1 if number < 4 else 2,
                {
                    "series": series,
                    "tome": tome,
                    "title": title,
                    "publisher": publisher,
                    "year": year,
                    "status": status,
                    "decision": decision,
                    "bdgest_id": album,
                    "score": score,
                    "isbn": "978-2-302-04621-3" if album == 1001 else None,
                },
            )
    with BDneXDB(database_location) as database:
        yield database


# (terms, the files expected): one database per backend for all of them
QUERIES = [
    # byte order of the paths on both backends (upper case before lower case, "É" after every ASCII letter)
    ([], sorted(f[0] for f in FILES)),
    (["series:nain"], ["Nains/Nains - HS1.cbz", "Nains/Nains - T01.cbz", "Nains/Nains - T02.cbz"]),
    (["SERIES:NAINS"], ["Nains/Nains - HS1.cbz", "Nains/Nains - T01.cbz", "Nains/Nains - T02.cbz"]),
    (["series:ete"], ["ÉTÉ/Été indien.cbz"]),  # accents folded, in the document
    (["title:île", "title:gel"], ["Thorgal/Thorgal-02.cbr"]),  # and in the query; every word must be there
    (["title:ecole"], ["Nains/Nains - HS1.cbz"]),  # "L'École": the apostrophe separates words
    (["title:l'école"], ["Nains/Nains - HS1.cbz"]),
    (["title:espadon"], ["Blake/Blake et Mortimer 01.cbz"]),  # a typographic apostrophe too
    (["title:oosram"], ["Nains/Nains - T02.cbz"]),
    (["title:œuvre"], ["ÉTÉ/Été indien.cbz"]),
    (["publisher:glenat"], ["ÉTÉ/Été indien.cbz"]),
    (["publisher:lombard"], ["Thorgal/Thorgal-02.cbr", "Thorgal/thorgal_01.cbz"]),
    (["title:des", "publisher:soleil"], ["Nains/Nains - HS1.cbz", "Nains/Nains - T02.cbz"]),
    # paths: separators, underscores, dots and dashes split words
    (["path:inbox"], ["inbox/zz_unknown.cbz"]),
    (["path:unknown"], ["inbox/zz_unknown.cbz"]),
    (["path:cbr"], ["Thorgal/Thorgal-02.cbr"]),
    (["path:02"], ["Thorgal/Thorgal-02.cbr"]),  # "T02" is one word
    (["path:t0"], ["Nains/Nains - T01.cbz", "Nains/Nains - T02.cbz"]),
    # bare words: series, title or path, each word in any of them
    (["magicienne"], ["Thorgal/thorgal_01.cbz"]),
    (["thorgal", "gelees"], ["Thorgal/Thorgal-02.cbr"]),
    (["blake", "secret"], ["Blake/Blake et Mortimer 01.cbz"]),
    (["soleil"], []),  # the publisher is not searched by bare words
    (["zzzunknownword"], []),
    (["ind"], ["ÉTÉ/Été indien.cbz"]),
    # exact fields
    (["status:SUCCESS", "decision:review"], ["Thorgal/thorgal_01.cbz"]),
    (["tome:hs1"], ["Nains/Nains - HS1.cbz"]),
    (["isbn:978-2-302-04621-3"], ["Nains/Nains - T01.cbz"]),
    (["status:failed"], ["Blake/Blake et Mortimer 01.cbz"]),
    # ranges
    (["year:1980"], ["Thorgal/Thorgal-02.cbr", "Thorgal/thorgal_01.cbz"]),
    (["year:2001..2016"], ["Nains/Nains - T01.cbz", "Nains/Nains - T02.cbz", "ÉTÉ/Été indien.cbz"]),
    (["year:2016.."], ["Nains/Nains - HS1.cbz", "Nains/Nains - T02.cbz"]),
    (["year:..1950"], ["Blake/Blake et Mortimer 01.cbz"]),
    (["id:2000..2999"], ["Thorgal/Thorgal-02.cbr", "Thorgal/thorgal_01.cbz"]),
    (["score:0.9..", "series:nains"], ["Nains/Nains - T01.cbz", "Nains/Nains - T02.cbz"]),
    (["session:2", "path:cbz"], ["Blake/Blake et Mortimer 01.cbz", "inbox/zz_unknown.cbz", "ÉTÉ/Été indien.cbz"]),
]


def test_ls_gives_the_same_files_on_both_backends(db):
    found = {" ".join(terms): (paths(list_files(db, terms)), count_files(db, terms)) for terms, _ in QUERIES}
    expected = {" ".join(terms): (files, len(files)) for terms, files in QUERIES}
    assert found == expected


def test_ls_limit_and_a_library_that_changes(db):
    assert paths(list_files(db, ["series:nains"], limit=1)) == ["Nains/Nains - HS1.cbz"]
    # the index follows the records: a renamed file and a retitled one are found by their new words
    db.files.record_processing(f"{LIBRARY}/inbox/zz_unknown.cbz", 2, {"status": "success", "series": "Yoko Tsuno"})
    assert paths(list_files(db, ["series:tsuno"])) == ["inbox/zz_unknown.cbz"]
    row = db.files.get(f"{LIBRARY}/Thorgal/thorgal_01.cbz")
    assert row is not None
    db.files.record_move(row["file_path"], f"{LIBRARY}/Thorgal/Thorgal - T01 - Magicienne.cbz", Fingerprint(10, 1))
    assert paths(list_files(db, ["path:magicienne"])) == ["Thorgal/Thorgal - T01 - Magicienne.cbz"]
    assert list_files(db, ["path:thorgal_01"]) == []


def test_unknown_fields_and_bad_ranges_are_refused(db):
    with pytest.raises(QueryError, match="unknown field 'serie'"):
        list_files(db, ["serie:nains"])
    with pytest.raises(QueryError, match="year:abc"):
        count_files(db, ["year:abc"])


def test_missing_tomes_on_both_backends(db):
    def album(album_id, series_slug, tome, kind="regular"):
        return {
            "album_id": album_id,
            "url": f"https://example.org/{album_id}",
            "series_slug": series_slug,
            "series_norm": series_slug,
            "tome": tome,
            "tome_number": int(tome) if tome.isdigit() else None,
            "tome_kind": kind,
            "title_slug": f"titre-{album_id}",
            "title_norm": f"titre {album_id}",
            "lastmod": None,
            "sitemap": "s1",
        }

    db.catalogue.replace_sitemap(
        "s1",
        [
            album(1001, "nains", "1"),
            album(1002, "nains", "2"),
            album(1003, "nains", "HS1", "hs"),
            album(1004, "nains", "3"),
            album(1005, "nains", "2"),  # another edition of a tome the library has: not missing
            album(2001, "thorgal", "1"),
            album(2002, "thorgal", "2"),
            album(3001, "ete", "1"),
            album(3002, "ete", "2"),
        ],
    )
    gaps = {gap.series_slug: gap for gap in missing_tomes(db)}
    assert sorted(gaps) == ["ete", "nains", "thorgal"]
    assert [album["album_id"] for album in gaps["nains"].owned] == [1001, 1002, 1003]
    assert [album["tome"] for album in gaps["nains"].missing] == ["3"]
    assert gaps["thorgal"].missing == []
    assert [album["album_id"] for album in gaps["ete"].missing] == [3002]
    assert [gap.series_slug for gap in missing_tomes(db, ["thor"])] == ["thorgal"]

    # once the series page of Nains was read, its list is the series: a tome the sitemap slice of the
    # index does not hold is missing too (and its intégrale), the index's own list is not used
    from bdnex_core.bedetheque.series import SeriesRecord

    listed = [(1001, "1"), (1002, "2"), (1003, "HS1"), (1004, "3"), (1006, "4"), (1007, "INT01")]
    record = SeriesRecord(
        47467,
        "https://www.bedetheque.com/serie-47467-BD-Nains.html",
        "Nains",
        albums=[{"album_id": album_id, "tome": tome, "title": f"Titre {album_id}"} for album_id, tome in listed],
    )
    db.series.put(record.to_dict(), tome_count=record.tome_count)
    gaps = {gap.series_slug: gap for gap in missing_tomes(db)}
    assert gaps["nains"].series_id == 47467 and gaps["nains"].as_dict()["listed_by"] == "series page"
    assert [(album["album_id"], album["tome_kind"]) for album in gaps["nains"].missing] == [
        (1004, "regular"),
        (1006, "regular"),
        (1007, "int"),
    ]
    assert gaps["thorgal"].series_id is None and gaps["thorgal"].missing == []


def _sqlite_words(texts: list[str]) -> list[set[str]]:
    """How SQLite's FTS5 tokenizer of ``library_search`` splits and folds each text."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.executemany("INSERT INTO t (rowid, a) VALUES (?, ?)", list(enumerate(texts)))
    words: list[set[str]] = [set() for _ in texts]
    for term, row in conn.execute("SELECT term, doc FROM v"):
        words[row].add(term)
    conn.close()
    return words


def test_postgresql_splits_and_folds_each_character_as_sqlite_does(postgres_url):
    """Each character of Latin text (letters, accents, punctuation, spaces) between two letters
    gives the same words on both backends, but for a few that no French title holds."""
    import psycopg

    from bdnex_core.store.postgres.schema import migrate
    from bdnex_core.store.postgres.search import FOLDED_RANGES

    chars = [chr(code) for low, high in FOLDED_RANGES for code in range(low, high)]
    texts = [f"x{char}y" for char in chars]
    with psycopg.connect(postgres_url) as conn:
        migrate(conn)
        found = conn.execute(
            "SELECT tsvector_to_array(library_search_words(t)) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) "
            "ORDER BY n",
            [texts],
        ).fetchall()
    postgres_words = [set(words) for (words,) in found]
    differ = {
        char for char, ours, theirs in zip(chars, postgres_words, _sqlite_words(texts), strict=True) if ours != theirs
    }
    known = {
        char
        for char in chars
        # "²", "½": words split there on PostgreSQL; FTS5's Unicode tables predate the newest currencies
        if unicodedata.category(char) in ("No", "Cf", "Cn") or (unicodedata.category(char) == "Sc" and char >= "\u20ba")
    } | set("ǠǡǢǣǮǯǼǽǾǿ")  # FTS5 keeps these accents (a second mark, or a base letter beyond ASCII)
    assert differ <= known, sorted(differ - known)
    assert {"É", "ç", "Œ", "’", "«", "_", "/", "-", "ſ"}.isdisjoint(differ)


def test_rename_names_authors_from_an_album_cached_long_ago(db, tmp_path):
    """The authors come from the album cache, however old the entry (names do not expire)."""
    from datetime import timedelta

    from bdnex_core.app.organize import plan_renames
    from bdnex_core.store.common import utcnow

    db.albums.put(
        {"album_id": 1001, "title": "Redwin de la Forge", "writers": ["Jarry"], "pencillers": ["Goux"]},
        ttl=timedelta(days=1),
        now=utcnow() - timedelta(days=30),
    )
    assert db.albums.get(1001) is None  # expired for matching
    path = tmp_path / "in" / "x.cbz"
    path.parent.mkdir()
    path.write_bytes(b"PK")
    db.files.record_processing(path, None, {"status": "success", "series": "Nains", "tome": "1", "bdgest_id": 1001})
    (plan,) = plan_renames(db, [db.files.get(path)], [tmp_path], template="{authors}/{series} {tome}")
    assert plan.target == tmp_path / "Jarry, Goux" / "Nains 1.cbz", plan
