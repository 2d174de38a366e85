"""The persisted catalogue index: the same decisions as the index in memory, built by `catalogue update`
(incrementally, per changed sitemap), opened without building, rebuilt with one line when missing, older
or damaged, and replaced so that a reader never sees half of it."""

from __future__ import annotations

import io
import json
import random
import sqlite3
import threading
from pathlib import Path

import pytest

from bdnex_core.bedetheque import catalogue_index
from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.catalogue_index import FORMAT, PersistedIndex, index_path, open_catalogue_index, update_index
from bdnex_core.bedetheque.sitemaps import iter_album_entries, parse_album_url
from bdnex_core.cli import main
from bdnex_core.config import MatchingSettings
from bdnex_core.db import BDneXDB
from bdnex_core.demo.catalogue_generator import generate_catalogue
from bdnex_core.demo.fakesite import synthetic_sitemap
from bdnex_core.matching.evaluation import TIDY, evaluate, evaluate_conventions, evaluate_noisy, in_memory_index
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import find_series
from bdnex_core.matching.matcher import Matcher
from bdnex_core.matching.noisegen import CONVENTIONS, MORE_CONVENTIONS
from bdnex_testing.catalogue import INDEX_KINDS, index_factory, persisted_index, store_entries

NAMES = [
    "Nains - T01 - Redwin de la Forge.cbz",
    "Nains 2.cbz",
    "Les Tuniques Bleues - 40.cbz",
    "Tuniques Bleues (Les) T39.cbz",
    "Blake et Mortimer - HS2 - Le dernier Pharaon.cbz",
    "Largo Winch - Intégrale 2.cbz",
    "Quelque part entre les ombres.cbz",
    "Batwoman - T01.cbz",
    "Batwoman 2017 - T01.cbz",
    "Redwin de la Forge",
    "Dernier Pharaon (Le)",
    "Nain - T01.cbz",  # fuzzy
    "Une série qui n'existe pas - T03.cbz",
]
URLS = [
    "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
    "https://www.bedetheque.com/BD-Nains-Tome-2-Ordo-du-Talion-253769.html",
    "https://www.bedetheque.com/BD-Nains-Tome-3-Aral-du-temple-272757.html",
    "https://www.bedetheque.com/BD-Tuniques-Bleues-Les-Tome-39-But-is-it-art-200039.html",
    "https://www.bedetheque.com/BD-Tuniques-Bleues-Les-Tome-40-Puppet-blues-200040.html",
    "https://www.bedetheque.com/BD-Blake-et-Mortimer-HS2-Le-dernier-Pharaon-200100.html",
    "https://www.bedetheque.com/BD-Largo-Winch-INT2-Integrale-2-200200.html",
    "https://www.bedetheque.com/BD-Quelque-part-entre-les-ombres-200300.html",
    "https://www.bedetheque.com/BD-Batwoman-2011-Tome-1-Hydrologie-200401.html",
    "https://www.bedetheque.com/BD-Batwoman-2017-Tome-1-Les-filles-de-Lune-200402.html",
]


def decisions(matcher: Matcher, names: list[str]) -> list[tuple]:
    """Everything a decision is made of: decision, and each candidate with its score and explanation."""
    found = []
    for name in names:
        result = matcher.match(parse_filename(name))
        found.append((name, result.decision, [(c.album_id, round(c.score, 6), c.explain()) for c in result.candidates]))
    return found


def test_the_file_gives_the_decisions_of_the_index_in_memory(database_location):
    """On both backends: the file is built from the database's rows (PostgreSQL's over the wire)."""
    entries = [parse_album_url(url) for url in URLS]
    in_file = Matcher(persisted_index(entries, database_location), MatchingSettings())
    in_memory = Matcher(in_memory_index(entries), MatchingSettings())
    assert decisions(in_file, NAMES) == decisions(in_memory, NAMES)
    assert decisions(in_file, NAMES)[0][1] == "accept"


def _generated_entries(count: int = 3000):
    return list(iter_album_entries(io.BytesIO(synthetic_sitemap(count))))


def test_same_decisions_on_the_evaluation_of_a_generated_catalogue(tmp_path):
    entries = _generated_entries()
    memory = evaluate(entries, MatchingSettings(), present=300, absent=60, seed=5)
    on_file = evaluate(
        entries, MatchingSettings(), present=300, absent=60, seed=5, make_index=index_factory("file", tmp_path)
    )
    assert on_file.decisions == memory.decisions and len(memory.decisions) == 360
    noisy_memory = evaluate_noisy(entries, MatchingSettings(), present=40, absent=10, seed=5)
    noisy_file = evaluate_noisy(
        entries, MatchingSettings(), present=40, absent=10, seed=5, make_index=index_factory("file", tmp_path)
    )
    for convention, result in noisy_memory.items():
        assert noisy_file[convention].decisions == result.decisions, convention


def _conventions_both_ways(count: int, seed: int, tmp_path: Path, **sizes) -> dict:
    """evaluate_conventions (issue 26's names of every convention, the neighbour trap) on a generated
    catalogue, in memory and on file: each convention's decisions, name by name."""
    catalogue = generate_catalogue(count, seed=seed)
    found = {}
    for kind in INDEX_KINDS:
        results = evaluate_conventions(
            catalogue.entries,
            MatchingSettings(),
            work=catalogue.work,
            seed=seed,
            conventions=(TIDY, *CONVENTIONS, *MORE_CONVENTIONS),
            make_index=index_factory(kind, tmp_path),
            **sizes,
        )
        found[kind] = {convention: result.decisions for convention, result in results.items()}
    return found


def test_same_decisions_on_every_convention_of_a_generated_catalogue_with_editions(tmp_path):
    found = _conventions_both_ways(8000, 5, tmp_path, present=12, absent=4)
    assert found["file"] == found["memory"]
    assert sum(len(decisions) for decisions in found["memory"].values()) > 300


@pytest.mark.slow
def test_same_decisions_as_the_slow_scale_test_on_60000_generated_albums(tmp_path):
    """tests/test_matching_scale.py's slow test, name by name."""
    found = _conventions_both_ways(60_000, 5, tmp_path, present=60, absent=20)
    assert found["file"] == found["memory"]


def test_the_file_holds_the_edition_groups_of_the_index_in_memory(tmp_path):
    entries = generate_catalogue(8000, seed=8).entries
    memory = in_memory_index(entries)
    in_memory = {frozenset({memory.album(p).album_id, *memory.album(p).editions}) for p in range(len(memory))}
    on_file = persisted_index(entries, str(tmp_path / "bdnex.db"))
    in_file = {
        frozenset({album.album_id, *album.editions})
        for series in on_file.all_series().series
        for album in on_file.series_albums(series)
    }
    groups = {group for group in in_memory if len(group) > 1}
    assert {group for group in in_file if len(group) > 1} == groups and len(groups) > 200
    qualified = {(a.album_id, a.qualifier) for a in map(memory.album, range(len(memory))) if a.qualifier}
    assert {
        (album.album_id, album.qualifier)
        for series in on_file.all_series().series
        for album in on_file.series_albums(series)
        if album.qualifier
    } == qualified and qualified


@pytest.mark.shared
def test_same_decisions_on_every_accuracy_evaluation_of_the_real_sitemaps(bedetheque_fixtures, tmp_path):
    """The evaluations tests/test_matching.py and tests/test_matching_noise.py assert on, name by name."""
    entries = [
        entry for path in sorted((bedetheque_fixtures / "sitemaps").glob("*.xml")) for entry in iter_album_entries(path)
    ]
    make_file = index_factory("file", tmp_path)
    memory = evaluate(entries, MatchingSettings(), present=2000, absent=400, seed=11)
    on_file = evaluate(entries, MatchingSettings(), present=2000, absent=400, seed=11, make_index=make_file)
    assert on_file.decisions == memory.decisions and len(memory.decisions) == 2400
    noisy_memory = evaluate_noisy(entries, MatchingSettings(), present=300, absent=60, seed=99)
    noisy_file = evaluate_noisy(entries, MatchingSettings(), present=300, absent=60, seed=99, make_index=make_file)
    for convention, result in noisy_memory.items():
        assert noisy_file[convention].decisions == result.decisions, convention
        assert noisy_file[convention].rates() == result.rates(), convention


# ----------------------------------------------------------------------------- the file's life


def _sitemap_xml(urls: list[str]) -> bytes:
    body = "".join(f"<url><loc>{url}</loc><lastmod>2024-01-01</lastmod></url>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{body}</urlset>"
    ).encode()


@pytest.fixture
def imported(tmp_path):
    """A database of two sitemaps imported by `catalogue update --from-files`, its index file built by it."""
    first = tmp_path / "albums_200001_210000_map.xml"
    second = tmp_path / "albums_240001_250000_map.xml"
    first.write_bytes(_sitemap_xml([url for url in URLS if "-2000" in url or "-2001" in url or "-2002" in url]))
    second.write_bytes(_sitemap_xml([url for url in URLS if url.endswith(("45127.html", "53769.html", "72757.html"))]))
    database = tmp_path / "bdnex.db"
    assert main(["--db", str(database), "catalogue", "update", "--from-files", str(first), str(second)]) == 0
    return database, first, second


def _identify(database: Path, name: str, capsys) -> tuple[dict, str]:
    capsys.readouterr()
    assert main(["--db", str(database), "identify", name, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_catalogue_update_builds_the_file_and_identify_only_opens_it(imported, capsys):
    database, _first, _second = imported
    path = database.with_name(f"bdnex.db-catalogue-v{FORMAT}.sqlite")
    assert path.is_file()
    before = path.stat().st_mtime_ns
    answer, err = _identify(database, "Nains - T01 - Redwin de la Forge.cbz", capsys)
    assert (answer["decision"], answer["album_id"]) == ("accept", 245127)
    assert err == "" and path.stat().st_mtime_ns == before  # nothing built, nothing said


@pytest.mark.parametrize(
    ("harm", "reason"),
    [
        ("delete", "missing"),
        ("garbage", "damaged"),
        ("empty", "(empty)"),
        ("older format", f"format {FORMAT - 1}, this version reads {FORMAT}"),
        ("unfinished", "left incomplete"),
    ],
)
def test_a_missing_older_or_damaged_file_is_built_again_with_one_line(imported, capsys, harm, reason):
    database, _first, _second = imported
    path = database.with_name(f"bdnex.db-catalogue-v{FORMAT}.sqlite")
    if harm == "delete":
        path.unlink()
    elif harm == "garbage":
        path.write_bytes(b"not an index at all" * 1000)
    elif harm == "empty":
        path.write_bytes(b"")
    else:
        with sqlite3.connect(path) as conn:
            if harm == "older format":
                conn.execute(f"PRAGMA user_version = {FORMAT - 1}")
            else:
                conn.execute("DELETE FROM meta WHERE key = 'complete'")
    answer, err = _identify(database, "Nains - T02.cbz", capsys)
    assert (answer["decision"], answer["album_id"]) == ("accept", 253769)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("catalogue index: building") and reason in lines[0], err
    assert _identify(database, "Nains - T02.cbz", capsys)[1] == ""  # built once


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_a_folder_where_the_file_or_its_wal_belongs_is_moved_aside(imported, capsys, suffix):
    database, _first, _second = imported
    path = database.with_name(f"bdnex.db-catalogue-v{FORMAT}.sqlite")
    path.unlink()
    folder = Path(f"{path}{suffix}")
    folder.mkdir()
    (folder / "a user's file").write_text("kept")
    answer, err = _identify(database, "Nains - T02.cbz", capsys)
    assert (answer["decision"], answer["album_id"]) == ("accept", 253769), err
    assert path.is_file() and "was no file; moved aside" in err, err
    kept = [p for p in path.parent.iterdir() if p.name.startswith(f"{folder.name}.damaged-")]
    assert len(kept) == 1 and (kept[0] / "a user's file").read_text() == "kept"


def test_a_file_found_damaged_while_reading_is_built_again_once(imported):
    database, _first, _second = imported
    told: list[str] = []
    with BDneXDB(database) as db:
        index = open_catalogue_index(db, announce=told.append)
    assert told == []
    # the pages of the albums overwritten: the header and the small tables still read
    path = index.path
    with sqlite3.connect(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'albums'").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    data[(root - 1) * page : root * page] = b"\xff" * page
    path.write_bytes(bytes(data))
    index.close()
    albums = index.series_albums(index.series_with_key("nains")[0])
    assert [album.album_id for album in albums] == [245127, 253769, 272757]
    assert len(told) == 1 and told[0].startswith("catalogue index: building") and "damaged" in told[0], told


def test_one_changed_sitemap_is_read_again_alone(imported, capsys, monkeypatch):
    # a catalogue of two sitemaps: each is a large share of it, which would have the file built anew
    monkeypatch.setattr(catalogue_index, "REBUILD_SHARE", 0.9)
    database, first, second = imported
    urls = [url for url in URLS if url.endswith(("45127.html", "53769.html"))]  # tome 3 gone
    urls.append("https://www.bedetheque.com/BD-Nains-Tome-4-Oengus-de-la-Forge-249000.html")
    urls.append("https://www.bedetheque.com/BD-Ythaq-Tome-1-Terra-incognita-249001.html")
    second.write_bytes(_sitemap_xml(urls))
    assert main(["--db", str(database), "catalogue", "update", "--from-files", str(second), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["index_file"] == "1 sitemap(s) re-read"
    assert _identify(database, "Nains - T04.cbz", capsys)[0]["album_id"] == 249000
    assert _identify(database, "Ythaq T01.cbz", capsys)[0]["album_id"] == 249001
    assert _identify(database, "Nains - T03.cbz", capsys)[0]["decision"] != "accept"
    assert _identify(database, "Largo Winch - Intégrale 2.cbz", capsys)[0]["album_id"] == 200200  # the other one
    # a series left without albums is gone from the file, with its keys and words
    second.write_bytes(_sitemap_xml(urls[:2]))
    assert main(["--db", str(database), "catalogue", "update", "--from-files", str(second)]) == 0
    with BDneXDB(database) as db:
        index = open_catalogue_index(db)
        assert index.series_with_key("ythaq") == [] and index.series_with_words(["ythaq"]) == {}
        assert "ythaq" not in index.all_series()[1]
        fresh = in_memory_index([entry for path in (first, second) for entry in iter_album_entries(path)])
        assert decisions(Matcher(index, MatchingSettings()), NAMES) == decisions(
            Matcher(fresh, MatchingSettings()), NAMES
        )


def test_a_process_opening_a_stale_file_reads_the_changed_sitemaps(imported, capsys):
    """Another process (another machine, with PostgreSQL) changed the catalogue: the file catches up."""
    database, _first, _second = imported
    with BDneXDB(database) as db:
        Catalogue(db).replace_sitemap(
            "albums_240001_250000_map.xml",
            [parse_album_url("https://www.bedetheque.com/BD-Nains-Tome-5-Tiresias-l-enchanteresse-248000.html")],
        )
    answer, err = _identify(database, "Nains - T05.cbz", capsys)
    assert answer["album_id"] == 248000 and err == ""


def _blocking_rows(monkeypatch, release: threading.Event, reached: threading.Event):
    """The albums the writer reads from the database stop half-way until ``release``."""
    real = catalogue_index._albums

    def rows(db, sitemaps=None):
        for number, row in enumerate(real(db, sitemaps)):
            if number == 1:
                reached.set()
                assert release.wait(30)
            yield row

    monkeypatch.setattr(catalogue_index, "_albums", rows)


@pytest.mark.parametrize("how", ["refresh", "rebuild"])
def test_a_reader_never_sees_half_of_an_update(imported, monkeypatch, how):
    database, _first, _second = imported
    with BDneXDB(database) as db:
        reader = open_catalogue_index(db)
        before = [album.album_id for album in reader.series_albums(reader.series_with_key("nains")[0])]
        entries = [
            parse_album_url(url)
            for url in (
                "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
                "https://www.bedetheque.com/BD-Nains-Tome-4-Oengus-de-la-Forge-249000.html",
                "https://www.bedetheque.com/BD-Nains-Tome-5-Tiresias-l-enchanteresse-249500.html",
            )
        ]
        Catalogue(db).replace_sitemap("albums_240001_250000_map.xml", entries)
        if how == "rebuild":
            monkeypatch.setattr(catalogue_index, "REBUILD_SHARE", 0.0)
        release, reached = threading.Event(), threading.Event()
        _blocking_rows(monkeypatch, release, reached)
        writer = threading.Thread(target=update_index, args=(db.reopen(),), kwargs={"announce": lambda _line: None})
        writer.start()
        assert reached.wait(30)
        during = PersistedIndex(index_path(db))  # a process opening the file now
        for index in (reader, during):
            nains = index.series_with_key("nains")[0]
            assert [album.album_id for album in index.series_albums(nains)] == before
        release.set()
        writer.join(30)
        after = PersistedIndex(index_path(db))
        assert [album.album_id for album in after.series_albums(after.series_with_key("nains")[0])] == [
            245127,
            249000,
            249500,
        ]


def test_with_postgresql_the_file_lives_in_the_cache_folder_per_database(postgres_url, tmp_path):
    entries = [parse_album_url(url) for url in URLS]
    index = persisted_index(entries, postgres_url)
    assert index.path.parent.name == "catalogue-index" and index.path.name.endswith(f"-v{FORMAT}.sqlite")
    assert postgres_url.rsplit("/", 1)[-1].replace("_", "-") in index.path.name
    assert find_series(index, "nains")[0].name == "nains"
    with sqlite3.connect(index.path) as conn:  # no password of the URL in it
        assert all(":" not in value for (value,) in conn.execute("SELECT value FROM meta"))


def test_a_folder_where_the_file_should_be_is_moved_aside(tmp_path, capsys):
    """The index file is a cache: whatever stands in its place is kept aside (never deleted) and the
    file built, rather than every command failing until a person moves it."""
    entries = [parse_album_url(url) for url in URLS]
    database = tmp_path / "bdnex.db"
    with BDneXDB(database) as db:
        store_entries(db, entries)
    blocker = database.with_name(f"bdnex.db-catalogue-v{FORMAT}.sqlite")
    blocker.mkdir()  # a folder where the file should be
    (blocker / "x").write_text("x")
    assert main(["--db", str(database), "identify", "Nains 2.cbz"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "was no file; moved aside" in err[1], err
    assert blocker.is_file()
    assert [(p / "x").read_text() for p in tmp_path.iterdir() if p.name.startswith(f"{blocker.name}.damaged-")] == ["x"]


def _content(path: Path) -> dict[str, object]:
    """What an index file says, whatever numbers it gave its series."""
    with sqlite3.connect(path) as conn:
        name = dict(conn.execute("SELECT id, name FROM series"))
        ids, names = conn.execute("SELECT series, names FROM fuzzy_list").fetchone()
        from array import array

        order = array("q")
        order.frombytes(ids)
        return {
            "series": sorted(conn.execute("SELECT name, stripped FROM series")),
            "keys": sorted((key, name[series]) for key, series in conn.execute("SELECT key, series FROM series_keys")),
            "words": sorted(
                (word, name[series]) for word, series in conn.execute("SELECT word, series FROM series_words")
            ),
            "albums": sorted(
                (album_id, name[series], *rest)
                for album_id, series, *rest in conn.execute(
                    "SELECT a.album_id, a.series, m.name, a.tome, a.tome_number, a.tome_kind, a.title, a.title_key, a.tome_group, "
                    "a.edition "
                    "FROM albums a JOIN sitemaps m ON m.id = a.sitemap"
                )
            ),
            "fuzzy": [(name[series], stripped) for series, stripped in zip(order, names.split("\n"), strict=True)],
            "sitemaps": sorted(conn.execute("SELECT name, revision FROM sitemaps")),
        }


def test_updates_sitemap_by_sitemap_leave_the_file_a_new_build_would_make(tmp_path, monkeypatch):
    monkeypatch.setattr(catalogue_index, "REBUILD_SHARE", 1.0)  # always the update in place
    rng = random.Random(26)
    entries = _generated_entries(1500)
    database = tmp_path / "bdnex.db"
    with BDneXDB(database) as db:
        store_entries(db, entries)
        update_index(db)
        path = index_path(db)
        by_sitemap: dict[int, list] = {}
        for entry in entries:
            by_sitemap.setdefault(entry.album_id // 10_000, []).append(entry)
        for step in range(6):
            block = rng.choice(sorted(by_sitemap))
            albums = [entry for entry in by_sitemap[block] if rng.random() > 0.1]  # some gone
            albums += [  # some new, in new series and in series other sitemaps hold
                parse_album_url(
                    f"https://www.bedetheque.com/BD-{rng.choice(['Nouvelle-serie', 'Les-Tuniques-Bleues', 'Thorgal'])}"
                    f"-{step}-Tome-{n}-Titre-{step}-{block * 10_000 + 9000 + step * 50 + n}.html"
                )
                for n in range(rng.randint(0, 5))
            ]
            albums += [  # some re-editions of albums other sitemaps hold (an edition group across sitemaps)
                parse_album_url(
                    other.url.replace(f"-{other.album_id}.html", f"-{block * 10_000 + 9500 + step * 5 + n}.html")
                )
                for n, other in enumerate(rng.sample(entries, 3))
            ]
            albums = [  # some renamed
                parse_album_url(entry.url.replace("/BD-", "/BD-Renomme-")) if rng.random() < 0.05 else entry
                for entry in albums
            ]
            by_sitemap[block] = albums
            first = block * 10_000 + 1
            Catalogue(db).replace_sitemap(f"albums_{first}_{first + 9_999}_map.xml", albums)
            assert update_index(db, announce=pytest.fail) == "1 sitemap(s) re-read"
        fresh = tmp_path / "fresh.sqlite"
        catalogue_index.build(db, fresh)
        content = _content(path)
        assert content == _content(fresh)
        assert sum(album[-1] is not None for album in content["albums"]) >= 6  # edition groups were updated
