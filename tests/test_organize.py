"""`ls`, `missing` and `rename` on a library tagged against the fake site."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bdnex_core.app.organize import Tome, render_relative_path, safe_component, template_values
from bdnex_core.bedetheque.client import BedethequeClient
from bdnex_core.cli import main
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import CatalogueAlbum, build_library
from bdnex_core.pipeline import TagOptions, collect_items, run_tagging
from bdnex_testing import review as review_env
from bdnex_testing.pytest_plugin import database_mapping
from bdnex_testing.review import make_env

site = review_env.site  # the fake Bédéthèque site, one per module


def series_with_tomes(site, count):
    """A series of the catalogue with at least ``count + 1`` numbered tomes (one stays missing)."""
    for slug, entries in sorted(site.catalogue.series.items()):
        regular = [e for e in entries if e.tome_kind == "regular" and e.tome and e.tome.isdigit() and e.title_slug]
        if len({e.tome for e in regular}) > count:
            chosen = sorted({e.tome: e for e in regular}.values(), key=lambda e: int(e.tome))[:count]
            return slug, [CatalogueAlbum(e.album_id, human(e.series_slug), e.tome, human(e.title_slug)) for e in chosen]
    raise AssertionError("no series long enough in the catalogue")


@pytest.fixture
def tagged(site, tmp_path, database_location):
    """A library of three tomes of one series, tagged (on each backend); its config file for the CLI."""
    settings, db, config = make_env(site, tmp_path, database_location)
    slug, albums = series_with_tomes(site, 3)
    library = tmp_path / "library"
    samples = build_library(library / "incoming", albums, broken=0)
    items = collect_items(settings, "folder", [str(library)])
    summary = run_tagging(
        settings, db, items, TagOptions(workers=2, locations=(str(library),)), client=BedethequeClient(settings)
    )
    assert summary.count("done") == 3, [o.reason for o in summary.outcomes]
    yield {"db": db, "config": config, "library": library, "samples": samples, "albums": albums, "slug": slug}
    db.close()


def cli(config, *args):
    return main(["--config", str(config), *args])


def comics(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.suffix in (".cbz", ".cbr")]


def sha256s(folder: Path) -> dict[str, Path]:
    return {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in comics(folder)}


# ---------------------------------------------------------------------- ls and missing


def test_ls_queries(tagged, capsys):
    config, albums = tagged["config"], tagged["albums"]
    first_word = albums[0].series.split()[0]
    assert cli(config, "ls", f"series:{first_word.lower()}", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["bdgest_id"] for row in rows} == {album.album_id for album in albums}

    assert cli(config, "ls", "status:success", "-f", "{series}|{tome}|{album_id}") == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split("|")[2] for line in lines) == sorted(str(album.album_id) for album in albums)

    year = rows[0]["year"]
    assert year is not None
    assert cli(config, "ls", f"year:{year}..{year}", "--json") == 0
    assert {row["year"] for row in json.loads(capsys.readouterr().out)} == {year}
    assert cli(config, "ls", f"year:..{year - 1}", "--count") == 0
    assert capsys.readouterr().out.strip() == str(sum(1 for row in rows if row["year"] < year))

    assert cli(config, "ls", "decision:review", "--count") == 0
    assert capsys.readouterr().out.strip() == "0"
    # free words: accents and case ignored, a word matches its beginning
    title_word = max(albums[1].title.split(), key=len)
    assert cli(config, "ls", title_word.upper()[:-1], "--json") == 0
    assert albums[1].album_id in {row["bdgest_id"] for row in json.loads(capsys.readouterr().out)}
    assert cli(config, "ls", "zzzunknownword") == 0
    assert capsys.readouterr().out == ""


def test_ls_refuses_unknown_fields_and_bad_ranges(tagged, capsys):
    assert cli(tagged["config"], "ls", "serie:nains") == 2
    assert "unknown field 'serie'" in capsys.readouterr().err
    assert cli(tagged["config"], "ls", "year:abc") == 2
    assert "year:abc" in capsys.readouterr().err


def test_missing_lists_the_tomes_the_library_lacks(tagged, site, capsys):
    config, albums, slug = tagged["config"], tagged["albums"], tagged["slug"]
    assert cli(config, "missing", "--json") == 0
    gaps = json.loads(capsys.readouterr().out)
    assert [gap["series_slug"] for gap in gaps] == [slug]
    owned = {album["album_id"] for album in gaps[0]["owned"]}
    assert owned == {album.album_id for album in albums}
    catalogue_tomes = {e.tome for e in site.catalogue.series[slug]}
    missing_tomes = {album["tome"] for album in gaps[0]["missing"]}
    assert missing_tomes == catalogue_tomes - {album.tome for album in albums}
    assert missing_tomes  # the fixture leaves at least one tome out
    assert cli(config, "missing") == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    total = len(missing_tomes)
    assert lines[-1] == f"{total} tome{'s' if total != 1 else ''} missing in 1 of 1 series (0 complete)", text
    special = [e for e in site.catalogue.series[slug] if e.tome_kind in ("hs", "int") and e.tome in missing_tomes]
    for entry in special:  # HS 1, INT 2: as a person writes them, never THS1
        assert f"{entry.tome[: -len(str(entry.tome_number))]} {entry.tome_number}  " in text, text
    assert " T" + (special[0].tome if special else "HS") not in text
    titled = [e for e in site.catalogue.series[slug] if e.tome in missing_tomes and e.title_slug]
    assert titled and all(e.title_slug.replace("-", " ") in text for e in titled)  # words, not slugs
    assert cli(config, "missing", "no-such-series") == 0
    said = capsys.readouterr().out
    assert said.startswith("No tagged series matches 'no-such-series' (1 series known: "), said


# ---------------------------------------------------------------------- names


def test_tome_formats_like_a_number():
    assert f"{Tome('1'):02}" == "01"
    assert f"{Tome('HS1'):02}" == "HS01"
    assert f"{Tome('INT12'):02}" == "INT12"
    assert f"{Tome('1a'):02}" == "01a"
    assert f"{Tome(None):02}" == ""
    assert f"{Tome('12')}" == "12"


def test_safe_components():
    assert safe_component("Tome 1/2: la suite") == "Tome 1-2 - la suite"
    assert safe_component("Fin... ") == "Fin"
    assert safe_component("CON") == "CON_" and safe_component("lpt1.txt") == "lpt1.txt_"
    assert safe_component('a<b>c"d|e?f*g\\h') == "a(b)c'd-ef-g-h"
    assert safe_component("e\u0301t\u00e9") == "\u00e9t\u00e9"  # NFC
    assert safe_component("..") == "_" and safe_component("") == "_"
    long = safe_component("é" * 300)
    assert len(long.encode()) <= 255 and long == "é" * 127


def test_rendered_paths_fit_every_filesystem():
    values = template_values(
        {"series": "Nains", "tome": "1", "title": "Redwin: de la Forge / T1", "bdgest_id": 245127, "year": 2015}, None
    )
    path = render_relative_path("{series}/{series} - T{tome:02} - {title} ({year})", values, ".cbz")
    assert path == Path("Nains/Nains - T01 - Redwin - de la Forge - T1 (2015).cbz")
    long_title = dict(values, title="x" * 400)
    last = render_relative_path("{series}/{title}", long_title, ".cbz").name
    assert last.endswith(".cbz") and len(last.encode()) <= 255


# ---------------------------------------------------------------------- rename


def test_rename_with_the_default_template(tagged, capsys):
    db, config, library, albums = tagged["db"], tagged["config"], tagged["library"], tagged["albums"]
    before = sha256s(library)
    old_paths = {str(path.resolve()) for path in before.values()}
    assert cli(config, "rename", str(library), "--dry-run") == 0
    assert "would move" in capsys.readouterr().out
    assert sha256s(library) == before  # the dry run moved nothing

    assert cli(config, "rename", str(library)) == 0
    after = sha256s(library)
    assert set(after) == set(before)  # the same files, byte for byte
    suffixes = {sample.expected_album_id: sample.path.suffix for sample in tagged["samples"]}
    for album in albums:
        stem = safe_component(f"{album.series} - T{int(album.tome):02} - {album.title}")
        expected = library / safe_component(album.series) / f"{stem}{suffixes[album.album_id]}"
        assert expected.is_file(), sorted(str(p) for p in comics(library))
        row = db.files.get(expected)
        assert row is not None and row["bdgest_id"] == album.album_id
        history = [h for h in db.files.history(row["id"]) if h["field"] == "file_path"]
        assert history and history[-1]["old_value"] in old_paths
    assert not (library / "incoming").exists()  # the emptied folder is gone
    assert library.is_dir()
    # a second rename has nothing to do
    assert cli(config, "rename", str(library)) == 0
    assert sha256s(library) == after


def test_rename_with_a_custom_template_and_collisions(tagged, capsys):
    db, config, library = tagged["db"], tagged["config"], tagged["library"]
    # every file wants the same name: suffixes, never an overwrite; the dry run plans the same names
    assert cli(config, "rename", str(library), "--template", "{series}: all", "--dry-run", "--json") == 0
    planned = sorted(Path(result["target"]).name for result in json.loads(capsys.readouterr().out))
    assert cli(config, "rename", str(library), "--template", "{series}: all") == 0
    names = sorted(path.name for path in comics(library))
    series = safe_component(f"{tagged['albums'][0].series}: all")
    expected = []
    for suffix in {sample.path.suffix for sample in tagged["samples"]}:
        count = sum(1 for sample in tagged["samples"] if sample.path.suffix == suffix)
        expected += [f"{series}{suffix}"] + [f"{series} ({n}){suffix}" for n in range(2, count + 1)]
    assert names == sorted(expected) == planned
    recorded = db.backend.tuples("SELECT file_path FROM processed_files")
    assert sum(series in path for (path,) in recorded) == 3
    capsys.readouterr()
    # refuse: the dry run says which files would stay, the run leaves them, says so and exits 1
    refuse = ["rename", str(library), "--template", "fixed", "--on-collision", "refuse", "--json"]
    assert cli(config, *refuse, "--dry-run") == 0
    would_stay = [r["file"] for r in json.loads(capsys.readouterr().out) if "would be left" in r["message"]]
    assert cli(config, *refuse) == 1
    results = json.loads(capsys.readouterr().out)
    moved = [result for result in results if result["moved"]]
    refused = [result for result in results if result["failed"]]
    assert len(moved) + len(refused) == 3 and refused and "exists" in refused[0]["message"]
    assert would_stay == [result["file"] for result in refused]
    assert len(comics(library)) == 3


def test_rename_leaves_managed_and_untagged_files(tagged, capsys):
    db, config, library = tagged["db"], tagged["config"], tagged["library"]
    sample = tagged["samples"][0].path
    db.files.record_processing(sample, None, {"status": "success", "series": "X", "title": "Y", "source": "komga"})
    assert cli(config, "rename", str(library)) == 0
    assert "komga organises its own files" in capsys.readouterr().err
    assert sample.exists()


def _tmpfs(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], capture_output=True).returncode
        == 0
    )


def test_rename_across_filesystems(tagged):
    db, config, library = tagged["db"], tagged["config"], tagged["library"]
    target_folder = library / "other-fs"
    if not _tmpfs(target_folder):
        pytest.skip("needs root to mount a tmpfs for the cross-filesystem move")
    try:
        before = sha256s(library)
        assert cli(config, "rename", str(library), "--template", "other-fs/{series} {tome}") == 0
        moved = comics(target_folder)
        assert len(moved) == 3
        assert os.stat(moved[0]).st_dev != os.stat(library).st_dev
        assert set(sha256s(library)) == set(before)
        assert not comics(library / "incoming")
        assert all(db.files.get(path) is not None for path in moved)
        assert not list(target_folder.glob(".bdnex-tmp-*"))
    finally:
        subprocess.run(["umount", "-l", str(target_folder)], check=False)


def _recorded_library(tmp_path, count, database=None):
    settings = from_mapping(
        {
            "database": database_mapping(database or str(tmp_path / "bdnex.db")),
            "pipeline": {"logs_dir": str(tmp_path / "logs")},
        }
    )
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(settings.raw))
    library = tmp_path / "library"
    rng = random.Random(7)
    with BDneXDB(settings=settings) as db, db.write():
        for number in range(count):
            path = library / "in" / f"file {number:04}.cbz"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"PK" + rng.randbytes(1024))
            db.files.record_processing(
                path, None, {"status": "success", "series": f"S{number % 7}", "tome": str(number), "title": "t"}
            )
    return settings, config, library


def _check_finished(settings, config, library, count, folder):
    final = subprocess.run(
        [
            sys.executable,
            "-m",
            "bdnex_core",
            "--config",
            str(config),
            "rename",
            str(library),
            "--template",
            f"{folder}/{{series}}/{{tome:04}}",
        ],
        capture_output=True,
        text=True,
    )
    assert final.returncode == 0, final.stderr
    files = comics(library)
    assert len(files) == count and all(folder in path.parts for path in files)
    with BDneXDB(settings=settings) as check:
        recorded = {path for (path,) in check.backend.tuples("SELECT file_path FROM processed_files")}
        assert check.moves.in_progress() == []
    assert recorded == {str(path.resolve()) for path in files}


class Crash(BaseException):
    """Stands for the process dying at one point of a move (not an Exception: nothing catches it)."""


@pytest.mark.parametrize("point", ["link", "fsync", "unlink"])
def test_a_rename_killed_at_each_step_is_finished_by_the_next(tmp_path, monkeypatch, point, database_location):
    """Dies after the n-th link, before the records follow, or after some old names are gone: no
    content is lost, and the next run finishes the moves the journal holds, records included."""
    import bdnex_core.app.organize as organize

    settings, config, library = _recorded_library(tmp_path, 40, database_location)
    contents = set(sha256s(library))
    calls = {"count": 0}

    def dying(original):
        def wrapper(*args, **kwargs):
            calls["count"] += 1
            if calls["count"] == 25:
                raise Crash
            return original(*args, **kwargs)

        return wrapper

    if point == "link":
        monkeypatch.setattr(organize, "_link_or_copy", dying(organize._link_or_copy))
    elif point == "fsync":
        monkeypatch.setattr(organize, "fsync_directory", dying(organize.fsync_directory))
        calls["count"] = 24  # the first directory flush, after every link of the batch
    else:
        monkeypatch.setattr(organize.Path, "unlink", dying(organize.Path.unlink))
    with pytest.raises(Crash):
        cli(config, "rename", str(library), "--template", "first/{series}/{tome:04}")
    monkeypatch.undo()
    assert set(sha256s(library)) == contents
    with BDneXDB(settings=settings) as db:
        assert db.moves.in_progress()  # the journal holds the moves that were under way
    _check_finished(settings, config, library, 40, "second")


@pytest.mark.slow
def test_sigkill_during_rename_loses_no_file(tmp_path):
    """A real process killed at random moments while renaming 2,000 files."""
    settings, config, library = _recorded_library(tmp_path, 2000)
    contents = set(sha256s(library))
    rng = random.Random(11)
    command = [sys.executable, "-m", "bdnex_core", "--config", str(config), "rename", str(library)]
    interrupted = 0
    for trial in range(4):
        process = subprocess.Popen(
            [*command, "--template", f"v{trial}/{{series}}/{{tome:04}}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = library / f"v{trial}"
        while process.poll() is None and not target.exists():  # the moves have begun
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert set(sha256s(library)) == contents  # no content lost, whatever the moment
        placed = sum(1 for path in comics(library) if f"v{trial}" in path.parts)
        interrupted += 0 < placed < 2000
    assert interrupted, "no kill landed during the work: raise the library size"
    _check_finished(settings, config, library, 2000, "done")


# ---------------------------------------------------------------------- undo


def paths_and_hashes(folder: Path) -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in comics(folder)}


@pytest.fixture
def untagged(site, tmp_path, database_location):
    """A library of three tomes, not tagged yet, and a config pointing at the fake site."""
    settings, db, config = make_env(site, tmp_path, database_location)
    db.close()
    _slug, albums = series_with_tomes(site, 3)
    library = tmp_path / "library"
    samples = build_library(library / "incoming", albums, broken=0)
    # one file already had a ComicInfo of its own: it must come back byte for byte too
    from bdnex_core.archives.zipwrite import write_comicinfo

    cbz = next(sample.path for sample in samples if sample.path.suffix == ".cbz")
    write_comicinfo(cbz, b"<?xml version='1.0'?><ComicInfo><Notes>mine</Notes><Series>Other</Series></ComicInfo>")
    return {"settings": settings, "config": config, "library": library, "database": database_location}


def last_session(settings) -> int:
    with BDneXDB(settings=settings) as db:
        return int(db.sessions.recent(limit=1)[0]["id"])


@pytest.mark.parametrize("write", ["in_place", "copy"])
def test_tag_rename_then_undo_gives_every_file_back_byte_for_byte(untagged, capsys, write):
    settings, config, library = untagged["settings"], untagged["config"], untagged["library"]
    config.write_text(json.dumps({**json.loads(config.read_text()), "archives": {"write": write}}))  # either way
    before = paths_and_hashes(library)
    assert cli(config, "tag", str(library), "--batch", "--rename") == 0
    after = paths_and_hashes(library)
    assert set(after).isdisjoint(before)  # every file renamed
    assert set(after.values()).isdisjoint(before.values())  # and tagged
    session = last_session(settings)
    capsys.readouterr()

    assert cli(config, "undo", str(session), "--dry-run") == 0
    printed = capsys.readouterr()
    assert "would restore" in printed.out
    assert f"{len(before)} file(s) would be restored" in printed.err  # the count agrees with the lines
    assert paths_and_hashes(library) == after

    assert cli(config, "undo", str(session)) == 0
    assert paths_and_hashes(library) == before  # same names, same SHA-256
    with BDneXDB(settings=settings) as db:
        for path in before:
            row = db.files.get(path)
            assert row is not None and row["status"] == "skipped" and row["bdgest_id"] is None
            fields = {entry["field"] for entry in db.files.history(row["id"]) if entry["source"] == "manual"}
            assert "bdgest_id" in fields  # the undo is its own history entry
    # undoing twice restores nothing more
    assert cli(config, "undo", str(session)) == 1


def test_undo_leaves_a_file_changed_since_unless_forced(untagged, capsys):
    import zipfile

    settings, config, library = untagged["settings"], untagged["config"], untagged["library"]
    before = paths_and_hashes(library)
    assert cli(config, "tag", str(library), "--batch") == 0
    session = last_session(settings)
    edited = next(Path(path) for path in before if path.endswith(".cbz"))
    with zipfile.ZipFile(edited, "a") as archive:  # another program adds a page
        archive.writestr("zz-extra.jpg", b"\xff\xd8extra")
    edited_bytes = edited.read_bytes()
    capsys.readouterr()
    assert cli(config, "undo", str(session)) == 1
    assert "changed since by another program" in capsys.readouterr().err
    assert edited.read_bytes() == edited_bytes
    assert {p: h for p, h in paths_and_hashes(library).items() if p != str(edited)} == {
        p: h for p, h in before.items() if p != str(edited)
    }
    # forced: the file as it was before the session, byte for byte (the page added since goes too)
    assert cli(config, "undo", str(edited), "--force") == 0
    assert "restored byte for byte" in capsys.readouterr().out
    assert paths_and_hashes(library) == before


def test_undo_of_unknown_things_is_one_line(untagged, capsys):
    config = untagged["config"]
    assert cli(config, "undo", "999") == 1
    assert "no session 999" in capsys.readouterr().err
    assert cli(config, "undo", str(untagged["library"] / "nothing.cbz")) == 1
    assert "nothing to undo" in capsys.readouterr().err


def test_tomes_are_written_as_a_person_writes_them():
    from bdnex_core.matching.normalize import readable_tome

    assert [readable_tome(tome) for tome in ("HS15", "INT33", "int2", "1a", "12", None)] == [
        "HS 15",
        "INT 33",
        "INT 2",
        "1a",
        "12",
        "",
    ]
