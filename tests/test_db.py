"""The database API against real SQLite files: the seed's examples and what the product adds."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from bdnex_core import hashing
from bdnex_core.db import BDneXDB, SessionManager, utcnow
from bdnex_core.errors import BdnexError


@pytest.fixture
def db(database_location):
    database = BDneXDB(database_location)
    yield database
    database.close()


def make_file(folder, name, content=b"comic bytes"):
    path = folder / name
    path.write_bytes(content)
    return path


# --- the seed's three examples, against the real API ---------------------------------------------


def test_database_creation(db):
    assert db.statistics.current()["total_files"] == 0


def test_record_processing(db, tmp_path):
    session_id = db.sessions.start("/test/dir")
    db.files.record_processing(
        make_file(tmp_path, "bd.cbz"), session_id, {"title": "Test", "score": 0.85, "status": "success"}
    )
    files = db.files.page()
    assert len(files) == 1
    assert files[0]["title"] == "Test"
    assert files[0]["confidence_score"] == 0.85
    assert files[0]["file_hash"] == hashing.sha256_file(tmp_path / "bd.cbz")


def test_cache_album(db):
    album = {
        "id": 12345,
        "title": "Tintin",
        "series": "Tintin",
        "volume": 1,
        "cover_url": "http://example.com/cover.jpg",
    }
    db.albums.put(album)
    cached = db.albums.get(12345)
    assert cached["title"] == "Tintin"


# --- what the product adds -----------------------------------------------------------------------


def test_reprocessing_updates_the_row_and_writes_one_history_row_per_changed_field(db, tmp_path):
    path = make_file(tmp_path, "Nains - T01.cbz")
    session_id = db.sessions.start(str(tmp_path))
    first = db.files.record_processing(
        path, session_id, {"title": "Redwin", "series": "Nains", "tome": "1", "editor": "Soleil"}
    )
    history_after_first = db.files.history(first)
    assert {row["field"] for row in history_after_first} == {"title", "series", "tome", "volume", "editor"}
    second = db.files.record_processing(
        path,
        session_id,
        {"title": "Redwin de la Forge", "series": "Nains", "tome": "1", "publisher": "Soleil Productions"},
        source="manual",
    )
    assert second == first
    assert len(db.files.page()) == 1
    changes = [row for row in db.files.history(first) if row["id"] > history_after_first[-1]["id"]]
    assert {(row["field"], row["old_value"], row["new_value"], row["source"]) for row in changes} == {
        ("title", "Redwin", "Redwin de la Forge", "manual"),
        ("editor", "Soleil", "Soleil Productions", "manual"),
    }


def test_unknown_status_and_source_are_refused(db, tmp_path):
    path = make_file(tmp_path, "a.cbz")
    with pytest.raises(BdnexError, match="status"):
        db.files.record_processing(path, None, {"status": "unknown"})
    with pytest.raises(BdnexError, match="source"):
        db.files.record_processing(path, None, {"status": "success"}, source="robot")


def test_album_cache_expires_after_its_ttl(tmp_path):
    from bdnex_core.config import from_mapping

    db = BDneXDB(tmp_path / "ttl.db", settings=from_mapping({"cache": {"album_ttl_days": 2}}))
    now = utcnow()
    db.albums.put({"album_id": 245127, "title": "Redwin de la Forge", "url": "https://x/245127"}, now=now)
    assert db.albums.get(245127, now=now + timedelta(days=1, hours=23))["title"] == "Redwin de la Forge"
    assert db.albums.get(245127, now=now + timedelta(days=2, seconds=1)) is None
    assert db.albums.purge_expired(now=now + timedelta(days=3)) == 1


def test_update_session_refuses_unknown_fields(db):
    session_id = db.sessions.start("/x")
    with pytest.raises(BdnexError, match="cannot update"):
        db.sessions.update(session_id, **{"status = 'completed' --": 1})
    with pytest.raises(BdnexError, match="status"):
        db.sessions.update(session_id, status="exploded")
    db.sessions.update(session_id, status="completed", json_log_path="/tmp/log.json")
    stats = db.sessions.stats(session_id)
    assert stats["status"] == "completed" and stats["session_end"] and stats["json_log_path"] == "/tmp/log.json"


def test_resume_knows_exactly_the_remaining_files(db, tmp_path):
    files = [make_file(tmp_path, f"T{n:02}.cbz", bytes([n])) for n in range(1, 7)]
    session_id = db.sessions.start(str(tmp_path), options={"workers": 2})
    assert db.sessions.add_files(session_id, files) == 6
    assert db.sessions.add_files(session_id, files[:2]) == 0  # registering twice adds nothing
    keys = [row["item_key"] for row in db.sessions.files(session_id)]
    db.sessions.mark_file(session_id, keys[0], "done", file_id=db.files.record_processing(files[0], session_id, {}))
    db.sessions.mark_file(session_id, keys[2], "failed", error="truncated zip")
    db.sessions.mark_file(session_id, keys[4], "waiting")
    # the process "dies": simulate a dead pid
    db.sessions.update(session_id, pid=2**22 + 12345)
    assert db.sessions.get(session_id)["interrupted"]
    assert [s["id"] for s in db.sessions.interrupted()] == [session_id]
    remaining = SessionManager(db).resume_session(session_id)
    assert [row["item_key"] for row in remaining] == [keys[1], keys[3], keys[5]]
    stats = db.sessions.stats(session_id)
    assert (stats["total_files"], stats["files_successful"], stats["files_failed"], stats["files_waiting"]) == (
        6,
        1,
        1,
        1,
    )
    assert stats["files_processed"] == 3 and stats["remaining"] == 3
    assert stats["failures"] == [{"file_path": str(files[2].resolve()), "error": "truncated zip"}]
    assert stats["status"] == "running" and not stats["interrupted"]


def test_resume_refuses_unknown_or_completed_sessions(db):
    with pytest.raises(BdnexError, match="no session"):
        SessionManager(db).resume_session(999)
    session_id = db.sessions.start("/x")
    db.sessions.update(session_id, status="completed")
    with pytest.raises(BdnexError, match="completed"):
        SessionManager(db).resume_session(session_id)


def test_get_processed_files_filters_and_pages(db, tmp_path):
    session_a, session_b = db.sessions.start("/a"), db.sessions.start("/b")
    for n in range(10):
        db.files.record_processing(
            make_file(tmp_path, f"f{n}.cbz", bytes([n])),
            session_a if n < 6 else session_b,
            {"series": "Nains" if n % 2 else "Thorgal", "status": "failed" if n == 3 else "success"},
        )
    assert len(db.files.page(series="Nains")) == 5
    assert [row["file_path"].endswith("f3.cbz") for row in db.files.page(status="failed")] == [True]
    assert len(db.files.page(session_id=session_b)) == 4
    page1 = db.files.page(limit=4)
    page2 = db.files.page(limit=4, offset=4)
    assert len(page1) == 4 and len(page2) == 4 and {r["id"] for r in page1}.isdisjoint({r["id"] for r in page2})


def test_unchanged_file_is_not_rehashed(db, tmp_path, monkeypatch):
    path = make_file(tmp_path, "a.cbz")
    db.files.record_processing(path, None, {"status": "success"})
    calls = []
    original = hashing.sha256_file
    monkeypatch.setattr("bdnex_core.store.files.sha256_file", lambda p: calls.append(p) or original(p))
    assert db.files.is_processed(path)
    assert calls == []
    os.utime(path, ns=(1, 1))  # touched, same content: hashed once, still processed
    assert db.files.is_processed(path)
    assert len(calls) == 1
    path.write_bytes(b"new content")
    assert not db.files.is_processed(path)


def test_moved_file_keeps_its_history(db, tmp_path):
    original = make_file(tmp_path, "Nains 1.cbz", b"the same album")
    file_id = db.files.record_processing(original, None, {"title": "Redwin de la Forge", "status": "success"})
    (tmp_path / "sorted").mkdir()
    moved = tmp_path / "sorted" / "Nains - T01 - Redwin de la Forge.cbz"
    original.rename(moved)
    lookup = db.files.lookup(moved)
    assert lookup.state == "moved" and lookup.row["id"] == file_id
    assert db.files.is_processed(moved)
    row = db.files.get(moved)
    assert row["id"] == file_id and row["title"] == "Redwin de la Forge"
    assert db.files.get(original) is None
    assert any(entry["field"] == "file_path" for entry in db.files.history(file_id))


def test_statistics_and_daily_snapshot(db, tmp_path):
    for n, (series, editor, pages) in enumerate(
        [("Nains", "Soleil", 56), ("Nains", "Soleil", 54), ("Thorgal", "Lombard", 48)]
    ):
        db.files.record_processing(
            make_file(tmp_path, f"{n}.cbz", bytes([n])),
            None,
            {"series": series, "editor": editor, "pages": pages, "processing_time_ms": 100},
        )
    db.files.record_processing(make_file(tmp_path, "bad.cbz", b"x"), None, {"status": "failed", "error": "truncated"})
    db.reviews.queue("/x.cbz", "/x.cbz", None, {"series": "X"}, [{"album_id": 1, "score": 0.6}])
    stats = db.statistics.current()
    assert (stats["total_files"], stats["total_series"], stats["total_editors"], stats["avg_pages"]) == (3, 2, 2, 52)
    assert stats["files_failed"] == 1 and stats["files_pending_review"] == 1
    db.statistics.snapshot()
    db.statistics.snapshot()
    rows = db.statistics.history()
    assert len(rows) == 1 and rows[0]["total_files"] == 3


def test_review_queue_keeps_one_pending_entry_per_item(db):
    first = db.reviews.queue("/a.cbz", "/a.cbz", None, {}, [{"album_id": 1}])
    second = db.reviews.queue("/a.cbz", "/a.cbz", None, {}, [{"album_id": 2}])
    pending = db.reviews.waiting()
    assert [entry["id"] for entry in pending] == [second] and pending[0]["candidates"] == [{"album_id": 2}]
    db.reviews.resolve(second, album_id=2)
    assert db.reviews.waiting() == [] and first != second


def test_plugin_state_round_trips_and_survives_reopening(db, database_location):
    assert db.plugin_state.get("komga", "checkpoint") is None
    assert db.plugin_state.get("komga", "checkpoint", {"seen": []}) == {"seen": []}
    db.plugin_state.set("komga", "checkpoint", {"created": "2026-11-29T04:00:00Z", "ids": ["0A1", "0A2"]})
    db.plugin_state.set("komga", "checkpoint", {"created": "2026-11-29T05:00:00Z", "ids": ["0A3"]})
    db.plugin_state.set("calibre", "checkpoint", 12)
    db.close()
    reopened = BDneXDB(database_location)
    assert reopened.plugin_state.get("komga", "checkpoint") == {"created": "2026-11-29T05:00:00Z", "ids": ["0A3"]}
    assert reopened.plugin_state.get("calibre", "checkpoint") == 12
    reopened.close()


def test_a_database_from_a_newer_schema_is_refused_in_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "newer.db"
    BDneXDB(path).db.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('bdnex_core', 'm999_future', 'x')"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--db", str(path), "stats"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "newer bdnex-core" in result.stderr and "m999_future" in result.stderr and str(path) in result.stderr


def test_a_file_claimed_by_a_live_run_is_refused_and_a_dead_runs_claim_taken_over(tmp_path):
    import subprocess
    import sys

    db = BDneXDB(tmp_path / "claims.db")
    first, second = db.sessions.start("/lib"), db.sessions.start("/lib")
    assert db.sessions.claim(first, "/lib/a.cbz") is None
    assert db.sessions.claim(second, "/lib/a.cbz")["session_id"] == first
    db.sessions.release_claims(first, ["/lib/a.cbz"])
    assert db.sessions.claim(second, "/lib/a.cbz") is None
    # a claim left by a process that has died is taken over at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    db.backend.execute("UPDATE file_claims SET pid = ? WHERE item_key = '/lib/a.cbz'", [int(dead.stdout)])
    assert db.sessions.claim(first, "/lib/a.cbz") is None


def test_cache_validity_is_compared_as_a_time_even_written_as_iso_with_a_t(tmp_path):
    from datetime import UTC, datetime

    db = BDneXDB(tmp_path / "cache.db")
    db.albums.put({"album_id": 7, "title": "T"}, now=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    # another writer stored the limit as ISO 8601 with a "T": expired at 10:00 the same day
    db.backend.execute("UPDATE bdgest_albums SET cache_valid_until = '2026-03-01T10:00:00' WHERE id = 7")
    assert db.albums.get(7, now=datetime(2026, 3, 1, 9, 0, tzinfo=UTC)) is not None
    assert db.albums.get(7, now=datetime(2026, 3, 1, 22, 0, tzinfo=UTC)) is None
    assert db.albums.purge_expired(now=datetime(2026, 3, 1, 22, 0, tzinfo=UTC)) == 1


def test_bdnexdb_without_arguments_follows_the_configuration_and_bdnex_db(tmp_path, monkeypatch):
    import json

    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"database": {"path": str(tmp_path / "from-config.db")}}))
    monkeypatch.setenv("BDNEX_CONFIG", str(config))
    monkeypatch.delenv("BDNEX_DB", raising=False)
    with BDneXDB() as db:
        assert db.path == tmp_path / "from-config.db"
    monkeypatch.setenv("BDNEX_DB", str(tmp_path / "from-env.db"))
    with BDneXDB() as db:
        assert db.path == tmp_path / "from-env.db"
