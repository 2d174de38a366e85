"""``komga serve``/``watch`` while Bédéthèque cannot be used: the queue pauses and tries again later,
no book is marked failed for it (issue 15: errors with ``stops_run``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import Env, running_service, series_albums, wait_for

pytestmark = pytest.mark.timeout(120)

TOKEN = "pause-t0ken"


def _client_stops_when_the_site_is_gone() -> bool:
    """The catalogue client's circuit breaker (the network side of issue 15) turns a site that stopped
    answering into an error with ``stops_run``; without it each file fails on its own."""
    import bdnex_core.bedetheque.client as client

    return "stops_run=True" in Path(client.__file__).read_text(encoding="utf-8")


@pytest.fixture
def own_site():
    """A fake Bédéthèque of this test's own, so that it can be stopped and started again on its port."""
    from bdnex_core.demo.fakesite import FakeBedetheque

    sites = [FakeBedetheque().start()]
    port = sites[0].port  # kept: a stopped site has no port to ask for

    def restart() -> Any:
        sites.append(FakeBedetheque(port=port).start())
        return sites[-1]

    sites[0].restart = restart  # type: ignore[attr-defined]
    try:
        yield sites[0]
    finally:
        for site in sites:
            site.stop()


@pytest.fixture
def paused_env(tmp_path: Path, own_site: Any, komga: Any, catalogue_db: Path) -> Env:
    env = Env(tmp_path, own_site, komga, catalogue_db)
    env.add_albums(series_albums(own_site, 2))
    env.book_ids = env.komga.scan(env.library_id)  # type: ignore[attr-defined]
    assert env.komga.wait_idle(10)
    return env


def _post(url: str, book_ids: list[str]) -> None:
    body = [{"event": "BookAdded", "bookId": book_id} for book_id in book_ids]
    response = requests.post(f"{url}/hooks/komga", data=json.dumps(body), headers={"X-Bdnex-Token": TOKEN}, timeout=10)
    assert response.status_code == 202, response.text


def _check_paused_then_done(env: Env, unusable: Any, usable: Any) -> None:
    book_ids: list[str] = env.book_ids  # type: ignore[attr-defined]
    with running_service(
        env,
        events=False,
        listen=("127.0.0.1", 0),
        webhook_token=TOKEN,
        idle_timeout_seconds=0.2,
        retry_delay_seconds=1.0,
        max_attempts=2,
    ) as service:
        worker = service.worker
        unusable()
        _post(service.webhook.url, book_ids)
        assert wait_for(lambda: worker.stats.pauses >= 1, 60), worker.snapshot()
        assert not worker.stop_event.is_set(), "the service stopped instead of pausing its queue"
        assert worker.stats.failures == {} and sorted(worker.pending) == sorted(book_ids)
        assert requests.get(f"{service.webhook.url}/health", timeout=5).json()["paused_for_seconds"] >= 0
        usable()
        assert wait_for(lambda: sorted(worker.stats.processed) == sorted(book_ids), 60), worker.snapshot()
        assert worker.stats.failures == {} and worker.pending == {}
    for book_id in book_ids:
        assert env.komga.book(book_id)["metadata"]["links"], book_id


def test_queue_pauses_while_the_site_blocks_us(paused_env: Env, own_site: Any) -> None:
    """A challenge page (a ban, the hourly cap: the run stops with exit code 4): paused, then done."""
    _check_paused_then_done(
        paused_env, unusable=lambda: own_site.set_mode("challenge"), usable=lambda: own_site.set_mode(None)
    )


@pytest.mark.skipif(
    not _client_stops_when_the_site_is_gone(),
    reason="needs the catalogue client's circuit breaker (issue 15, network side) to stop the run",
)
def test_queue_pauses_while_the_site_is_down(paused_env: Env, own_site: Any) -> None:
    """The fake site stopped, then started again on the same port."""
    _check_paused_then_done(paused_env, unusable=own_site.stop, usable=own_site.restart)


def test_the_pause_its_end_and_the_batch_are_announced(
    paused_env: Env, own_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apprise notifications from a watcher: one message when Bédéthèque stops us, one when it answers
    again, and the batch's summary (issue 35); the retries in between say nothing more."""
    pytest.importorskip("apprise", reason="the notify extra (apprise) is not installed")
    from bdnex_core.service import notifications
    from bdnex_testing.notify_receiver import NotificationReceiver

    notifications.site_pause.resume()  # as a new process starts
    with NotificationReceiver() as receiver:
        monkeypatch.setenv(notifications.URLS_VARIABLE, receiver.url)
        _check_paused_then_done(
            paused_env, unusable=lambda: own_site.set_mode("challenge"), usable=lambda: own_site.set_mode(None)
        )
        titles = [message["title"] for message in receiver.wait_for(3)]
    paused, resumed = "bdnex-core paused: Bédéthèque is not usable now", "bdnex-core resumed: Bédéthèque answers again"
    assert titles[0] == paused and titles.count(paused) == 1 and titles.count(resumed) == 1, titles
    assert titles[-1] == "bdnex-core: 2 tagged, 0 to review, 0 failed", titles
    assert titles.index(resumed) < len(titles) - 1
