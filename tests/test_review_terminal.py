"""The review as a person feels it in a terminal (the real CLI in a pseudo-terminal, on the fake site):
a listed number shows what would change and writes only after yes; the prompt says in words when the
album's series or tome is not the name's; the end of the input is a quit with nothing lost; and every
command printed for the user to run next (after `tag`, `review`, Ctrl-C) works when pasted as printed,
from another folder, and reaches the same database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from bdnex_core.app.review import WAITING, ReviewService
from bdnex_core.cli import main
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import human
from bdnex_testing import review as review_env
from bdnex_testing.review import comicinfo_bytes, comicinfo_of, make_env, series_entries, uncertain_file

site = review_env.site  # the fake Bédéthèque site, one per module

PROMPT = r"for help > "
CONFIRM = r"\[Y/n\] > "
SCRIPT = Path(sys.executable).parent / "bdnex-core"


@pytest.fixture
def queued(site, tmp_path, database_location):
    """One file waiting for review (series and tome right, title wrong), queued by `tag --batch`."""
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    path = uncertain_file(tmp_path / "lib", entries[1])
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    yield settings, db, config, path, entries
    db.close()


def search_path(path_dirs: tuple[Path, ...]) -> str:
    """``path_dirs``, then the PATH of the tests without any folder holding a ``bdnex-core`` (an activated
    virtualenv's): whether the command is on the PATH is the test's choice."""
    others = [
        folder for folder in os.environ.get("PATH", "").split(os.pathsep) if not (Path(folder) / "bdnex-core").exists()
    ]
    return os.pathsep.join([*map(str, path_dirs), *others])


def spawn(args: list[str], *, cwd: Path, path_dirs: tuple[Path, ...] = ()) -> pexpect.spawn:
    """``python -m bdnex_core ARGS`` in a pseudo-terminal, run from ``cwd``, ``path_dirs`` first on the PATH."""
    env = dict(os.environ, COLUMNS="200", PYTHONUNBUFFERED="1", PATH=search_path(path_dirs))
    return pexpect.spawn(
        sys.executable, ["-m", "bdnex_core", *args], cwd=str(cwd), env=env, encoding="utf-8", timeout=60,
        dimensions=(50, 200),
    )  # fmt: skip


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)


def run_as_printed(command: str, *, path_dirs: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    """A printed hint, pasted into a shell in another folder, with nobody at the keyboard."""
    env = dict(os.environ, PATH=search_path(path_dirs))
    return subprocess.run(
        ["bash", "-c", command], cwd="/", env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def waiting_paths(settings) -> list[str]:
    with BDneXDB(settings=settings) as db:
        return [entry.file_path for entry in ReviewService(settings, db).entries(WAITING)]


def test_a_listed_number_shows_the_change_and_writes_only_after_yes(queued):
    settings, _db, config, path, entries = queued
    child = spawn(["--config", str(config), "review"], cwd=config.parent)
    child.expect(PROMPT)
    assert "(best)" in child.before  # the best candidate is marked
    child.sendline("1")
    child.expect("would change in the file:")
    child.expect(CONFIRM)
    shown = child.before
    assert re.search(r"Title: \(none\) -> \S", shown), shown  # the diff, in words a person reads
    assert comicinfo_bytes(path) is None  # asked, nothing written yet
    child.sendline("n")
    child.expect(PROMPT)
    assert comicinfo_bytes(path) is None  # declined: still nothing written
    child.sendline("1")
    child.expect(CONFIRM)
    child.sendline("")  # Enter: yes
    child.expect("1 tagged, 0 skipped, 0 still waiting")
    assert finish(child) == 0
    assert comicinfo_of(path).get("Number") == entries[1].tome


def test_the_prompt_says_when_series_or_tome_differ_and_takes_id_with_a_url(queued, site):
    _settings, _db, config, path, entries = queued
    other = next(
        entry
        for series in site.catalogue.series.values()
        for entry in series
        if entry.series_slug != entries[1].series_slug and entry.tome_kind == "regular"
        and entry.tome != entries[1].tome
    )  # fmt: skip
    child = spawn(["--config", str(config), "review"], cwd=config.parent)
    child.expect(PROMPT)
    child.sendline(f"id https://www.bedetheque.com/BD-x-Tome-{other.tome}-y-{other.album_id}.html")
    child.expect(CONFIRM)
    said = child.before
    assert "not understood" not in said
    assert f"series differs: the name says “{human(entries[1].series_slug)}”" in said, said
    assert f"tome differs: the name says {entries[1].tome}, the album is tome {other.tome}" in said, said
    child.sendline("n")
    child.expect(PROMPT)
    child.sendline("q")
    assert finish(child) == 0
    assert comicinfo_bytes(path) is None


def test_review_at_the_end_of_its_input_quits_saying_so_with_nothing_lost(queued):
    settings, _db, config, path, _entries = queued
    done = subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), "review"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PATH=search_path(())),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "input ended: the review stops here" in done.stdout
    assert "0 tagged, 0 skipped, 1 still waiting" in done.stdout
    assert "not understood" not in done.stderr and "Interrupted" not in done.stderr
    assert comicinfo_bytes(path) is None and waiting_paths(settings) == [str(path)]
    # its hints, pasted in another folder, reach the same database: the review finds the same file waiting
    hints = re.search(r"Continue with: (.+) \(in a terminal\), or (.+)$", done.stdout, re.MULTILINE)
    assert hints, done.stdout
    review_hint, web_hint = hints.groups()
    assert web_hint == review_hint.replace(" review", " web"), (review_hint, web_hint)  # the same --config
    ran = run_as_printed(review_hint)
    assert ran.returncode == 0 and str(path) in ran.stdout + ran.stderr, ran
    assert "0 tagged, 0 skipped, 1 still waiting" in ran.stdout


def test_every_hint_runs_as_printed_and_reaches_the_same_database(site, tmp_path, database_location):
    """The user gave --config as a relative path; the hints are pasted in another folder. First with
    bdnex-core on the PATH as pipx links it (hints then say `bdnex-core`), then without (its full path)."""
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    first = uncertain_file(tmp_path / "lib", entries[1])
    linked = tmp_path / "bin"  # pipx's ~/.local/bin: a link to the script in its private virtualenv
    linked.mkdir()
    (linked / "bdnex-core").symlink_to(SCRIPT)
    relative = ["--config", config.name]

    # tag: "uncertain matches wait for you: CMD"
    child = spawn([*relative, "tag", "lib", "--batch"], cwd=tmp_path, path_dirs=(linked,))
    child.expect(r"uncertain matches wait for you: ([^\r\n]+)")
    hint = child.match.group(1).strip()
    assert finish(child) == 0
    assert hint == f"bdnex-core --config {config} review", hint  # the name on the PATH, not pipx's venv path
    ran = run_as_printed(hint, path_dirs=(linked,))
    assert ran.returncode == 0 and str(first) in ran.stderr + ran.stdout, ran
    assert "1 still waiting" in ran.stdout  # the same database: its entry is there

    # review, Ctrl-C: "continue with: CMD" (no bdnex-core on the PATH now: the script's own path)
    child = spawn([*relative, "review"], cwd=tmp_path)
    child.expect(PROMPT)
    child.sendintr()
    child.expect(r"continue with: ([^\r\n]+)")
    hint = child.match.group(1).strip()
    assert finish(child) == 130
    assert hint.startswith(f"{SCRIPT} --config {config} review"), hint
    ran = run_as_printed(hint)
    assert ran.returncode == 0 and str(first) in ran.stderr + ran.stdout, ran

    # tag --interactive, Ctrl-C: "paused; resume with: CMD"; run as printed it finishes the session
    second = uncertain_file(tmp_path / "more", entries[2], seed="y")
    child = spawn([*relative, "tag", "more", "--interactive", "--workers", "1"], cwd=tmp_path)
    child.expect(PROMPT)
    child.sendintr()
    child.expect(r"resume with: ([^\r\n]+)")
    hint = child.match.group(1).strip()
    assert finish(child) == 130
    session_id = int(hint.rsplit(" ", 1)[1])
    ran = run_as_printed(hint)
    assert ran.returncode == 0, ran
    assert db.sessions.get(session_id)["status"] == "completed"  # resumed in the same database
    assert str(second) in waiting_paths(settings)  # nobody at the keyboard: it waits for review

    # tag --interactive with its input at its end: "input ended: the uncertain files wait for you (CMD)"
    third = uncertain_file(tmp_path / "last", entries[3], seed="z")
    done = subprocess.run(
        [sys.executable, "-m", "bdnex_core", *relative, "tag", "last", "--interactive", "--workers", "1"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PATH=search_path(())),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    hint = re.search(r"input ended: the uncertain files wait for you \((.+)\)", done.stdout + done.stderr)
    assert hint, done.stdout + done.stderr
    assert str(third) in waiting_paths(settings)
    ran = run_as_printed(hint.group(1))
    assert ran.returncode == 0, ran
    assert "0 tagged, 0 skipped, 3 still waiting" in ran.stdout  # the three files, in the one database
    db.close()


def test_a_tome_absent_from_its_series_is_one_line_not_a_list_of_ties(site, tmp_path):
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    settings, db, config = make_env(site, tmp_path)
    entries = series_entries(site, minimum=8)
    regular = [
        int(entry.tome) for entry in site.catalogue.series[entries[0].series_slug] if entry.tome_kind == "regular"
    ]
    write_cbz(tmp_path / "lib" / f"{human(entries[0].series_slug)} - 97.cbz", sample_pages("z", 3, 1))
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    child = spawn(["--config", str(config), "review"], cwd=tmp_path)
    child.expect(PROMPT)
    said = child.before
    series = human(entries[0].series_slug)
    assert f"No tome 97 in {series} (the catalogue has tomes {min(regular)}–{max(regular)})" in said, said
    assert "[1]" not in said and "score" not in said  # no list of tied candidates
    child.sendline("m")  # the series' albums, when asked
    child.expect(r"\[1\] ")
    child.expect(PROMPT)
    child.sendline("q")
    assert finish(child) == 0
    db.close()
