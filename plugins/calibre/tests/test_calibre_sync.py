"""calibre sync against the real calibre (calibredb, calibre-server) and the fake Bédéthèque."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from bdnex_core import cli
from bdnex_testing.pytest_plugin import skip_or_fail

REQUIRED_BY = "BDNEX_REQUIRE_CALIBRE"
FIRST_ALBUM = 245127


@pytest.fixture(autouse=True)
def calibre_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("calibredb") is None:
        skip_or_fail("calibre is not installed (calibredb not on PATH)", required_by=REQUIRED_BY)
    monkeypatch.setenv("CALIBRE_CONFIG_DIRECTORY", str(tmp_path / "calibre-config"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


def calibredb(*args: str) -> str:
    # calibre's lock is per user: another test run on this machine may hold it for a moment
    for attempt in range(20):
        proc = subprocess.run(["calibredb", *args], capture_output=True, text=True, timeout=120)
        if proc.returncode == 0 or "Another calibre program" not in proc.stderr:
            break
        time.sleep(0.5 + attempt * 0.25)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def site() -> Iterator[object]:
    from bdnex_testing.shared import fake_bedetheque

    with fake_bedetheque() as fake:
        yield fake


@pytest.fixture
def config(request: pytest.FixtureRequest, tmp_path: Path, site) -> Path:
    """A config pointing at the fake site, with the catalogue index already built; its database is
    SQLite, or PostgreSQL for a test marked ``@pytest.mark.parametrize("config", [...], indirect=True)``."""
    from bdnex_core.bedetheque.catalogue import Catalogue
    from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
    from bdnex_core.config import from_mapping
    from bdnex_core.db import BDneXDB
    from bdnex_testing.pytest_plugin import database_mapping

    if getattr(request, "param", "sqlite") == "postgresql":
        database = request.getfixturevalue("postgres_url")
    else:
        database = str(tmp_path / "bdnex.db")
    mapping = {
        "database": database_mapping(database),
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": 3},
        **site.settings_mapping(min_delay_seconds=0.0, jitter_seconds=0.0),
    }
    reset_politeness()
    settings = from_mapping(mapping)
    db = BDneXDB(settings=settings)
    Catalogue(db).update_online(BedethequeClient(settings))
    db.close()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return path


def series_albums(site, count: int) -> list[tuple[int, str, str]]:
    """(album id, series, tome) for album 245127 (tome 1) and other regular tomes of its series."""
    from bdnex_core.demo.fakesite import human

    entry = site.catalogue.albums[FIRST_ALBUM]
    same = [e for e in site.catalogue.series[entry.series_slug] if e.tome_kind == "regular"]
    chosen = [entry, *[e for e in same if e.album_id != FIRST_ALBUM][: count - 1]]
    return [(e.album_id, human(e.series_slug), e.tome) for e in chosen]


@pytest.fixture
def library(tmp_path: Path, site) -> tuple[Path, list[int], list[int], str]:
    """A calibre library of generated CBZs; the first book already has an amazon identifier."""
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    folder = tmp_path / "Calibre Library"
    folder.mkdir()
    albums = series_albums(site, 3)
    ids = []
    for album_id, series, tome in albums:
        cbz = write_cbz(tmp_path / "in" / f"{series} T{int(tome):02d}.cbz", sample_pages(series, 3, album_id))
        out = calibredb("add", "--with-library", str(folder), str(cbz))
        ids.append(int(out.strip().rsplit(":", 1)[-1].split(",")[0]))
    calibredb("set_metadata", "--with-library", str(folder), "--field", "identifiers:amazon:B00TEST", str(ids[0]))
    return folder, ids, [a[0] for a in albums], albums[0][1]


def books(location: str) -> dict[int, dict]:
    rows = json.loads(
        calibredb(
            "list",
            "--for-machine",
            "--with-library",
            location,
            "--fields",
            "title,series,series_index,authors,publisher,identifiers,tags,formats,size",
        )
    )
    return {row["id"]: row for row in rows}


def check_library(location: str, folder: Path, ids: list[int], album_ids: list[int], series: str) -> None:
    """What calibre now holds: series, index, authors, publisher, identifiers (old ones kept),
    tags (genres), ComicInfo in each CBZ, and calibre's recorded size equal to the file's."""
    rows = books(location)
    for book_id, album_id in zip(ids, album_ids, strict=False):
        row = rows[book_id]
        assert row["identifiers"]["bedetheque"] == str(album_id), row
        assert row["identifiers"].get("isbn"), row
        assert row["series"].casefold() == series.casefold(), row
        assert row["authors"] and row["authors"] != "Unknown", row
        assert row["publisher"], row
        assert row["tags"], row
        # calibre's own layout: Author/Title (id)/file (a content server lists formats by name only)
        [cbz] = [path for path in folder.glob(f"*/* ({book_id})/*") if path.suffix.lower() == ".cbz"]
        with zipfile.ZipFile(cbz) as archive:
            assert "ComicInfo.xml" in archive.namelist()
        assert row["size"] == os.path.getsize(cbz)
    assert rows[ids[0]]["identifiers"]["amazon"] == "B00TEST"
    assert rows[ids[0]]["series_index"] == 1.0


@pytest.mark.parametrize("config", ["sqlite", "postgresql"], indirect=True)
def test_sync_local_library(library, config: Path) -> None:
    folder, ids, album_ids, series = library
    code = cli.main(["--config", str(config), "calibre", "sync", "--library", str(folder), "--create-columns"])
    assert code == 0
    check_library(str(folder), folder, ids, album_ids, series)
    custom = calibredb("list", "--for-machine", "--with-library", str(folder), "--fields", "*bdgest_id")
    assert {row["*bdgest_id"] for row in json.loads(custom)} == {str(a) for a in album_ids}


def test_dry_run_writes_nothing(library, config: Path) -> None:
    folder, _ids, _, _ = library
    before = books(str(folder))
    assert cli.main(["--config", str(config), "calibre", "sync", "--library", str(folder), "--dry-run"]) == 0
    assert books(str(folder)) == before


@pytest.fixture
def server(library, tmp_path: Path) -> Iterator[str]:
    folder = library[0]
    port = free_port()
    proc = subprocess.Popen(
        ["calibre-server", "--listen-on", "127.0.0.1", "--port", str(port), "--enable-local-write", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}#Calibre_Library"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_sync_through_content_server(library, config: Path, server: str) -> None:
    folder, ids, album_ids, series = library
    assert cli.main(["--config", str(config), "calibre", "sync", "--library", server]) == 0
    check_library(server, folder, ids, album_ids, series)


@pytest.mark.slow
def test_parallel_writes_through_server(library, server: str) -> None:
    from bdnex_calibre import calibredb as adapter

    remote = adapter.CalibreLibrary(server)
    _, ids, _, _ = library
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda i: adapter.run_calibredb(remote, ["set_metadata", str(i), "--field", f"tags:t{i}"]), ids * 2
            )
        )
    rows = books(server)
    assert all(rows[i]["tags"] == [f"t{i}"] for i in ids)


@pytest.mark.slow
def test_local_mode_with_server_running_gives_hint(library, config: Path, server: str, capsys) -> None:
    folder = library[0]
    code = cli.main(["--config", str(config), "calibre", "sync", "--library", str(folder)])
    err = capsys.readouterr().err
    assert code != 0
    assert "content server" in err and "Traceback" not in err


def test_sync_with_the_site_gone_stops_with_the_resume_hint(library, config: Path, site, capsys) -> None:
    """Bédéthèque stopped answering: exit 4, the session paused with the command to resume it, no book failed."""
    from bdnex_core.bedetheque.client import reset_politeness
    from bdnex_core.db import BDneXDB

    folder, _ids, _, _ = library
    site.stop()
    reset_politeness()
    code = cli.main(["--config", str(config), "calibre", "sync", "--library", str(folder)])
    out = capsys.readouterr().out
    assert code == 4, out
    db = BDneXDB(yaml.safe_load(config.read_text())["database"]["path"])
    session_id = db.sessions.recent(limit=1)[0]["id"]
    assert f"--config {config} tag --resume {session_id}" in out and "not usable now" in out  # runs as printed
    assert db.sessions.get(session_id)["status"] == "paused"
    assert db.backend.value("SELECT COUNT(*) FROM processed_files WHERE status = 'failed'") == 0
    db.close()


def sync(config: Path, folder: Path, *extra: str) -> int:
    return cli.main(["--config", str(config), "calibre", "sync", "--library", str(folder), *extra])


def last_modified(folder: Path) -> dict[int, str]:
    rows = json.loads(calibredb("list", "--for-machine", "--with-library", str(folder), "--fields", "last_modified"))
    return {row["id"]: row["last_modified"] for row in rows}


def test_user_tags_are_kept(library, config: Path) -> None:
    """calibre.tags defaults to merge: the user's own tag stays, the Bédéthèque genre is added."""
    folder, ids, _, _ = library
    calibredb("set_metadata", "--with-library", str(folder), "--field", "tags:à lire", str(ids[0]))
    assert sync(config, folder) == 0
    tags = books(str(folder))[ids[0]]["tags"]
    assert "à lire" in tags and len(tags) > 1, tags


def test_unchanged_second_sync_modifies_no_book(library, config: Path) -> None:
    """What calibre holds is what was hashed: a second sync recognises every book and writes nothing."""
    folder, ids, _, _ = library
    assert sync(config, folder, "--create-columns") == 0
    before = last_modified(folder)
    files = {path: path.read_bytes() for path in folder.glob("*/*/*.cbz")}
    time.sleep(2.1)  # a rewrite now would carry a later zip timestamp and last_modified
    assert sync(config, folder, "--create-columns") == 0
    assert last_modified(folder) == before
    assert {path: path.read_bytes() for path in folder.glob("*/*/*.cbz")} == files


def test_create_columns_backfills_books_tagged_earlier(library, config: Path) -> None:
    folder, _ids, album_ids, _ = library
    assert sync(config, folder) == 0
    assert sync(config, folder, "--create-columns") == 0
    custom = calibredb("list", "--for-machine", "--with-library", str(folder), "--fields", "*bdgest_id,*scenario")
    rows = json.loads(custom)
    assert {row["*bdgest_id"] for row in rows} == {str(a) for a in album_ids}
    assert all(row["*scenario"] for row in rows), rows


def album_of_kind(site, kind: str) -> tuple[int, str, str]:
    """(album id, series, tome) of the first album of that kind in a series that also has regular tomes."""
    from bdnex_core.demo.fakesite import human

    for slug, entries in sorted(site.catalogue.series.items()):
        kinds = {entry.tome_kind for entry in entries}
        if {"regular", "hs", "int"} <= kinds:
            entry = next(e for e in sorted(entries, key=lambda e: e.album_id) if e.tome_kind == kind)
            return entry.album_id, human(slug), entry.tome or ""
    raise AssertionError("no series with tomes, hors-séries and intégrales in the catalogue")


def test_integrales_and_hors_series_sort_after_the_tomes(tmp_path: Path, site, config: Path) -> None:
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    folder = tmp_path / "Calibre Library"
    folder.mkdir()
    ids = {}
    for kind in ("regular", "hs", "int"):
        album_id, series, tome = album_of_kind(site, kind)
        cbz = write_cbz(tmp_path / "in" / f"{series} {tome}.cbz", sample_pages(series, 3, album_id))
        out = calibredb("add", "--with-library", str(folder), str(cbz))
        ids[kind] = int(out.strip().rsplit(":", 1)[-1].split(",")[0])
        calibredb(
            "set_metadata",
            "--with-library",
            str(folder),
            "--field",
            f"identifiers:bedetheque:{album_id}",
            str(ids[kind]),
        )
    assert sync(config, folder) == 0
    rows = books(str(folder))
    tome, hors_serie, integrale = (rows[ids[kind]]["series_index"] for kind in ("regular", "hs", "int"))
    assert tome < 1000 <= hors_serie < 2000 <= integrale, (tome, hors_serie, integrale)


def test_authors_first_last_with_bedetheque_sort(tmp_path: Path, site, config: Path) -> None:
    """A generated album whose writer is "Van Hamme, Jean": calibre shows "Jean Van Hamme" and
    sorts by "Van Hamme, Jean" (calibre alone would guess "Hamme, Jean Van")."""
    from bdnex_core.demo.fakesite import _entry_values, human
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    entry = next(
        e
        for e in sorted(site.catalogue.albums.values(), key=lambda e: e.album_id)
        if e.tome_kind == "regular" and _entry_values(e)["writer"] == "Van Hamme, Jean"
    )
    artist = _entry_values(entry)["artist"]
    folder = tmp_path / "Calibre Library"
    folder.mkdir()
    cbz = write_cbz(
        tmp_path / "in" / f"{human(entry.series_slug)} {entry.tome}.cbz",
        sample_pages(human(entry.series_slug), 3, entry.album_id),
    )
    book_id = int(calibredb("add", "--with-library", str(folder), str(cbz)).strip().rsplit(":", 1)[-1].split(",")[0])
    calibredb(
        "set_metadata",
        "--with-library",
        str(folder),
        "--field",
        f"identifiers:bedetheque:{entry.album_id}",
        str(book_id),
    )
    site.recorded = None  # the generated page, with its Van Hamme
    assert sync(config, folder) == 0
    row = json.loads(
        calibredb("list", "--for-machine", "--with-library", str(folder), "--fields", "authors,author_sort")
    )[0]
    last, first = (part.strip() for part in artist.split(","))
    assert row["authors"] == f"Jean Van Hamme & {first} {last}", row
    assert row["author_sort"] == f"Van Hamme, Jean & {artist}", row


def test_missing_library_folder_is_a_one_line_error(tmp_path: Path, config: Path, capsys) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    assert sync(config, missing) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "no such folder" in err and str(missing) in err, err
    assert not missing.exists()  # calibredb would have made an empty library there


def test_tag_with_the_calibre_source_leaves_no_temporary_folder(
    library, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    folder, ids, album_ids, _ = library
    temporary = tmp_path / "system-tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    code = cli.main(["--config", str(config), "tag", "--source", "calibre", "--batch", str(folder)])
    assert code == 0
    assert books(str(folder))[ids[0]]["identifiers"]["bedetheque"] == str(album_ids[0])
    assert [path.name for path in temporary.iterdir() if path.name.startswith("bdnex-calibre-")] == []
