"""``kavita watch``: new chapters found from the hub's events during a run, and by listing after a reconnection;
Bédéthèque unusable pauses the queue without failing a chapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kavita_env import Env, add_album, running_watch, series_albums, wait_for

pytestmark = pytest.mark.timeout(120)


def _tagged(env: Env, chapter_ids: list[int]) -> bool:
    updated = {post.body["id"] for post in env.kavita.posts("/api/Chapter/update")}
    return set(chapter_ids) <= updated


def test_watch_tags_what_scans_add_while_it_runs(env: Env) -> None:
    albums = series_albums(env.site, 4)  # 2 tomes of Nains, then 2 of another series
    add_album(env.library_folder, albums[0])
    existing = env.kavita.scan_library(env.library_id)
    with running_watch(env) as service:
        worker = service.worker
        assert env.kavita.hub.wait_connected(1) and wait_for(lambda: worker.checkpoint() is not None)
        # a new series: SeriesAdded names it
        add_album(env.library_folder, albums[2])
        new_series = env.kavita.scan_library(env.library_id)
        assert wait_for(lambda: _tagged(env, new_series), 60), worker.stats
        # a new tome of a series Kavita had: only the end of the library scan says so
        add_album(env.library_folder, albums[1])
        new_tome = env.kavita.scan_library(env.library_id)
        assert wait_for(lambda: _tagged(env, new_tome), 60), worker.stats
        # a series scan (ScanSeries) of a series with a new file
        add_album(env.library_folder, albums[3])
        other = env.kavita.series[env.kavita.volumes[env.kavita.chapters[new_series[0]].volume_id].series_id]
        env.kavita.queue_scan(env.library_id, other.id)
        assert env.kavita.wait_idle(10)
        newest = max(env.kavita.chapters)
        assert newest not in (*existing, *new_series, *new_tome)
        assert wait_for(lambda: _tagged(env, [newest]), 60), worker.stats
    assert not _tagged(env, existing), "chapters there before the first start are for `kavita sync`"
    assert worker.stats.runs >= 3 and worker.stats.failures == 0
    assert worker.stats.series_inspected >= 3


@pytest.mark.parametrize("env", ["sqlite", "postgresql"], indirect=True)
def test_watch_catches_up_by_listing_after_a_reconnection(env: Env) -> None:
    albums = series_albums(env.site, 3)
    add_album(env.library_folder, albums[0])
    env.kavita.scan_library(env.library_id)
    with running_watch(env) as service:
        worker = service.worker
        assert env.kavita.hub.wait_connected(1) and wait_for(lambda: worker.checkpoint() is not None)
        env.kavita.hub_down = True
        env.kavita.hub.drop_all()  # no close message: a network failure
        for album in albums[1:]:
            add_album(env.library_folder, album)
        missed = env.kavita.scan_library(env.library_id)  # its events reach no one
        assert len(missed) == 2 and env.kavita.hub.connections == []
        env.kavita.hub_down = False
        assert wait_for(lambda: _tagged(env, missed), 60), worker.stats
        assert env.kavita.hub.opened >= 2 and worker.stats.caught_up == 2
        # the records of the protocol the client sent: a handshake, then pings
        assert env.kavita.hub.negotiations >= 2


@pytest.fixture
def own_site():
    """A fake Bédéthèque of this test's own, so that it can be made to refuse us."""
    from bdnex_core.demo.fakesite import FakeBedetheque

    site = FakeBedetheque().start()
    try:
        yield site
    finally:
        site.stop()


def test_the_queue_pauses_while_the_site_blocks_us(
    tmp_path: Path, own_site: Any, kavita: Any, catalogue_db: Path
) -> None:
    env = Env(tmp_path, own_site, kavita, catalogue_db)
    albums = series_albums(own_site, 2)
    with running_watch(env, retry_delay_seconds=1.0, max_attempts=2) as service:
        worker = service.worker
        assert kavita.hub.wait_connected(1) and wait_for(lambda: worker.checkpoint() is not None)
        own_site.set_mode("challenge")
        for album in albums:
            add_album(env.library_folder, album)
        new = kavita.scan_library(env.library_id)
        assert wait_for(lambda: worker.stats.pauses >= 1, 60), worker.stats
        assert worker.stats.failures == 0 and sorted(worker.pending) == sorted(new)
        assert not worker.stop_event.is_set()
        own_site.set_mode(None)
        assert wait_for(lambda: _tagged(env, new), 60), worker.stats
        assert wait_for(lambda: worker.pending == {}, 30) and worker.stats.failures == 0
