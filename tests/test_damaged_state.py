"""Damaged state files (issue 37): every file a normal run creates, damaged in seven ways, then six commands.

A normal run (``catalogue update``, ``tag --batch``, ``identify``) against the fake Bédéthèque site
creates the files the tool keeps; the test FINDS them (no list of names: a file a new version creates
is covered the day it appears) and groups them by kind (every album page of the cache is one kind).
A run killed during its work (a power cut) adds the files that exist only while the tool runs
(SQLite's ``-wal`` and ``-shm``). One file of each kind is damaged in each of the seven ways, then
six ordinary commands run one after the other, each under a time limit. Each command's outcome is
compared with the same command on the undamaged state:

* right: the same exit code and the same result (times and process ids aside);
* clear: an error exit whose message names the damaged file and gives the command that fixes it
  (in backquotes) — never right for a cache or a log, which must be rebuilt, not fatal;
* a failure: a traceback or "unexpected", a hang, a wrong or emptied result, a message without
  the file or its remedy, a library archive changed.

Every file found must have an owner (:func:`bdnex_core.paths.owner_of`): a file nobody declared fails.
The commands run in forks of one interpreter that imported bdnex-core once (``bdnex_testing.cli_server``),
two lanes in parallel, each lane a world of its own at a fixed path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bdnex_core.cli.demo import pick_albums
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.demo.samplelib import build_library, sample_pages, write_cbz
from bdnex_testing.cli_server import CommandResult, CommandServer
from bdnex_testing.damage import DAMAGES, archive_pages, files_under, kind_of, one_of_each_kind, restore_tree

pytestmark = pytest.mark.slow

TIME_LIMIT = 60.0  # one command; a loaded machine takes a few seconds at most
LANES = 2

# fields that differ between two runs of the same command on the same state
VOLATILE = re.compile(r"(^|_)(start|end|heartbeat|pid|elapsed_ms|avg_processing_time_ms|time|date)$")


@dataclass
class World:
    """One lane's installation: a configuration, its data, its library, at a fixed path."""

    root: Path
    site: FakeBedetheque
    server: CommandServer
    identify_names: list[str] = field(default_factory=list)
    albums: set[int] = field(default_factory=set)  # the albums of the library's files

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def library(self) -> Path:
        return self.root / "library"

    @property
    def database(self) -> Path:
        return self.root / "data" / "bdnex.db"

    def env(self) -> dict[str, str]:
        home = self.root / "home"
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "COLUMNS": "200",
            "LANG": "C.UTF-8",
        }

    def write_config(self) -> None:
        mapping = {
            "database": {"path": str(self.database)},
            "cache": {"dir": str(self.root / "data" / "cache")},
            "pipeline": {"logs_dir": str(self.root / "data" / "logs"), "workers": 2},
            **self.site.settings_mapping(timeout_seconds=5),
        }
        self.config.write_text(json.dumps(mapping))

    def commands(self) -> list[tuple[str, list[str]]]:
        return [
            ("identify", ["identify", "--json", *self.identify_names]),
            ("stats", ["stats", "--json"]),
            ("sessions list", ["sessions", "list", "--json"]),
            ("tag", ["tag", str(self.library), "--batch", "--json"]),
            ("catalogue update", ["catalogue", "update"]),
            ("tag --force", ["tag", str(self.library), "--batch", "--force", "--json"]),
        ]

    def run(self, argv: list[str]) -> CommandResult:
        return self.server.run(["--config", str(self.config), *argv], env=self.env(), cwd=self.root, timeout=TIME_LIMIT)

    def archives(self) -> dict[str, str]:
        """Each file of the library: its pages' digest when it is a readable archive (tagging changes
        its ComicInfo.xml only), else its bytes' digest."""
        found = {}
        for path in sorted(self.library.rglob("*")):
            if path.is_file():
                pages = archive_pages(path)
                content = repr(sorted(pages.items())).encode() if pages is not None else path.read_bytes()
                found[path.relative_to(self.library).as_posix()] = hashlib.sha256(content).hexdigest()
        return found


def normalised(name: str, stdout: str) -> Any:
    """A command's result without what changes from run to run (times, pids)."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items() if not VOLATILE.search(key)}
        if isinstance(value, list):
            items = [clean(item) for item in value]
            if all(isinstance(item, dict) and "file" in item for item in items):  # in the order workers finished
                items.sort(key=lambda item: str(item["file"]))
            return items
        return value

    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        return [clean(json.loads(line)) for line in lines]
    except json.JSONDecodeError:
        return lines


def difference(expected: Any, found: Any, where: str = "") -> str:
    """Where two results first differ (for the failure message)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in sorted(set(expected) | set(found)):
            if expected.get(key) != found.get(key):
                return difference(expected.get(key), found.get(key), f"{where}.{key}")
    if isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        for index, (one, other) in enumerate(zip(expected, found, strict=True)):
            if one != other:
                return difference(one, other, f"{where}[{index}]")
    return f"at {where or 'the top'}: expected {str(expected)[:200]!r}, got {str(found)[:200]!r}"


@dataclass
class Baseline:
    results: list[CommandResult]
    archives_after: dict[str, str]


@dataclass
class State:
    """A snapshot of a world (clean, or after a killed run) and what the six commands give on it."""

    name: str
    snapshot: Path
    files: set[Path]
    archives: dict[str, str]
    baseline: Baseline | None = None


def recording(database: Path) -> bool:
    """Whether a run has started a session and listed its files (read without writing anything)."""
    try:
        conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        found = conn.execute(
            "SELECT COUNT(*) FROM session_files JOIN processing_sessions s ON s.id = session_id "
            "WHERE s.status = 'running'"
        ).fetchone()
        return bool(found and found[0])
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def kill_a_run_mid_way(world: World) -> None:
    """A ``tag`` run killed while it fetches an album (a power cut): its -wal and -shm stay behind."""
    album_id = next(a for a in sorted(world.site.catalogue.albums, reverse=True) if a not in world.albums)
    web = f"https://www.bedetheque.com/BD-Late-Tome-1-Late-{album_id}.html"
    comicinfo = f'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Web>{web}</Web></ComicInfo>\n'.encode()
    write_cbz(
        world.library / "Late - T01.cbz", sample_pages("late", 2, 7), extra_members=[("ComicInfo.xml", comicinfo)]
    )
    world.site.set_mode("slow", delay=TIME_LIMIT, paths=f"-{album_id}.html")
    errors = world.root.parent / "killed-run.stderr"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bdnex_core", "--config", str(world.config), "tag", str(world.library), "--batch"],
            env=world.env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + TIME_LIMIT
        while not recording(world.database):
            assert process.poll() is None, f"the run to kill ended by itself: {errors.read_text()}"
            assert time.monotonic() < deadline, "the run to kill never started its session"
            time.sleep(0.05)
        time.sleep(0.5)  # its workers are waiting for the slow album page now
        assert process.poll() is None, f"the run to kill ended by itself: {errors.read_text()}"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        world.site.set_mode(None)
    assert (world.database.parent / (world.database.name + "-wal")).exists()


def build_world(root: Path, scratch: Path) -> tuple[World, State, State]:
    site = FakeBedetheque().start()
    world = World(root, site, CommandServer(scratch))
    root.mkdir(parents=True)
    world.write_config()
    present, absent = pick_albums(site, 4, 1)
    build_library(world.library, present, absent)
    world.albums = {album.album_id for album in present}
    world.identify_names = sorted(path.name for path in world.library.rglob("*.cb?"))
    before = files_under(root, leave_out=[world.library])
    for argv in (["catalogue", "update"], ["tag", str(world.library), "--batch"], ["identify", *world.identify_names]):
        result = world.run(argv)
        assert result.code in (0, 1), result.output  # tag: 1, the sample library's broken archive fails
    snapshots = root.parent / "snapshots"
    clean_files = files_under(root, leave_out=[world.library]) - before
    restore_tree(root, snapshots / "clean")
    clean = State("clean", snapshots / "clean", clean_files, world.archives())
    kill_a_run_mid_way(world)
    unclean_files = files_under(root, leave_out=[world.library]) - before - clean_files
    restore_tree(root, snapshots / "unclean")
    unclean = State("after a killed run", snapshots / "unclean", unclean_files, world.archives())
    for state in (clean, unclean):
        restore_tree(state.snapshot, root)
        results = [world.run(argv) for _name, argv in world.commands()]
        for result in results:
            assert result.code in (0, 1) and "nexpected" not in result.output, result.output
        state.baseline = Baseline(results, world.archives())
    return world, clean, unclean


@dataclass
class Outcome:
    state: str
    kind: str
    owner: str
    damage: str
    command: str
    verdict: str  # right, clear, or a failure
    detail: str = ""


FAILURES = ("traceback or unexpected", "hang", "wrong or emptied result", "no file or no remedy", "fatal for a cache")


def judge(name: str, result: CommandResult, expected: CommandResult, damaged: Path, owner: str) -> tuple[str, str]:
    output = result.output
    if result.timed_out:
        return "hang", f"no end within {TIME_LIMIT:g} s"
    if "Traceback" in output or "unexpected" in output.lower():
        return "traceback or unexpected", output[-400:]
    if result.code == expected.code and normalised(name, result.stdout) == normalised(name, expected.stdout):
        return "right", ""
    if result.code in (0, expected.code):
        return "wrong or emptied result", f"exit {result.code} (expected {expected.code}); " + difference(
            normalised(name, expected.stdout), normalised(name, result.stdout)
        ) + f"; stderr {result.stderr[-300:]!r}"
    lines = [line for line in result.stderr.splitlines() if damaged.name in line and re.search(r"`[^`]+`", line)]
    if not lines:
        return "no file or no remedy", f"exit {result.code}: {result.stderr[-400:]!r}"
    if owner in ("cache", "session log"):
        return "fatal for a cache", lines[0]
    return "clear", lines[0]


def run_case(world: World, state: State, kind: str, damage: str, owner: str, unreadable_works: bool) -> list[Outcome]:
    assert state.baseline is not None
    restore_tree(state.snapshot, world.root)
    relative = one_of_each_kind(state.files)[kind]  # this lane's file of that kind
    target = world.root / relative
    outcome = lambda command, verdict, detail="": Outcome(  # noqa: E731
        state.name, kind_of(relative), owner, damage, command, verdict, detail
    )
    if damage == "made unreadable" and not unreadable_works:
        return [outcome(command, "not possible here") for command, _ in world.commands()]
    DAMAGES[damage](target)
    outcomes = []
    for (command, argv), expected in zip(world.commands(), state.baseline.results, strict=True):
        verdict, detail = judge(command, world.run(argv), expected, target, owner)
        outcomes.append(outcome(command, verdict, detail))
    first_clear = next((o for o in outcomes if o.verdict == "clear"), None)
    if first_clear is not None:
        verdict, detail = apply_the_remedy(world, first_clear.detail)
        outcomes.append(outcome("(its remedy)", verdict, detail))
    after = world.archives()
    changed = [name for name, digest in state.archives.items() if after.get(name) != digest]
    if changed:
        outcomes.append(outcome("(library)", "library archive changed", ", ".join(changed)))
    return outcomes


def apply_the_remedy(world: World, message: str) -> tuple[str, str]:
    """Run the command a clear message gives, then ``stats``: the fix must fix."""
    remedy = re.search(r"`([^`]+)`", message)
    assert remedy is not None
    words = shlex.split(remedy.group(1))
    if words[0] == "chmod":
        subprocess.run(words, check=True)
    else:
        assert words[0] == "bdnex-core", words
        arguments = words[1:] + (["--yes"] if words[-1] in ("restore", "reset") else [])
        fixed = world.server.run(arguments, env=world.env(), cwd=world.root, timeout=TIME_LIMIT)
        if fixed.code != 0 or "nexpected" in fixed.output or "Traceback" in fixed.output:
            return "remedy failed", f"{remedy.group(1)}: exit {fixed.code}: {fixed.output[-400:]!r}"
    for argv in (["stats", "--json"], ["tag", str(world.library), "--batch", "--json"]):
        after = world.run(argv)
        if after.code not in (0, 1) or "nexpected" in after.output or "Traceback" in after.output:
            return "remedy failed", f"{remedy.group(1)}, then {argv[0]}: exit {after.code}: {after.output[-400:]!r}"
    return "remedy works", remedy.group(1)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    base = tmp_path_factory.mktemp("damage")
    built: list[tuple[World, State, State]] = []
    errors: list[BaseException] = []

    def build(lane: int) -> None:
        try:
            built.append(build_world(base / f"lane{lane}" / "world", base / f"lane{lane}" / "scratch"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(lane,)) for lane in range(LANES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if errors:
            raise errors[0]
        yield built
    finally:
        for world, _clean, _unclean in built:
            world.server.close()
            world.site.stop()


def test_every_damaged_state_file_is_rebuilt_or_reported_with_its_remedy(worlds, record_property):
    from bdnex_core.config import load_settings
    from bdnex_core.paths import owner_of

    world, clean, unclean = worlds[0]
    settings = load_settings(str(world.config))
    cases: list[tuple[State, str, str, str]] = []
    unowned = []
    for state in (clean, unclean):
        for kind, relative in one_of_each_kind(state.files).items():
            owner = owner_of(world.root / relative, settings)
            if owner is None:
                unowned.append(relative.as_posix())
                continue
            cases.extend((state, kind, damage, owner.value) for damage in DAMAGES)
    assert not unowned, f"files the tool creates that have no owner in bdnex_core.paths.owner_of: {unowned}"

    probe = world.root.parent / "unreadable-probe"
    probe.write_bytes(b"x")
    probe.chmod(0)
    unreadable_works = not world.server.probe_readable(probe)

    outcomes: list[Outcome] = []
    pending = list(enumerate(cases))
    lock = threading.Lock()

    def lane(index: int) -> None:
        lane_world, lane_clean, lane_unclean = worlds[index]
        states = {clean.name: lane_clean, unclean.name: lane_unclean}
        while True:
            with lock:
                if not pending:
                    return
                _number, (state, kind, damage, owner) = pending.pop(0)
            found = run_case(lane_world, states[state.name], kind, damage, owner, unreadable_works)
            with lock:
                outcomes.extend(found)

    threads = [threading.Thread(target=lane, args=(index,)) for index in range(len(worlds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    verdicts = Counter(outcome.verdict for outcome in outcomes)
    by_kind = Counter((outcome.owner, outcome.kind, outcome.verdict) for outcome in outcomes)
    report = [
        f"damaged state files: {len(cases)} damaged files ({len(cases) // len(DAMAGES)} kinds x {len(DAMAGES)} "
        f"damages), {len(outcomes)} outcomes: "
        + ", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items())),
        *(f"  {owner:14} {kind:48} {verdict}: {count}" for (owner, kind, verdict), count in sorted(by_kind.items())),
    ]
    bad = [o for o in outcomes if o.verdict not in ("right", "clear", "remedy works", "not possible here")]
    failures = [
        f"  FAIL {o.kind} / {o.damage} / {o.command}: {o.verdict}: {o.detail}" for o in outcomes if o in bad[:40]
    ]
    record_property("summary", "\n".join(report + failures))  # printed after the run (bdnex_testing)
    assert not bad, "\n".join(report + failures)
