"""The database fails under a run (issue 29, cases 3 to 5): its disk fills up, the PostgreSQL server
goes away and comes back, the role may only read.

Each through the real CLI, in its own process: one clear line naming the cause and what to do, exit
code 3, the session left ``paused`` (never ``running``, never ``completed`` with files not done), no
archive left tagged without its record, and a resume that loses and doubles nothing; or the error
avoided (a PostgreSQL server back within the bound: the run goes on).

The full disk is a small tmpfs (root needed: skipped with the reason elsewhere); the PostgreSQL
server that is stopped and started again is a private one of this module (``bdnex_testing.postgres``),
never the shared server of ``BDNEX_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from bdnex_core import hookimpl
from bdnex_core.cli import main
from bdnex_core.cli.context import command_prefix
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.library import WriteResult
from bdnex_core.plugins import get_plugin_manager, reset_plugin_host
from bdnex_core.store.backend import MIN_FREE_BYTES
from bdnex_testing.databases import peek_rows, peek_value
from bdnex_testing.loopfs import LoopFilesystemUnavailable, fill_leaving, small_tmpfs
from bdnex_testing.processes import start_cli
from tests.test_hostile_inputs import good_file, tagged_album

FILES = 100


@pytest.fixture(scope="module")
def site():
    with FakeBedetheque() as running:
        yield running


def cli(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "bdnex_core", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"bdnex-core {' '.join(args)} did not end within {timeout} s: {exc.stderr!r}")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_library(folder: Path, site: FakeBedetheque, count: int = FILES) -> dict[Path, str]:
    """``count`` CBZs whose ComicInfo names an album of the site (no matching involved): path -> SHA-256."""
    folder.mkdir(parents=True)
    return {(path := good_file(folder / f"Album {n:03d}.cbz", site, n)): digest(path) for n in range(count)}


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "unexpected" not in result.stdout + result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def assert_each_tagged_file_is_recorded(location: str, originals: dict[Path, str]) -> int:
    """No archive tagged without its record (and each record is of the file as it is now); the
    files not tagged are byte for byte as they were. Returns how many are tagged."""
    recorded = {
        Path(path): file_hash
        for path, file_hash in peek_rows(
            location, "SELECT file_path, file_hash FROM processed_files WHERE status = 'success'"
        )
    }
    tagged = 0
    for path, original in originals.items():
        if tagged_album(path) is not None:
            tagged += 1
            assert recorded.get(path) == digest(path), f"{path.name} is tagged but its record is missing or stale"
        else:
            assert digest(path) == original, f"{path.name} was changed, not tagged"
            assert path not in recorded, f"{path.name} is recorded as tagged but is not"
    return tagged


def assert_resumed_whole(config: Path, location: str, session_id: int, originals: dict[Path, str]) -> None:
    """``tag --resume``: every file tagged, each once (one record, one backup of its ComicInfo)."""
    resumed = cli(config, "tag", "--resume", str(session_id), "--batch", "--json")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert peek_rows(location, "SELECT status FROM processing_sessions WHERE id = ?", (session_id,)) == [("completed",)]
    assert assert_each_tagged_file_is_recorded(location, originals) == len(originals)
    states = peek_rows(
        location, "SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", (session_id,)
    )
    assert states == [("done", len(originals))]
    assert peek_rows(location, "SELECT COUNT(*), COUNT(DISTINCT file_path) FROM processed_files") == [
        (len(originals), len(originals))
    ]
    backups = peek_rows(
        location, "SELECT file_path, COUNT(*) FROM comicinfo_backups GROUP BY file_path HAVING COUNT(*) > 1"
    )
    assert backups == []


# --------------------------------------------------------------------------- case 3: the disk fills up


@pytest.fixture
def small_disk(tmp_path, site):
    """A configuration whose SQLite database (its catalogue updated) lives on a 16 MB tmpfs; cache,
    logs and library elsewhere. Yields (config, database path, the tmpfs folder)."""
    with ExitStack() as stack:
        try:
            disk = stack.enter_context(small_tmpfs(tmp_path / "disk", 16384))
        except LoopFilesystemUnavailable as exc:
            pytest.skip(f"needs a small filesystem to fill: {exc}")
        location = str(disk / "bdnex.db")
        config = tmp_path / "config.yaml"
        mapping = {
            "database": {"path": location},
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": 2},
            **site.settings_mapping(),
        }
        config.write_text(json.dumps(mapping))
        assert cli(config, "catalogue", "update").returncode == 0
        yield config, location, disk


def test_a_disk_filling_up_under_the_database_pauses_the_run_and_loses_nothing(tmp_path, site, small_disk):
    """The run stops while it can still record what it did: the files in flight recorded, the
    session paused, exit 3 and one line; freed, the resume does every other file, once."""
    config, location, disk = small_disk
    originals = make_library(tmp_path / "library", site)
    left_by_a_killed_run = disk / "bdnex.db-room-4194399"  # above Linux's largest pid: no such process
    left_by_a_killed_run.write_bytes(b"x" * 1024)
    filler = fill_leaving(disk, MIN_FREE_BYTES + 600 * 1024)

    result = cli(config, "tag", str(tmp_path / "library"), "--batch", "--json")
    errors = error_lines(result)
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr
    assert len(errors) == 1 and location in errors[0], result.stderr
    assert "the disk holding the database has only" in errors[0] and "free some space" in errors[0]
    (session_id, status), *others = peek_rows(location, "SELECT id, status FROM processing_sessions")
    assert others == [] and status == "paused"
    assert f"--resume {session_id}" in errors[0]
    assert json.loads(result.stdout)["warnings"] == []
    tagged = assert_each_tagged_file_is_recorded(location, originals)
    assert 0 < tagged < FILES, tagged  # stopped in the middle of the run
    assert sorted(disk.glob("bdnex.db-room-*")) == []  # the run's room given back, the killed run's too

    filler.unlink()
    assert_resumed_whole(config, location, session_id, originals)


@pytest.mark.slow  # a run of 100 files with an outage in its middle
def test_a_disk_full_in_the_middle_of_the_writes_gives_each_file_back_or_records_it(tmp_path, site, small_disk):
    """The disk fills up all at once under a running ``tag`` (another program takes every byte): the
    writes SQLite cannot make leave no archive tagged without its record (those files are given
    back byte for byte), exit 3 and one line; freed, the resume does every other file, once."""
    config, location, disk = small_disk
    originals = make_library(tmp_path / "library", site)
    run = start_cli(config, "-v", "tag", str(tmp_path / "library"), "--batch", "--json")
    try:
        recorded = lambda: peek_value(location, "SELECT COUNT(*) FROM processed_files", not_yet=0)  # noqa: E731
        deadline = time.monotonic() + 120
        while recorded() < 5 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        filler = fill_leaving(disk, 0)
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    result = subprocess.CompletedProcess(run.args, run.returncode, out, err)
    errors = error_lines(result)
    assert result.returncode == 3, out[-2000:] + err
    assert len(errors) == 1 and "the disk holding the database" in errors[0] and location in errors[0], err
    (session_id, status), *others = peek_rows(location, "SELECT id, status FROM processing_sessions")
    summary = json.loads(out)
    # paused, unless the disk refused even that (then said, and shown as interrupted: resumable all the same)
    assert others == [] and (status == "paused" or "could not be recorded" in " ".join(summary["warnings"])), out
    tagged = assert_each_tagged_file_is_recorded(location, originals)
    assert 0 < tagged < FILES, tagged

    filler.unlink()
    assert_resumed_whole(config, location, session_id, originals)


class DiskFillingWriter:
    """A throw-away plugin whose writer, asked for its ``at``-th file, lets another program fill the
    database's disk: that file's archive is then written (by the CBZ writer, after this one) and
    its record cannot be made."""

    def __init__(self, disk: Path, at: int):
        self.disk, self.at, self.seen = disk, at, 0
        self.filler: Path | None = None

    @hookimpl
    def register_metadata_writers(self, register, settings):
        plugin = self

        class Writer:
            name = "disk-filler"

            def can_write(self, item, settings):
                return True

            def write(self, item, metadata, settings, *, dry_run=False):
                plugin.seen += 1
                if plugin.seen == plugin.at:
                    plugin.filler = fill_leaving(plugin.disk, 0)
                return WriteResult("disk-filler", written=False)

        register(Writer())


@pytest.mark.parametrize("write", ["copy", "in_place"])
def test_an_archive_written_when_its_record_cannot_be_made_is_given_back(
    tmp_path, site, small_disk, capsys, caplog, write
):
    """Deterministic: the disk fills up just before the 8th file's archive write. A copy is written
    and then given back when its record cannot be made; an in-place write is never begun, since
    its journal entry (in the database) cannot be made first."""
    caplog.set_level(logging.INFO, logger="bdnex_core.pipeline.runner")
    config, location, disk = small_disk
    config.write_text(json.dumps({**json.loads(config.read_text()), "archives": {"write": write}}))
    originals = make_library(tmp_path / "library", site)
    reset_plugin_host()
    filling = DiskFillingWriter(disk, at=8)
    get_plugin_manager().register(filling, name="disk-filler")
    try:
        code = main(["--config", str(config), "tag", str(tmp_path / "library"), "--batch", "--workers", "1"])
    finally:
        get_plugin_manager().unregister(name="disk-filler")
        reset_plugin_host()
    out, err = capsys.readouterr()
    assert code == 3, out[-2000:] + err
    given_back = "Album 007.cbz: its record could not be made; given back as it was" in caplog.text
    assert given_back == (write == "copy"), caplog.text
    resume = f"{command_prefix()} --config {config} tag --resume 1"  # as printed: this installation, this config
    assert [line for line in err.splitlines() if line.startswith("Error:")] == [
        f"Error: {location}: the disk holding the database is full: free some space on it, then run again "
        f"— session 1 paused; resume it later: {resume}"
    ]
    (session_id, status), *others = peek_rows(location, "SELECT id, status FROM processing_sessions")
    assert others == [] and status == "paused"
    assert tagged_album(tmp_path / "library" / "Album 007.cbz") is None  # byte for byte as it was (below)
    # the 7th file's record may have come after the disk filled up too (the worker was already on the 8th)
    assert assert_each_tagged_file_is_recorded(location, originals) in (6, 7)

    assert filling.filler is not None
    filling.filler.unlink()
    assert_resumed_whole(config, location, session_id, originals)


# --------------------------------------------------------------------------- cases 4 and 5: PostgreSQL


@pytest.fixture(scope="module")
def private_postgres():
    """A PostgreSQL server of this module alone, which the tests stop and start again."""
    from bdnex_testing.postgres import REQUIRED_VARIABLE, PrivateServerUnavailable, private_server
    from bdnex_testing.pytest_plugin import skip_or_fail

    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install -e '.[postgresql]')", required_by=REQUIRED_VARIABLE)
    try:
        with private_server() as server:
            yield server
    except PrivateServerUnavailable as exc:
        skip_or_fail(f"a private PostgreSQL server cannot be started here: {exc}", required_by=REQUIRED_VARIABLE)


@pytest.fixture(scope="module")
def catalogue_sqlite(tmp_path_factory, site):
    """The site's catalogue index in an SQLite file, copied into each PostgreSQL database."""
    folder = tmp_path_factory.mktemp("catalogue")
    config = folder / "config.yaml"
    config.write_text(json.dumps({"database": {"path": str(folder / "bdnex.db")}, **site.settings_mapping()}))
    assert cli(config, "catalogue", "update").returncode == 0
    return folder / "bdnex.db"


def postgres_config(tmp_path: Path, url: str, site: FakeBedetheque, **database: object) -> Path:
    config = tmp_path / "config.yaml"
    mapping = {
        "database": {"backend": "postgresql", "url": url, **database},
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": 2},
        **site.settings_mapping(),
    }
    config.write_text(json.dumps(mapping))
    return config


@pytest.fixture
def slow_site():
    """The fake site answering each request after 40 ms: a run of 100 files lasts a few seconds."""
    with FakeBedetheque(network_delay=0.04) as running:
        yield running


def wait_until_recorded(location: str, run: subprocess.Popen[str], count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while peek_value(location, "SELECT COUNT(*) FROM processed_files", not_yet=0) < count:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, f"fewer than {count} files recorded after {timeout} s"
        time.sleep(0.05)


def finished(run: subprocess.Popen[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    try:
        out, err = run.communicate(timeout=timeout)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


@pytest.mark.slow  # a run of 100 files with an outage in its middle
@pytest.mark.parametrize("outage", ["server restarted", "connections terminated"])
def test_a_postgresql_server_back_within_the_bound_lets_the_run_go_on(
    tmp_path, slow_site, catalogue_sqlite, private_postgres, outage
):
    """Issue 29, case 4: ``pg_ctl stop -m immediate`` in the middle of a run and started again 2 s
    later, or every connection of the run ended by ``pg_terminate_backend``: the run connects
    again and finishes, every file tagged and recorded once, the session completed."""
    from bdnex_testing.databases import copy_into

    location = private_postgres.new_database()
    copy_into(catalogue_sqlite, location)
    config = postgres_config(tmp_path, location, slow_site)
    originals = make_library(tmp_path / "library", slow_site)
    run = start_cli(config, "tag", str(tmp_path / "library"), "--batch", "--json")
    wait_until_recorded(location, run, 15)
    if outage == "server restarted":
        private_postgres.stop("immediate")
        time.sleep(2)
        private_postgres.start()
    else:
        ended = private_postgres.superuser_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{location.rsplit('/', 1)[1]}' AND pid <> pg_backend_pid()"
        )
        assert len(ended) >= 2  # the runner's connection and its workers'
    result = finished(run)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert error_lines(result) == []
    assert "lost; connected again" in result.stderr  # the outage did meet the run
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["counts"]["tagged"] == FILES, summary["counts"]
    session_id = summary["session_id"]
    assert peek_rows(location, "SELECT status FROM processing_sessions") == [("completed",)]
    assert assert_each_tagged_file_is_recorded(location, originals) == FILES
    states = peek_rows(
        location, "SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", (session_id,)
    )
    assert states == [("done", FILES)]
    assert peek_rows(location, "SELECT COUNT(*), COUNT(DISTINCT file_path) FROM processed_files") == [(FILES, FILES)]
    doubled = peek_rows(location, "SELECT file_path FROM comicinfo_backups GROUP BY file_path HAVING COUNT(*) > 1")
    assert doubled == []


@pytest.mark.slow  # a run of 100 files with an outage in its middle
def test_a_postgresql_server_gone_longer_than_the_bound_stops_the_run_in_one_line(
    tmp_path, slow_site, catalogue_sqlite, private_postgres
):
    """Gone for longer than ``database.reconnect_seconds``: exit 3 and one line naming PostgreSQL
    and what to do; no archive left tagged without its record; back, the resume does the rest once."""
    from bdnex_testing.databases import copy_into

    location = private_postgres.new_database()
    copy_into(catalogue_sqlite, location)
    config = postgres_config(tmp_path, location, slow_site, reconnect_seconds=2)
    originals = make_library(tmp_path / "library", slow_site)
    run = start_cli(config, "tag", str(tmp_path / "library"), "--batch", "--json")
    wait_until_recorded(location, run, 15)
    private_postgres.stop("immediate")
    try:
        result = finished(run, timeout=120)
    finally:
        private_postgres.start()
    errors = error_lines(result)
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr
    assert len(errors) == 1, result.stderr
    assert "PostgreSQL stopped answering and did not come back within 2 s" in errors[0]
    assert "database.reconnect_seconds" in errors[0]
    summary = json.loads(result.stdout)
    session_id = summary["session_id"]
    assert f"session {session_id} could not be marked paused; resume it later" in errors[0]
    assert f"--resume {session_id}" in errors[0]
    # the server gone, the session's end could not be written: said, and it shows as interrupted
    assert any("could not be recorded" in warning for warning in summary["warnings"]), summary["warnings"]
    listed = cli(config, "sessions", "list", "--json")
    assert [(row["id"], row["display_status"]) for row in json.loads(listed.stdout)] == [(session_id, "interrupted")]
    assert 0 < assert_each_tagged_file_is_recorded(location, originals) < FILES
    assert_resumed_whole(config, location, session_id, originals)


def test_a_role_that_may_only_read_runs_the_commands_that_read(tmp_path, site, catalogue_sqlite, private_postgres):
    """Issue 29, case 5: a role granted SELECT only. ``ls``, ``stats``, ``sessions list``, ``missing``
    work (at once: nothing is written when opening an up-to-date database); a command that writes is
    one line saying the role may not, exit 3, and starts nothing."""
    from bdnex_testing.databases import copy_into

    location = private_postgres.new_database()
    copy_into(catalogue_sqlite, location)
    owner = postgres_config(tmp_path, location, site)
    (tmp_path / "library").mkdir()
    good_file(tmp_path / "library" / "Album.cbz", site)
    assert cli(owner, "tag", str(tmp_path / "library"), "--batch").returncode == 0
    database = location.rsplit("/", 1)[1]
    role = f"reader_{database[-8:]}"
    private_postgres.superuser_sql(
        f"CREATE ROLE {role} LOGIN PASSWORD 'only-reads'", f"GRANT CONNECT ON DATABASE {database} TO {role}"
    )
    private_postgres.superuser_sql(
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        database=database,
    )
    reader_url = location.replace(f"bdnex:{private_postgres.password}@", f"{role}:only-reads@")
    reader = tmp_path / "reader"
    reader.mkdir()
    config = postgres_config(reader, reader_url, site)
    for command in (["ls", "--json"], ["stats", "--json"], ["sessions", "list", "--json"], ["missing", "--json"]):
        started = time.monotonic()
        result = cli(config, *command)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stderr == "" and time.monotonic() - started < 20, (command, result.stderr)
    listed = json.loads(cli(config, "ls", "--json").stdout)
    assert [Path(row["file_path"]).name for row in listed] == ["Album.cbz"]
    for command in (["stats", "--snapshot"], ["tag", str(tmp_path / "library"), "--batch", "--force"]):
        result = cli(config, *command)
        errors = error_lines(result)
        assert result.returncode == 3 and len(errors) == 1, (command, result.stderr)
        assert "refuses this role the change" in errors[0] and "permission denied" in errors[0], errors
        assert "only-reads" not in result.stderr  # the password masked
    assert peek_rows(location, "SELECT COUNT(*) FROM processing_sessions") == [(1,)]  # the owner's alone
