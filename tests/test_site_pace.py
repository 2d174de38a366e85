"""The pace the site teaches (issue 38): a refusal raises the shared pace for every worker and process
(doubled, at least the Retry-After, capped), nobody sends before the Retry-After has passed, calm answers
lower it by steps never below the configured minimum, and the database keeps it for the next run; a
holder that died or went silent loses the slot; a request not sent in time after its grant is not sent.
The cookie is renewed before it expires, or once on a plain 403; a 403 with a fresh cookie is a block.
The progress line, the summary and ``stats`` say the pace. A 429 with ``Retry-After: 60``: no request
of any worker or process reaches the site for 60 s. The slot rules run on the real stores (SQLite
and PostgreSQL) and the client against the fake site, whose log has each request's arrival time."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from rich.console import Console

from bdnex_core.bedetheque import shared_limiter
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.bedetheque.pace import THIS_HOST, Outcome, PaceRules, finish, grant
from bdnex_core.bedetheque.shared_limiter import PoliteLimiter, limiter_for
from bdnex_core.cli.demo import pick_albums
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, StrictRules
from bdnex_core.demo.samplelib import build_library
from bdnex_core.errors import BlockedError, RateLimited
from bdnex_core.pipeline import TagOptions, tag_locations
from bdnex_core.pipeline.progress import ProgressDisplay
from bdnex_core.store.request_slots import Slot
from bdnex_testing.pytest_plugin import database_mapping
from tests.test_shared_database_processes import index_catalogue
from tests.test_shared_database_processes import site as site  # the processes tests' fake site, one per module
from tests.test_strict_site import configs_for, in_order, tag_all

HOST = "www.example.test"
RULES = PaceRules(min_delay=0.2, jitter=0.0, per_hour=1000, max_delay=3.0, lease=10.0)


@pytest.fixture
def database(database_location, tmp_path):
    settings = from_mapping({"database": database_mapping(database_location), "cache": {"dir": str(tmp_path)}})
    with BDneXDB(settings=settings) as db:
        yield db


def other_process(db: BDneXDB) -> PoliteLimiter:
    """A limiter over the same database as another process has one: its own connection and identity."""
    limiter = PoliteLimiter(db.reopen().request_slots, HOST, scope="the runs of this database")
    limiter._me = f"{THIS_HOST}:999999999:other"  # a pid no process has: as another process would be
    return limiter


def test_a_refusal_raises_the_pace_of_every_process_and_holds_them_until_retry_after(database):
    first, second = PoliteLimiter(database.request_slots, HOST, scope="test"), other_process(database)
    turn = first.take(RULES)
    turn.before_write()
    turn.after_write()
    report = turn.finish(Outcome.REFUSED, retry_after=1.0)
    assert report.pace == pytest.approx(1.0) and report.slowed and report.refusals == 1  # max(2 x 0.2, 1 s)
    started = time.monotonic()
    turn = second.take(RULES)  # the other process waits out the Retry-After
    waited = time.monotonic() - started
    assert waited >= 0.95, waited
    turn.before_write()
    turn.after_write()
    assert turn.finish(Outcome.ANSWERED).refusals == 0
    slot = database.request_slots.read(HOST)
    assert slot is not None and slot.pace == pytest.approx(1.0) and slot.holder is None
    # the next request, of either process, keeps the learned pace from the last send
    started = time.monotonic()
    first.take(RULES).finish(Outcome.NOT_SENT)
    assert time.monotonic() - started >= 0.95


def test_the_pace_is_capped_and_a_refusal_at_the_cap_counts_in_a_row(database):
    limiter = PoliteLimiter(database.request_slots, HOST, scope="test")
    rules = PaceRules(min_delay=0.2, jitter=0.0, per_hour=1000, max_delay=0.5, lease=10.0)
    paces = []
    for _ in range(3):
        turn = limiter.take(rules)
        turn.before_write()
        turn.after_write()
        paces.append(turn.finish(Outcome.REFUSED, retry_after=None))
    assert [report.pace for report in paces] == [pytest.approx(0.4), pytest.approx(0.5), pytest.approx(0.5)]
    assert [report.refusals for report in paces] == [1, 2, 3]


def test_calm_answers_lower_the_pace_by_steps_never_below_the_minimum():
    rules = PaceRules(min_delay=0.2, jitter=0.0, per_hour=1000, max_delay=3.0, lease=10.0, decay_after=3)
    slot, now, me = Slot(0.0, 0.0, 0, pace=0.45), 100.0, "h:1:a"
    paces = []
    for _ in range(12):
        _, slot = grant(now, slot, rules, me, scope="test")
        report, slot = finish(now, slot, rules, me, Outcome.ANSWERED, sent_ago=0.0)
        paces.append(round(report.pace, 2))
        now += 1.0
    assert paces == [0.45, 0.45, 0.35, 0.35, 0.35, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2]


def test_the_next_request_is_spaced_from_the_send_not_the_grant():
    me = "h:1:a"
    _, held = grant(100.0, Slot(0.0, 100.0, 0), RULES, me, scope="test")
    assert held is not None and held.holder == me
    # granted at 100, written at 100.3 (a stall), answered at 100.5
    _, freed = finish(100.5, held, RULES, me, Outcome.ANSWERED, sent_ago=0.2)
    assert freed.next_at == pytest.approx(100.3 + RULES.min_delay) and freed.holder is None
    # a request never sent leaves the slot as it was
    _, held = grant(101.0, freed, RULES, me, scope="test")
    _, unsent = finish(101.0, held, RULES, me, Outcome.NOT_SENT, sent_ago=None)
    assert unsent.next_at == freed.next_at and unsent.window_count == freed.window_count


def test_a_request_in_flight_holds_everyone_and_a_dead_holder_loses_the_slot():
    held = Slot(0.0, 100.0, 0, holder="h:1:a", held_at=100.0, held_until=160.0)
    wait, _ = grant(100.05, held, RULES, f"{THIS_HOST}:2:b", scope="test")
    assert wait > 0  # another machine's holder, alive as far as we know: wait
    dead = held._replace(holder=f"{THIS_HOST}:999999999:a")  # this machine, no such process
    wait, broken = grant(100.05, dead, RULES, f"{THIS_HOST}:2:b", scope="test")
    assert broken is not None and broken.holder is None and broken.next_at == pytest.approx(100.05 + RULES.min_delay)
    assert wait == pytest.approx(RULES.min_delay)  # as if it had just sent
    wait, _ = grant(161.0, held, RULES, f"{THIS_HOST}:2:b", scope="test")  # a lease past its end
    assert wait == pytest.approx(RULES.min_delay)


def test_a_retry_after_beyond_the_longest_wait_stops_the_other_processes_too(database):
    first, second = PoliteLimiter(database.request_slots, HOST, scope="test"), other_process(database)
    turn = first.take(RULES)
    turn.before_write()
    turn.after_write()
    turn.finish(Outcome.REFUSED, retry_after=3600.0)
    with pytest.raises(RateLimited, match="wait 3600 s") as raised:
        second.take(RULES)
    assert raised.value.stops_run


# ---------------------------------------------------------------------- the client


@pytest.fixture
def strict_site():
    reset_politeness()
    with FakeBedetheque() as running:
        yield running
    reset_politeness()


def client_of(site, tmp_path, **catalogue) -> BedethequeClient:
    mapping = {**site.settings_mapping(**catalogue), "cache": {"dir": str(tmp_path / "cache")}}
    return BedethequeClient(from_mapping(mapping))


def album_paths(site, count: int) -> list[str]:
    return [f"/BD-x-{album_id}.html" for album_id in list(site.catalogue.albums)[:count]]


def test_a_request_not_sent_in_time_after_its_grant_is_not_sent(strict_site, tmp_path, monkeypatch):
    monkeypatch.setattr(shared_limiter, "LATE_SECONDS", 0.1)
    client = client_of(strict_site, tmp_path)
    client.get("/")
    strict_site.clear_log()
    send, calls = client.transport.get, []

    def stalled_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.3)  # past the grant's limit: the connection refuses to write it
        return send(*args, **kwargs)

    client.transport.get = stalled_once
    assert client.get(album_paths(strict_site, 1)[0]).status == 200
    assert len(calls) == 2 and len(strict_site.requests()) == 1  # asked twice, sent once


def test_the_cookie_is_renewed_before_it_expires(strict_site, tmp_path):
    strict_site.set_strict(StrictRules(cookie_lifetime=2))
    client = client_of(strict_site, tmp_path, min_delay_seconds=0.25)
    started = time.monotonic()
    for path in itertools.islice(itertools.cycle(album_paths(strict_site, 10)), 22):
        assert client.get(path).status == 200
    took = time.monotonic() - started
    statuses = [entry.status for entry in strict_site.requests()]
    homes = [entry for entry in strict_site.requests() if entry.path == "/"]
    assert 403 not in statuses, statuses
    assert len(homes) >= int(took // 2), (len(homes), took)  # one renewal per cookie life at least
    assert client.stats.cookie_renewals == len(homes)


def test_a_request_that_stalls_after_its_grant_past_its_cookies_end_is_not_sent_without_it(strict_site, tmp_path):
    """The cookie is checked when the request is written, not when the slot was granted: the two may be up to
    LATE_SECONDS apart on a busy machine, and a cookie that ended meanwhile is dropped by the jar (the
    request went out without it: the strict site's 403, seen by the two-process test under load)."""
    strict_site.set_strict(StrictRules(cookie_lifetime=4))
    client = client_of(strict_site, tmp_path)
    page = album_paths(strict_site, 1)[0]
    assert client.get(page).status == 200  # the first cookie, then the page
    time.sleep(max(0.0, client._cookie_expiry() - time.time() - 2.0))  # 2 s left: neither renewed nor refused
    send, calls = client.transport.get, []

    def stalled_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(2.5)  # descheduled between the grant and the write, past the cookie's end
        return send(*args, **kwargs)

    client.transport.get = stalled_once
    strict_site.clear_log()
    assert client.get(page).status == 200
    assert [(entry.path, entry.status) for entry in strict_site.requests()] == [("/", 200), (page, 200)]


def test_a_plain_403_renews_the_cookie_once_then_the_request_goes_again(strict_site, tmp_path):
    strict_site.set_strict(StrictRules(cookie_lifetime=3600))
    cookies = tmp_path / "cookies.txt"  # a cookie the site no longer knows, without an expiry to see
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tcsrf_cookie_bel\tstale\n")
    client = client_of(strict_site, tmp_path, cookies_file=str(cookies))
    page = album_paths(strict_site, 1)[0]
    assert client.get(page).status == 200
    assert [(entry.path, entry.status) for entry in strict_site.requests()] == [(page, 403), ("/", 200), (page, 200)]


def test_a_403_with_a_fresh_cookie_is_a_block_that_stops_the_run(strict_site, tmp_path):
    client = client_of(strict_site, tmp_path)
    strict_site.set_mode("forbidden", paths="/BD-")
    page = album_paths(strict_site, 1)[0]
    with pytest.raises(BlockedError, match="403") as raised:
        client.get(page)
    assert raised.value.stops_run and "\n" not in str(raised.value)
    assert [(entry.path, entry.status) for entry in strict_site.requests()] == [
        ("/", 200),
        (page, 403),
        ("/", 200),
        (page, 403),
    ]
    with pytest.raises(BlockedError):  # the breaker holds: no more requests
        client.get(album_paths(strict_site, 2)[1])
    assert len(strict_site.requests()) == 4


def test_workers_of_one_process_slow_down_together_and_keep_the_gap_at_arrival(strict_site, tmp_path):
    """Four threads, a site that wants 0.75 s between arrivals and a configuration of 0.5 s (+ up to
    0.25 s): the first refusal teaches every thread; no other refusal follows."""
    strict_site.set_strict(StrictRules(min_gap=0.75))
    client = client_of(strict_site, tmp_path, min_delay_seconds=0.5, jitter_seconds=0.25)
    paths = album_paths(strict_site, 6)
    errors: list[BaseException] = []

    def fetch(chunk):
        try:
            for path in chunk:
                client.get(path)
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(paths[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    statuses = [entry.status for entry in sorted(strict_site.requests(), key=lambda e: e.arrived)]
    refusals = statuses.count(429)
    assert 1 <= refusals <= 3, statuses
    last_refusal = max(i for i, status in enumerate(statuses) if status == 429)
    assert all(status == 200 for status in statuses[last_refusal + 1 :]), statuses
    assert client.pace is not None and client.pace.pace == pytest.approx(1.0)
    assert client.pace_notice() == "the site asked us to slow down: 1.0 s between requests"
    assert min(strict_site.arrival_gaps()[last_refusal:]) >= 0.95


# ---------------------------------------------------------------------- what the user sees


def test_the_progress_line_says_the_learned_pace():
    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True)
    display = ProgressDisplay(console)
    display.start(3)
    item = SimpleNamespace(name="Nains - T01.cbz")
    display.advance(SimpleNamespace(state="done", item=item), pace=None)
    display._progress.refresh()  # type: ignore[union-attr]
    assert "slow down" not in console.export_text()
    display.advance(
        SimpleNamespace(state="done", item=item), pace="the site asked us to slow down: 3.4 s between requests"
    )
    display._progress.refresh()  # type: ignore[union-attr]
    display.stop()
    assert "the site asked us to slow down: 3.4 s between requests" in console.export_text()


class RecordedProgress:
    """What a run tells its progress line (the terminal one draws the same: see the test above)."""

    def __init__(self) -> None:
        self.paces: list[str | None] = []

    def start(self, total: int) -> None: ...

    def advance(self, outcome, *, pace: str | None = None) -> None:
        self.paces.append(pace)

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None: ...


def test_a_run_tells_its_progress_line_and_its_summary_the_learned_pace(site, tmp_path):
    mapping = {
        "database": {"path": str(tmp_path / "bdnex.db")},
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs")},
        **site.settings_mapping(),
    }
    index_catalogue(site, mapping)
    present, _ = pick_albums(site, 2, 0, seed=3)
    build_library(tmp_path / "library", present, broken=0, pages_per_file=1)
    settings = from_mapping(mapping)
    progress = RecordedProgress()
    site.set_mode("429", remaining=1, retry_after=1, paths="/BD-")
    try:
        with BDneXDB(settings=settings) as db:
            summary = tag_locations(
                settings, db, TagOptions(workers=1, locations=(str(tmp_path / "library"),)), progress=progress
            )
    finally:
        site.set_mode(None)
        reset_politeness()
    notice = "the site asked us to slow down: 1.0 s between requests"  # max(2 x 0, Retry-After 1 s)
    assert summary.counts["done"] == 2 and progress.paces == [notice, notice]
    assert summary.pace_notice == notice and summary.to_dict()["pace_notice"] == notice


def test_stats_shows_the_persisted_pace(database_location, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "database": database_mapping(database_location),
                "catalogue": {"base_url": "https://www.bedetheque.com", "min_delay_seconds": 2.0},
            }
        )
    )
    command = [sys.executable, "-m", "bdnex_core", "--config", str(config), "stats"]
    shown = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "request pace:          2.0 s between requests (configured)" in shown.stdout
    settings = from_mapping({"database": database_mapping(database_location)})
    with BDneXDB(settings=settings) as db:
        limiter = limiter_for(db, "www.bedetheque.com")
        rules = PaceRules(min_delay=2.0, jitter=0.0, per_hour=100, max_delay=30.0, lease=10.0)
        turn = limiter.take(rules)
        turn.before_write()
        turn.after_write()
        turn.finish(Outcome.REFUSED, retry_after=1.0)
    reset_politeness()
    shown = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert "request pace:          4.0 s between requests, as Bédéthèque asked (configured 2.0 s)" in shown.stdout
    as_json = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120)
    assert json.loads(as_json.stdout)["request_pace"] == {"seconds": 4.0, "configured": 2.0, "learned": True}


@pytest.mark.slow
def test_a_retry_after_of_60_s_holds_every_worker_of_every_process(site, tmp_path):
    configs = configs_for(site, tmp_path, str(tmp_path / "bdnex.db"), 2, (2, 0), 2)
    for config in configs:  # a fast pace, that the refusal raises to 1 s at most
        mapping = json.loads(config.read_text())
        mapping["catalogue"].update(min_delay_seconds=0.2, jitter_seconds=0.0, max_delay_seconds=1.0)
        config.write_text(json.dumps(mapping))
    site.clear_log()
    site.set_mode("429", remaining=1, retry_after=60, paths="/BD-")
    try:
        outputs = tag_all(configs, "first", 2, 2)
    finally:
        site.set_mode(None)
    logged = in_order(site)
    (refused,) = [position for position, entry in enumerate(logged) if entry.status == 429]
    assert refused + 1 < len(logged), "the refusal was the last request: nothing waited"
    held = logged[refused + 1].arrived - logged[refused].arrived
    assert held >= 60.0, held
    assert all("the site asked us to slow down: 0.4 s between requests" in output for output in outputs), outputs
    print(f"no request for {held:.2f} s after Retry-After: 60")


def test_a_retry_after_beyond_the_cap_is_a_pause_not_a_pace():
    """Retry-After: 60 asks for a pause: nobody sends for 60 s, then the pace is only doubled, not kept at the
    cap for the rest of the run (which at 30 s a request would turn 10,000 albums into days)."""
    rules = PaceRules(min_delay=2.0, jitter=0.0, per_hour=1000, max_delay=30.0, lease=10.0)
    me = "host:1:1"
    _wait, held = grant(100.0, Slot(0.0, 100.0, 0), rules, me, scope="the test")
    assert held is not None
    report, after = finish(101.0, held, rules, me, Outcome.REFUSED, sent_ago=0.5, retry_after=60.0)
    assert report.pace == 4.0
    assert after.retry_until == 161.0
    wait, _ = grant(102.0, after, rules, me, scope="the test")
    assert 58.9 < wait <= 59.0
    _wait, held = grant(100.0, Slot(0.0, 100.0, 0), rules, me, scope="the test")
    report, _after = finish(101.0, held, rules, me, Outcome.REFUSED, sent_ago=0.5, retry_after=12.0)
    assert report.pace == 12.0  # within the cap: the gap the site wants
