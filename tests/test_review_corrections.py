"""Correcting and inspecting results on the fake site: `tag --id`, `--timid`, `tag -v`, `show`,
`sessions info --files`, dry runs that say what they are, and a queue that follows moved files."""

from __future__ import annotations

import json
import shutil

import pytest

from bdnex_core.app.organize import safe_component
from bdnex_core.cli import main
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_testing import review as review_env
from bdnex_testing.review import (
    comicinfo_bytes,
    comicinfo_of,
    make_env,
    series_entries,
    spawn_cli,
    uncertain_file,
)

site = review_env.site  # the fake Bédéthèque site, one per module


@pytest.fixture
def env(site, tmp_path, database_location):
    settings, db, config = make_env(site, tmp_path, database_location)
    yield settings, db, config, series_entries(site, minimum=8)
    db.close()


def exact_file(folder, entry, seed="e"):
    """A file named exactly after a catalogue album: matched and written automatically."""
    name = f"{human(entry.series_slug)} - {entry.tome} - {human(entry.title_slug)}.cbz"
    return write_cbz(folder / name, sample_pages(seed, 3, int(entry.tome)))


def run_cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tag_id_corrects_one_file_with_a_diff_and_a_dry_run(env, tmp_path, capsys):
    settings, _db, config, entries = env
    path = exact_file(tmp_path / "lib", entries[0])
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    assert comicinfo_of(path).get("Number") == entries[0].tome  # the automatic match
    capsys.readouterr()
    wrong_before = comicinfo_bytes(path)
    code, out, _ = run_cli(
        capsys, "--config", str(config), "tag", str(path), "--id", str(entries[4].album_id), "--dry-run"
    )
    assert code == 0 and "would tag" in out and f"Number: '{entries[0].tome}' -> '{entries[4].tome}'" in out
    assert comicinfo_bytes(path) == wrong_before  # a dry run writes nothing
    url = f"https://www.bedetheque.com/BD-{entries[4].series_slug}-Tome-{entries[4].tome}-x-{entries[4].album_id}.html"
    code, out, _ = run_cli(capsys, "--config", str(config), "tag", str(path), "--id", url)
    assert code == 0 and f"album {entries[4].album_id}" in out and "Number:" in out
    assert comicinfo_of(path).get("Number") == entries[4].tome
    with BDneXDB(settings=settings) as db:
        row = db.files.get(path)
        assert (row["status"], row["bdgest_id"]) == ("manual", entries[4].album_id)
        assert any(h["field"] == "bdgest_id" and h["source"] == "manual" for h in db.files.history(row["id"]))
    code, out, err = run_cli(capsys, "--config", str(config), "tag", str(path), "--id", "nonsense")
    assert code == 2 and "neither an album id nor" in err


def test_tag_id_with_rename_moves_the_corrected_file(env, tmp_path, capsys):
    settings, _db, config, entries = env
    path = uncertain_file(tmp_path / "lib", entries[1])
    wanted = entries[4]
    code, out, _ = run_cli(capsys, "--config", str(config), "tag", str(path), "--id", str(wanted.album_id), "--rename")
    assert code == 0 and "moved: " in out
    assert not path.exists()
    [moved] = list((tmp_path / "lib").rglob("*.cbz"))
    assert moved.parent == tmp_path / "lib" / safe_component(human(wanted.series_slug))  # organize.template's
    assert f"T{int(wanted.tome):02}" in moved.name
    assert comicinfo_of(moved).get("Number") == wanted.tome
    with BDneXDB(settings=settings) as db:
        assert db.files.get(path) is None and db.files.get(moved)["bdgest_id"] == wanted.album_id


def test_timid_asks_even_above_the_accept_threshold(env, tmp_path):
    _settings, _db, config, entries = env
    path = exact_file(tmp_path / "lib", entries[0])
    child = spawn_cli(config, "tag", str(tmp_path / "lib"), "--timid")
    child.expect("--timid")
    child.expect("for help > ")
    assert comicinfo_bytes(path) is None  # asked before anything is written
    child.sendline("1")
    child.expect(r"\[Y/n\] > ")
    child.sendline("")  # Enter: yes
    child.expect("completed")
    child.expect(__import__("pexpect").EOF)
    assert comicinfo_of(path).get("Number") == entries[0].tome


def test_verbose_lines_sessions_files_and_show(env, tmp_path, capsys):
    _settings, _db, config, entries = env
    tagged = exact_file(tmp_path / "lib", entries[0])
    queued = uncertain_file(tmp_path / "lib", entries[2])
    code, out, _ = run_cli(capsys, "--config", str(config), "tag", str(tmp_path / "lib"), "--batch", "-v")
    assert code == 0
    assert f"{tagged} -> album {entries[0].album_id} {human(entries[0].series_slug)} #{entries[0].tome}" in out
    assert f"{queued} -> no album" in out and "review: waiting for review" in out
    code, out, _ = run_cli(capsys, "--config", str(config), "sessions", "list", "--json")
    session_id = json.loads(out)[0]["id"]
    code, out, _ = run_cli(capsys, "--config", str(config), "sessions", "info", str(session_id), "--files", "--json")
    rows = {row["file"]: row for row in json.loads(out)}
    assert rows[str(tagged)]["album_id"] == entries[0].album_id and rows[str(tagged)]["decision"] == "accept"
    assert rows[str(queued)]["state"] == "waiting" and rows[str(queued)]["album_id"] is None
    code, out, _ = run_cli(capsys, "--config", str(config), "sessions", "info", str(session_id), "--files")
    assert f"{tagged} -> album {entries[0].album_id}" in out
    code, out, _ = run_cli(capsys, "--config", str(config), "show", str(tagged))
    assert code == 0 and "ComicInfo.xml:" in out and f"Number           {entries[0].tome}" in out
    assert f"album            {entries[0].album_id}" in out and "auto   album: (none) ->" in out
    assert "bdgest_id" not in out and "None" not in out  # no internal word in what a person reads
    code, out, _ = run_cli(capsys, "--config", str(config), "show", str(queued), "--json")
    report = json.loads(out)
    assert report["comicinfo"] is None and report["record"]["decision"] == "review"
    assert report["review"][0]["status"] == "waiting"


def test_dry_run_json_and_text_say_what_they_are(env, tmp_path, capsys):
    _settings, db, config, entries = env
    tagged = exact_file(tmp_path / "lib", entries[0])
    uncertain_file(tmp_path / "lib", entries[2])
    code, out, _ = run_cli(capsys, "--config", str(config), "tag", str(tmp_path / "lib"), "--dry-run", "--json")
    data = json.loads(out)
    assert code == 0 and data["dry_run"] is True
    by_file = {row["file"]: row for row in data["files"]}
    assert by_file[str(tagged)]["changes"]["Number"] == [None, entries[0].tome]
    code, out, _ = run_cli(capsys, "--config", str(config), "tag", str(tmp_path / "lib"), "--dry-run", "--batch")
    assert f"{tagged} -> album {entries[0].album_id}" in out  # a header per file
    assert "would wait for review" in out and "wait for you" not in out
    assert "(done)" not in out and "None" not in out and ": would tag" in out  # a dry run says "would"
    assert db.reviews.waiting() == []  # it said "would": nothing was queued
    code, out, _ = run_cli(capsys, "--config", str(config), "sessions", "list", "--json")
    assert [session["dry_run"] for session in json.loads(out)] == [True, True]


def test_queue_follows_moved_files_and_drops_gone_ones(env, tmp_path, capsys):
    _settings, db, config, entries = env
    for index in (1, 2, 3):
        uncertain_file(tmp_path / "old", entries[index], seed=str(index))
    assert main(["--config", str(config), "tag", str(tmp_path / "old"), "--batch"]) == 0
    assert len(db.reviews.waiting()) == 3
    shutil.move(tmp_path / "old", tmp_path / "new")
    capsys.readouterr()
    code, out, err = run_cli(capsys, "--config", str(config), "tag", str(tmp_path / "new"), "--batch")
    assert code == 0 and err.count("moved to") == 3  # the run queued them again: the old entries go, one notice each
    assert len(db.reviews.waiting()) == 3
    code, out, err = run_cli(capsys, "--config", str(config), "review", "--list", "--json")
    listed = json.loads(out)
    assert len(listed) == 3 and all(entry["file_path"].startswith(str(tmp_path / "new")) for entry in listed)
    gone = listed[0]["file_path"]
    (tmp_path / "new" / gone.rsplit("/", 1)[1]).unlink()
    code, out, err = run_cli(capsys, "--config", str(config), "review", "--list")
    assert err.strip() == f"dropped review entry {listed[0]['id']}: {gone} is gone"
    assert out.count("\n") == 2
    # picking an entry always works on a file that exists
    child = spawn_cli(config, "review")
    child.expect("for help > ")
    child.sendline("1")
    child.expect(r"\[Y/n\] > ")
    child.sendline("")  # Enter: yes
    child.expect("tagged ")
    child.expect("for help > ")
    child.sendline("q")
    child.expect("1 tagged, 0 skipped, 1 still waiting")
