"""The ComicInfo backups and the review queue's own queries, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bdnex_core.app.review import ReviewService
from bdnex_core.db import BDneXDB

# bytes no text encoding would keep: a BLOB/BYTEA must give them back unchanged
ODD_BYTES = b"<ComicInfo>\x00\xff\xfe caf\xe9 \x80</ComicInfo>"


@pytest.fixture
def db(database_location):
    database = BDneXDB(database_location)
    yield database
    database.close()


def recorded(db, folder, name):
    path = folder / name
    path.write_bytes(name.encode())
    return path, db.files.record_processing(path, None, {"status": "success"})


def test_backups_keep_their_bytes_and_layout_and_undo_finds_the_right_ones(db, tmp_path):
    first, first_id = recorded(db, tmp_path, "a.cbz")
    second, second_id = recorded(db, tmp_path, "b.cbz")
    one = db.sessions.start(str(tmp_path))
    two = db.sessions.start(str(tmp_path))
    with db.write():
        a_before = db.backups.record(first, ODD_BYTES, file_id=first_id, session_id=one, layout=b"\x00layout\xff")
        a_again = db.backups.record(first, b"<ComicInfo/>", file_id=first_id, session_id=one)  # same session
        b_absent = db.backups.record(second, b"", file_id=second_id, session_id=one, reason="absent")
        unreadable = db.backups.record(second, b"\xff", file_id=second_id, session_id=two, reason="unreadable")
        a_later = db.backups.record(first, b"<ComicInfo>2</ComicInfo>", file_id=first_id, session_id=two)

    kept = db.backups.of_path(first)
    assert [backup.comicinfo for backup in kept] == [ODD_BYTES, b"<ComicInfo/>", b"<ComicInfo>2</ComicInfo>"]
    assert isinstance(kept[0].comicinfo, bytes)
    assert db.backups.before_session(first, one).comicinfo == ODD_BYTES
    assert db.backups.before_session(second, one) is None  # 'absent' and 'unreadable' replaced nothing

    firsts = db.backups.first_writes_of_session(one)
    assert [row["id"] for row in firsts] == [a_before, b_absent]
    assert firsts[0]["layout"] == b"\x00layout\xff" and firsts[1]["layout"] is None
    assert db.backups.last_write_of_file(second_id)["id"] == b_absent  # 'unreadable' is not a write of ours
    assert db.backups.later_write(first_id, a_before) == {"id": a_later, "session_id": two}
    assert db.backups.last_write_after(b_absent) == a_later and db.backups.last_write_after(a_later) is None
    assert db.backups.last_id() == a_later
    assert [row["bytes"] for row in db.backups.summaries_of_path(second)] == [1, 0]
    assert db.backups.one_of_path(unreadable, first) is None  # another file's backup
    assert db.backups.one_of_path(unreadable, second)["comicinfo"] == b"\xff"

    db.backups.mark_undone(a_later)
    assert db.backups.not_undone(a_later) is None
    assert db.backups.later_write(first_id, a_before) == {"id": a_again, "session_id": one}
    db.backups.mark_undone(a_before)
    assert [row["id"] for row in db.backups.first_writes_of_session(one)] == [b_absent]


def test_review_queue_follows_drops_and_closes_entries(db, tmp_path):
    first, _ = recorded(db, tmp_path, "a.cbz")
    copy = tmp_path / "copy.cbz"
    copy.write_bytes(first.read_bytes())
    db.files.record_processing(copy, None, {"status": "success"})
    assert [row["file_path"] for row in db.files.with_hash(db.files.get(first)["file_hash"])] == [
        str(first),
        str(copy),
    ]
    old = db.reviews.queue(str(first), str(first), None, {"title": "x"}, [{"album_id": 1, "score": 0.5}])
    db.reviews.resolve(old, album_id=None, status="skipped")
    new = db.reviews.queue(str(first), str(first), None, {}, [])
    assert db.reviews.waiting_for(str(first), other_than=new)  # the skipped one
    assert not db.reviews.waiting_for(str(copy), other_than=new)

    review = ReviewService(None, db)  # listing and closing need no settings
    [entry] = review.entries("skipped")
    assert entry.id == old and entry.parsed == {"title": "x"} and entry.candidates[0]["album_id"] == 1
    db.reviews.drop_other_pending(str(first), old)
    assert db.reviews.waiting() == []
    db.reviews.resolve_waiting(str(first), 42)
    row = db.reviews.get(old)
    assert (row["status"], row["chosen_album_id"]) == ("resolved", 42) and row["resolved_at"]
