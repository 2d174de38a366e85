"""``komga serve``: the webhook endpoint, its checks, and the queue it shares with ``watch``."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
import requests

from conftest import Background, Env, running_service, series_albums, wait_for

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret-t0ken"


def serving(env: Env, **komga: Any):
    """The webhook endpoint on a free port, its queue worker in a thread (as ``komga serve`` runs it)."""
    return running_service(
        env, events=False, listen=("127.0.0.1", 0), **{"webhook_token": TOKEN, "idle_timeout_seconds": 0.3, **komga}
    )


def post(url: str, body: Any, *, token: str | None = TOKEN, raw: bytes | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Bdnex-Token"] = token
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(f"{url}/hooks/komga", data=data, headers=headers, timeout=5)


def event(book: dict[str, Any], name: str = "BookAdded") -> dict[str, Any]:
    return {"event": name, "bookId": book["id"], "seriesId": book["seriesId"], "libraryId": book["libraryId"]}


def test_valid_event_is_processed_once(env: Env, books) -> None:
    with serving(env) as service:
        url, worker = service.webhook.url, service.worker
        assert requests.get(f"{url}/health", timeout=5).json()["status"] == "ok"
        response = post(url, event(books[0]))
        assert response.status_code == 202 and response.json() == {"accepted": 1}
        assert wait_for(lambda: len(worker.stats.processed) == 1, 15), worker.snapshot()
        # the same book again, alone and in a list with the other one
        assert post(url, event(books[0])).status_code == 202
        assert post(url, [event(books[0]), event(books[1]), event(books[1], "BookChanged")]).status_code == 202
        assert wait_for(lambda: len(worker.stats.processed) == 2, 15), worker.snapshot()
        time.sleep(0.8)
        assert Counter(worker.stats.processed) == {books[0]["id"]: 1, books[1]["id"]: 1}
        assert worker.stats.runs == 2
        health = requests.get(f"{url}/health", timeout=5).json()
        assert health["processed"] == 2 and health["pending"] == 0
    metadata = env.komga.book(books[0]["id"])["metadata"]
    assert metadata["links"] and metadata["links"][0]["label"] == "Bédéthèque"


def test_task_queue_status_releases_the_buffer(env: Env, books) -> None:
    with serving(env, idle_timeout_seconds=30) as service:
        url, worker = service.webhook.url, service.worker
        assert post(url, event(books[0])).status_code == 202
        time.sleep(0.6)
        assert worker.stats.processed == []  # waits for Komga's queue to be idle
        assert post(url, {"event": "TaskQueueStatus", "count": 0, "countByType": {}}).status_code == 202
        assert wait_for(lambda: worker.stats.processed == [books[0]["id"]], 15), worker.snapshot()


def test_rejected_requests(env: Env, books) -> None:
    with serving(env, webhook_max_body_bytes=2048) as service:
        url, worker = service.webhook.url, service.worker
        good = event(books[0])
        assert post(url, good, token=None).status_code == 401
        assert post(url, good, token="wrong").status_code == 401
        assert post(url, good, token=TOKEN + "x").status_code == 401
        too_big = post(url, [good] * 40)
        assert too_big.status_code == 413
        for raw, reason in ((b"{not json", "not valid JSON"), (b"\xff\xfe", "not UTF-8")):
            response = post(url, None, raw=raw)
            assert response.status_code == 400 and reason in response.json()["error"]
        for body, reason in (
            ({"bookId": books[0]["id"]}, 'missing "event"'),
            ({"event": "BookAdded"}, "bookId"),
            ({"event": "BookAdded", "bookId": 12}, "bookId"),
            ({"event": "Nonsense", "bookId": "x"}, "unknown event"),
            ([], "empty"),
            ("BookAdded", "JSON object"),
            ([good, 3], "event 1"),
            ({"event": "TaskQueueStatus", "count": "0"}, "count"),
        ):
            response = post(url, body)
            assert response.status_code == 400, body
            assert reason in response.json()["error"], response.json()
        assert requests.get(f"{url}/nowhere", timeout=5).status_code == 404
        time.sleep(0.8)
        assert worker.stats.processed == [] and worker.stats.events == 0


def test_serve_needs_a_token(env: Env) -> None:
    code, _, err = env.cli("komga", "serve", "--listen", "127.0.0.1:0", "--exit-after", "1")
    assert code != 0 and "komga.webhook_token" in err and len(err.strip().splitlines()) == 1


def test_serve_cli(env: Env, books) -> None:
    code, _, err = env.cli("komga", "serve", "--listen", "127.0.0.1:0", "--exit-after", "0.5", webhook_token=TOKEN)
    assert code == 0, err
    assert "listening on http://127.0.0.1:" in err
    code, _, err = env.cli("komga", "serve", "--listen", "nonsense", webhook_token=TOKEN)
    assert code != 0 and "HOST:PORT" in err


def test_failures_are_retried_then_given_up(env: Env, books) -> None:
    first = env.library_folder / "Nains" / "Nains T01.cbz"
    second = env.library_folder / "Nains" / "Nains T02.cbz"
    first.rename(first.with_name("hidden-1"))
    second.rename(second.with_name("hidden-2"))
    with serving(env, write="comicinfo", retry_delay_seconds=0.4, max_attempts=3) as service:
        url, worker = service.webhook.url, service.worker
        assert post(url, [event(books[0]), event(books[1])]).status_code == 202
        assert wait_for(lambda: worker.attempts.get(books[0]["id"]) == 1, 10), worker.snapshot()
        first.with_name("hidden-1").rename(first)  # the file is back: the retry succeeds
        assert wait_for(lambda: books[1]["id"] in worker.stats.failures, 15), worker.snapshot()
        assert worker.attempts[books[1]["id"]] == 3
        assert wait_for(lambda: books[0]["id"] in worker.stats.processed, 10)
        assert books[0]["id"] not in worker.stats.failures
        assert "komga.path_map" in worker.stats.failures[books[1]["id"]]
    assert env.komga.book(books[0]["id"])["metadata"]["links"]


def test_watch_and_webhook_share_one_queue(env: Env, books) -> None:
    """`watch --listen`: events from Komga's stream and from the webhook, one worker, each book once."""
    from bdnex_core.db import BDneXDB
    from bdnex_komga.service import komga_service

    settings = env.settings(webhook_token=TOKEN, idle_timeout_seconds=0.3)
    with BDneXDB(settings=settings) as db, komga_service(settings, db, events=True, listen=("127.0.0.1", 0)) as service:
        task = Background(service.worker.run)
        try:
            worker = service.worker
            assert wait_for(lambda: worker.checkpoint() is not None, 10)
            # books[0] was scanned before the watcher started: only the webhook tells about it
            assert post(service.webhook.url, event(books[0])).status_code == 202
            assert wait_for(lambda: worker.stats.processed == [books[0]["id"]], 15), worker.snapshot()
            env.add_albums(series_albums(env.site, 3)[2:])
            [new] = env.komga.scan(env.library_id)
            assert post(service.webhook.url, {"event": "BookAdded", "bookId": new}).status_code == 202
            assert wait_for(lambda: len(worker.stats.processed) == 2, 15), worker.snapshot()
            time.sleep(0.8)
            assert Counter(worker.stats.processed) == {books[0]["id"]: 1, new: 1}
        finally:
            service.stop()
            task.join()
