"""The web page's review with a long queue, and cover thumbnails from the cache, against baselines
measured in the same run.

- Review page: 500 queued entries (one real entry queued by `tag` on the fake site, 499 more
  rows pointing at copies of its file), rendered through the whole app (guard, routes, review
  service, templates). Baseline: the same page with the 1 real entry. Target: < 300 ms server time
  (the ``Server-Timing`` header the page sends; the request's wall time is printed too).
- A cover thumbnail already in the cache (``/cover/entry/ID``). Baseline: a small static file
  through the same app. Target: < 20 ms.

Run: ``.venv/bin/python benchmarks/bench_web.py`` (about a minute).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="Using `httpx`")

from starlette.testclient import TestClient  # noqa: E402

from bdnex_core.cli import main  # noqa: E402
from bdnex_core.demo.fakesite import FakeBedetheque  # noqa: E402
from bdnex_core.web.app import create_app  # noqa: E402
from bdnex_testing.review import make_env, series_entries, uncertain_file  # noqa: E402

QUEUE = 500
RUNS = 15


def timed(client: TestClient, url: str, runs: int = RUNS) -> tuple[float, float]:
    """Median server time (Server-Timing, when sent) and median wall time, in ms."""
    server, wall = [], []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(url)
        wall.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code)
        timing = answer.headers.get("server-timing", "")
        if "dur=" in timing:
            server.append(float(timing.split("dur=", 1)[1]))
    return (statistics.median(server) if server else float("nan")), statistics.median(wall)


def fill_queue(db, entry_row: dict, folder: Path, count: int) -> None:
    source = Path(entry_row["file_path"])
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for number in range(count):
        copy = folder / f"copy {number:04} - {source.name}"
        shutil.copyfile(source, copy)
        rows.append(
            {
                "file_path": str(copy),
                "item_key": str(copy),
                "session_id": entry_row["session_id"],
                "parsed": entry_row["parsed"],
                "candidates": entry_row["candidates"],
                "status": "waiting",
            }
        )
    with db.write():
        db.db.table("review_queue").insert_all(rows)


def main_bench() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        with FakeBedetheque() as site:
            settings, db, config = make_env(site, tmp)
            entry = series_entries(site, minimum=4)[2]
            uncertain_file(tmp / "library", entry)
            assert main(["-q", "--config", str(config), "tag", str(tmp / "library"), "--batch"]) == 0
            first = next(db.db.table("review_queue").rows_where("status = 'waiting'", order_by="id"))
            app = create_app(settings)
            with TestClient(app, base_url="http://127.0.0.1:8080") as client:
                client.get("/review")  # candidates' cards and diffs computed once, as a first visit does
                base_server, base_wall = timed(client, "/review")
                fill_queue(db, first, tmp / "copies", QUEUE - 1)
                queued = db.db.table("review_queue").count_where("status = 'waiting'")
                assert queued == QUEUE, queued
                cold_started = time.perf_counter()
                client.get("/review")
                cold = (time.perf_counter() - cold_started) * 1000
                page_server, page_wall = timed(client, "/review")
                assert client.get(f"/cover/entry/{first['id']}").status_code == 200  # thumbnail made and cached
                _, static_wall = timed(client, "/static/app.css", 50)
                _, cover_wall = timed(client, f"/cover/entry/{first['id']}", 50)
            db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"review page, 1 queued entry (baseline):   server {base_server:7.1f} ms   wall {base_wall:7.1f} ms")
    print(f"review page, {QUEUE} queued entries:        server {page_server:7.1f} ms   wall {page_wall:7.1f} ms")
    print(
        f"  first render after the queue grew: {cold:.1f} ms; ratio to baseline (server): {page_server / base_server:.1f}x"
    )
    print(f"static file (baseline):                   wall {static_wall:7.2f} ms")
    print(
        f"cover thumbnail from the cache:           wall {cover_wall:7.2f} ms   ratio {cover_wall / static_wall:.1f}x"
    )
    ok = page_server < 300 and cover_wall < 20
    print(json.dumps({"review_page_ms": round(page_server, 1), "cached_cover_ms": round(cover_wall, 2), "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_bench())
