"""Tables and lines that fit an 80-column terminal: `sessions list` keeps its status words whole (dates
short, the folder elided from the left), `rename` says each move relative to the folder it happens in."""

from __future__ import annotations

import os
import subprocess
import sys

import pexpect

from bdnex_core.db import BDneXDB
from bdnex_testing import review as review_env
from bdnex_testing.review import make_env, series_entries
from bdnex_testing.web import exact_file

site = review_env.site  # the fake Bédéthèque site, one per module

DEEP = "/srv/comics/a very long folder name for the shared library/of the whole family/bandes dessinées"


def cli(config, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    """The real command in a pipe whose terminal is ``columns`` wide (what COLUMNS tells a program)."""
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def in_terminal(config, *args: str, columns: int = 80) -> str:
    """What the real command shows in a pseudo-terminal ``columns`` wide (as tmux or xterm would give it)."""
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    child = pexpect.spawn(
        sys.executable, ["-m", "bdnex_core", "--config", str(config), *args], env=env, encoding="utf-8",
        timeout=120, dimensions=(40, columns),
    )  # fmt: skip
    shown = child.read()
    child.close()
    assert child.exitstatus == 0, shown
    return shown.replace("\r\n", "\n")


def test_sessions_list_fits_80_columns_with_whole_status_words(tmp_path):
    db_path = tmp_path / "bdnex.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  path: {db_path}\n")
    with BDneXDB(db_path) as db:
        for status, dry in (("completed", False), ("paused", False), ("running", False), ("completed", True)):
            session_id = db.sessions.start(f"{DEEP}/{status}", options={"dry_run": dry})
            db.sessions.update(session_id, status=status, total_files=12345, files_successful=12000)
        # a running session whose process is gone: "interrupted"
        db.backend.execute("UPDATE processing_sessions SET pid = 999999999 WHERE status = 'running'")
    done = cli(config, "sessions", "list")
    assert done.returncode == 0, done.stderr
    in_a_terminal = in_terminal(config, "sessions", "list")  # no COLUMNS: the terminal's own width
    for shown in (done.stdout, in_a_terminal):
        lines = shown.splitlines()
        assert lines and all(len(line) <= 80 for line in lines), [len(line) for line in lines]
        words = " ".join(lines)
        for status in ("completed", "paused", "interrupted", "dry run"):  # whole words
            assert status in words, (status, shown)
        assert "comple…" not in words and "…" in words  # the folder gives way, from its left
        assert any(line.rstrip().endswith("dessinées/paused") for line in lines), shown


def test_rename_lines_are_relative_to_their_folder(site, tmp_path):
    settings, db, config = make_env(site, tmp_path)
    entries = series_entries(site, minimum=4)
    library = tmp_path / "a long folder name for this library" / "and another one below it"
    exact_file(library / "unsorted", entries[0])
    assert cli(config, "tag", str(library), "--batch").returncode == 0
    done = cli(config, "rename", str(library), "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("in ") and lines[0].endswith("/and another one below it:"), lines
    moves = [line for line in lines if "would move" in line]
    assert moves and all(len(line) <= 80 for line in lines), lines
    assert str(tmp_path) not in moves[0] and moves[0].startswith("  would move: ")
    db.close()
