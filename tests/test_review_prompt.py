"""The review prompt driven as a person would: the real CLI in a pseudo-terminal, on the fake site."""

from __future__ import annotations

import os
import signal

import pexpect
import pytest

from bdnex_core.app.review import SKIPPED, WAITING, ReviewService
from bdnex_core.cli import main
from bdnex_core.comicinfo import ComicInfo
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

PROMPT = r"for help > "


@pytest.fixture
def queued(site, tmp_path, database_location):
    """One file queued for review (series and tome right, title wrong), through `tag --batch`."""
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    path = uncertain_file(tmp_path / "lib", entries[1])
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    assert len(db.reviews.waiting()) == 1
    yield settings, db, config, path, entries
    db.close()


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)


def test_a_mistyped_number_writes_nothing_and_an_id_needs_confirmation(queued):
    settings, _db, config, path, entries = queued
    child = spawn_cli(config, "review")
    child.expect(PROMPT)
    assert "score" in child.before and "series 1.00" in child.before  # candidate lines explain the score
    assert human(entries[1].series_slug) in child.before  # ... and say which album each is
    child.sendline("9")  # five candidates listed: 9 is a slip of the finger, never album 9
    child.expect("no candidate 9; type `id 9` or paste a URL")
    child.expect(PROMPT)
    assert comicinfo_bytes(path) is None
    child.sendline("?")
    child.expect("undo the last decision")
    child.expect(PROMPT)
    target = entries[3]
    child.sendline(f"id {target.album_id}")
    child.expect("would change in the file")
    child.expect(r"\[Y/n\] > ")
    child.sendline("n")  # declined: still nothing written
    child.expect(PROMPT)
    assert comicinfo_bytes(path) is None
    child.sendline(f"https://www.bedetheque.com/BD-x-{target.album_id}.html")
    child.expect(r"\[Y/n\] > ")
    child.sendline("y")
    child.expect("1 tagged, 0 skipped, 0 still waiting")
    assert finish(child) == 0
    info = comicinfo_of(path)
    assert info is not None and info.get("Number") == target.tome
    with BDneXDB(settings=settings) as db:
        assert db.files.get(path)["status"] == "manual" and db.files.get(path)["bdgest_id"] == target.album_id


def test_search_and_more_list_new_candidates_confirmed_before_use(queued):
    _settings, _db, config, path, entries = queued
    child = spawn_cli(config, "review")
    child.expect(PROMPT)
    shown = child.before
    child.sendline("m")
    child.expect(r"\[6\] ")
    child.expect(PROMPT)
    wanted = entries[-1]
    assert f"album {wanted.album_id}" not in shown
    child.sendline(f"/ {human(wanted.series_slug)} {wanted.tome}")
    child.expect(rf"\[(\d+)\] [^\n]*album {wanted.album_id}")
    number = child.match.group(1)
    child.expect(PROMPT)
    child.sendline(number)  # found by a search: outside the queued list, so shown and confirmed first
    child.expect("would change in the file")
    child.expect(r"\[Y/n\] > ")
    assert comicinfo_bytes(path) is None
    child.sendline("y")
    child.expect("1 tagged, 0 skipped, 0 still waiting")
    assert finish(child) == 0
    assert comicinfo_of(path).get("Number") == wanted.tome


def test_undo_takes_back_the_last_decision(site, tmp_path, database_location):
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    own = {}
    for index, seed in ((1, "a"), (2, "b")):
        xml = ComicInfo.from_xml(
            f"<ComicInfo><Series>Mine {seed}</Series><Notes>kept by hand</Notes></ComicInfo>".encode()
        ).to_xml()
        path = write_cbz(
            tmp_path / "lib" / f"{human(entries[index].series_slug)} - {entries[index].tome} - Rien a voir.cbz",
            sample_pages(seed, 3, index),
            extra_members=[("ComicInfo.xml", xml)],
        )
        own[str(path)] = xml
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    assert len(db.reviews.waiting()) == 2
    child = spawn_cli(config, "review")
    child.expect(r"\[1/2\] (\S[^\n]*\.cbz)")
    first = child.match.group(1).strip()
    child.expect(PROMPT)
    child.sendline("1")
    child.expect(r"\[Y/n\] > ")
    child.sendline("")  # Enter: yes
    child.expect("tagged ")
    child.expect(r"\[2/2\]")
    child.expect(PROMPT)
    assert comicinfo_bytes(first) != own[first]
    child.sendline("u")
    child.expect("undone: ")
    child.expect(r"\[1/2\]")  # back to the file whose decision was taken back
    child.expect(PROMPT)
    assert comicinfo_bytes(first) == own[first]  # byte for byte, from comicinfo_backups
    child.sendline("q")
    child.expect("0 tagged, 0 skipped, 2 still waiting, 1 undone")
    assert finish(child) == 0
    with BDneXDB(settings=settings) as again:
        row = again.files.get(first)
        assert row["status"] == "waiting" and row["bdgest_id"] is None
        history = [h for h in again.files.history(row["id"]) if h["field"] == "bdgest_id"]
        assert history[-1]["new_value"] is None and history[-1]["source"] == "manual"
        assert first in {e.file_path for e in ReviewService(settings, again).entries(WAITING)}


def test_undo_of_a_file_gone_since_is_one_line_and_the_review_goes_on(site, tmp_path, database_location):
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    for index, seed in ((1, "a"), (2, "b")):
        uncertain_file(tmp_path / "lib", entries[index], seed=seed)
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    child = spawn_cli(config, "review")
    child.expect(r"\[1/2\] (\S[^\n]*\.cbz)")
    first = child.match.group(1).strip()
    child.expect(PROMPT)
    child.sendline("1")
    child.expect(r"\[Y/n\] > ")
    child.sendline("")  # Enter: yes
    child.expect("tagged ")
    child.expect(r"\[2/2\]")
    child.expect(PROMPT)
    os.remove(first)  # deleted by hand meanwhile
    child.sendline("u")
    child.expect("cannot undo: ")
    child.expect(PROMPT)  # still reviewing
    child.sendline("q")
    child.expect("1 tagged, 0 skipped, 1 still waiting")
    assert finish(child) == 0


def test_skipped_entries_stay_listable_and_can_be_reviewed_again(queued):
    settings, _db, config, path, _entries = queued
    child = spawn_cli(config, "review")
    child.expect(PROMPT)
    child.sendline("s")
    child.expect("0 tagged, 1 skipped, 0 still waiting")
    assert finish(child) == 0
    listing = spawn_cli(config, "review", "--list", "--skipped")
    listing.expect(str(path))
    assert finish(listing) == 0
    child = spawn_cli(config, "review", "--skipped")
    child.expect(PROMPT)
    child.sendline("1")
    child.expect(r"\[Y/n\] > ")
    child.sendline("")  # Enter: yes
    child.expect("1 tagged")
    assert finish(child) == 0
    assert comicinfo_of(path) is not None
    with BDneXDB(settings=settings) as db:
        assert ReviewService(settings, db).entries(SKIPPED) == []


def test_ctrl_c_in_review_pauses_with_the_file_untouched(queued):
    settings, _db, config, path, _entries = queued
    child = spawn_cli(config, "review")
    child.expect(PROMPT)
    child.sendintr()
    child.expect("paused")
    child.expect(r"continue with: [^\n]*bdnex[-_]core[^\n]* review")  # run as printed: test_review_terminal.py
    assert finish(child) == 130
    assert comicinfo_bytes(path) is None
    with BDneXDB(settings=settings) as db:
        assert [e.file_path for e in ReviewService(settings, db).entries(WAITING)] == [str(path)]


def test_ctrl_c_at_the_tag_prompt_pauses_and_the_resume_completes(site, tmp_path, database_location):
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    path = uncertain_file(tmp_path / "lib", entries[1])
    child = spawn_cli(config, "tag", str(tmp_path / "lib"), "--interactive", "--workers", "1")
    child.expect(PROMPT)
    child.kill(signal.SIGINT)  # Ctrl-C while asked: at once, not after Enter
    child.expect(r"tag --resume (\d+)")
    session_id = int(child.match.group(1))
    assert finish(child) == 130
    assert comicinfo_bytes(path) is None
    states = {row["state"] for row in db.sessions.files(session_id)}
    assert states == {"pending"}  # left undone, not "skipped"
    child = spawn_cli(config, "tag", "--resume", str(session_id), "--interactive")
    child.expect(PROMPT)
    child.sendline("1")
    child.expect(r"\[Y/n\] > ")
    child.sendline("")  # Enter: yes
    child.expect("completed")
    assert finish(child) == 0
    assert comicinfo_of(path).get("Number") == entries[1].tome
    assert {row["state"] for row in db.sessions.files(session_id)} == {"done"}


def test_s_at_the_tag_prompt_queues_the_file_for_review(site, tmp_path, database_location):
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    path = uncertain_file(tmp_path / "lib", entries[1])
    child = spawn_cli(config, "tag", str(tmp_path / "lib"), "--interactive")
    child.expect(PROMPT)
    child.sendline("s")
    child.expect("waiting for review")
    assert finish(child) == 0
    assert [entry["file_path"] for entry in db.reviews.waiting()] == [str(path)]
