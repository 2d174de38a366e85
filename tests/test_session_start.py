"""A session and its file list are created in one transaction (issue 29, item 2): a process killed while
it records them leaves neither, and a session left without its list by an older version is never
resumed into "completed" with nothing done. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.sitemaps import parse_album_url
from bdnex_core.cli import main
from bdnex_core.db import BDneXDB
from bdnex_testing.databases import peek_value

# a run whose file list takes long to record: the 300th item stops, says so, and waits to be killed
DRIVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.config import from_mapping
    from bdnex_core.db import BDneXDB
    from bdnex_core.library import LibraryItem
    from bdnex_core.matching.index import CatalogueIndex
    from bdnex_core.matching.matcher import Matcher
    from bdnex_core.pipeline.options import TagOptions
    from bdnex_core.pipeline.runner import TagRun

    location, folder, mark = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    class SlowItem(LibraryItem):
        def to_record(self):
            if self.name == "0300.cbz":
                mark.write_text("recording")
                time.sleep(600)
            return super().to_record()

    mapping = {"pipeline": {"logs_dir": str(folder / "logs")}, "cache": {"dir": str(folder / "cache")}}
    mapping["database"] = {"backend": "postgresql", "url": location} if "://" in location else {"path": location}
    settings = from_mapping(mapping)
    db = BDneXDB(settings=settings)
    items = [SlowItem(source="folder", name=f"{n:04d}.cbz", path=folder / f"{n:04d}.cbz") for n in range(1000)]
    run = TagRun(settings, db, TagOptions(locations=(str(folder),)), client=BedethequeClient(settings),
                 matcher=Matcher(CatalogueIndex.build([]), settings.matching))
    run.start(items, unchanged=0)
    """
)


def test_a_process_killed_while_recording_its_file_list_leaves_no_session(database_location, tmp_path):
    BDneXDB(database_location).close()  # made (and migrated) before the run
    mark = tmp_path / "recording"
    run = subprocess.Popen(
        [sys.executable, "-c", DRIVER, database_location, str(tmp_path), str(mark)],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not mark.exists():
        assert run.poll() is None, run.stderr.read() if run.stderr else ""
        assert time.monotonic() < deadline, "the run never reached its 300th file"
        time.sleep(0.05)
    # the session row was written before the files: nobody sees it, the transaction holds it
    assert peek_value(database_location, "SELECT COUNT(*) FROM processing_sessions", not_yet=0) == 0
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    with BDneXDB(database_location) as db:
        assert db.backend.value("SELECT COUNT(*) FROM processing_sessions") == 0
        assert db.backend.value("SELECT COUNT(*) FROM session_files") == 0
        assert db.sessions.recent() == []


def _with_catalogue(db: BDneXDB) -> None:
    url = "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    Catalogue(db).replace_sitemap("albums_240001_250000_map.xml", [parse_album_url(url)])


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_session_without_its_file_list_is_never_resumed_as_done(database_location, tmp_path, capsys):
    """What an older version could leave: the session row, not its files (killed in between)."""
    with BDneXDB(database_location) as db:
        _with_catalogue(db)
        session_id = db.sessions.start(str(tmp_path / "library"))
        db.sessions.update(session_id, pid=_dead_pid())  # its process is gone
    code = main(["--db", database_location, "tag", "--resume", str(session_id), "--batch", "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and "has no file list" in err[0] and "bdnex-core tag" in err[0], err
    with BDneXDB(database_location) as db:
        session = db.sessions.get(session_id)
        assert session["status"] == "failed"
        assert session["files_processed"] in (0, None)
    # and it stays so: a second resume says the same, never "completed"
    assert main(["--db", database_location, "tag", "--resume", str(session_id), "--batch"]) != 0
    with BDneXDB(database_location) as db:
        assert db.sessions.get(session_id)["status"] == "failed"


def test_a_session_of_unchanged_files_only_still_resumes(database_location, tmp_path):
    """A run that found every file unchanged records no file row, only the count: not the broken case."""
    with BDneXDB(database_location) as db:
        _with_catalogue(db)
        session_id = db.sessions.start(str(tmp_path / "library"))
        db.sessions.add_files(session_id, [], unchanged=12)
        db.sessions.update(session_id, pid=_dead_pid())
    assert main(["--db", database_location, "tag", "--resume", str(session_id), "--batch", "--json"]) == 0
    with BDneXDB(database_location) as db:
        assert db.sessions.get(session_id)["status"] == "completed"
