"""Import of earlier BDneX batch logs: sessions and files, idempotent, broken logs skipped."""

from __future__ import annotations

import json

from bdnex_core.app.legacy_logs import import_logs
from bdnex_core.cli import main
from bdnex_core.db import BDneXDB


def write_log(folder, name, results, **extra):
    path = folder / name
    path.write_text(
        json.dumps(
            {"batch_start": "2024-03-01T10:00:00", "batch_end": "2024-03-01T10:05:00", "results": results, **extra}
        )
    )
    return path


RESULTS = [
    {
        "file_path": "/bd/Nains/Nains - T01.cbz",
        "success": True,
        "score": 87,
        "title": "Redwin de la Forge",
        "metadata": {"Series": "Nains", "Number": "1", "Publisher": "Soleil Productions", "Year": 2015},
        "timestamp": "2024-03-01T10:01:00",
    },
    {"filename": "/bd/Thorgal/Thorgal 2.cbz", "success": False, "score": 0.31, "error": "no match above threshold"},
    {"filename": "/bd/Blake/Blake 5.cbz", "success": True, "score": 0.95, "title": "Le Piège diabolique"},
]


def count(db, table):
    return db.backend.value(f"SELECT COUNT(*) FROM {table}")


def test_import_creates_sessions_and_files_and_is_idempotent(tmp_path, database_location):
    db = BDneXDB(database_location)
    log = write_log(tmp_path, "batch_20240301_100000.json", RESULTS)
    report = import_logs(db, [log])
    assert [(count) for _, _, count in report.imported] == [3]
    session_id = report.imported[0][1]
    stats = db.sessions.stats(session_id)
    assert stats["status"] == "completed" and stats["total_files"] == 3
    assert stats["files_successful"] == 2 and stats["files_failed"] == 1
    assert stats["session_start"] == "2024-03-01 10:00:00" or stats["session_start"].startswith("2024-03-01")
    rows = {row["file_path"]: row for row in db.files.page()}
    nains = rows["/bd/Nains/Nains - T01.cbz"]
    assert nains["series"] == "Nains" and nains["editor"] == "Soleil Productions" and nains["confidence_score"] == 0.87
    assert rows["/bd/Thorgal/Thorgal 2.cbz"]["status"] == "failed"
    assert rows["/bd/Thorgal/Thorgal 2.cbz"]["error_msg"] == "no match above threshold"
    assert rows["/bd/Blake/Blake 5.cbz"]["confidence_score"] == 0.95
    counts = (count(db, "processing_sessions"), count(db, "processed_files"), count(db, "metadata_history"))
    # twice: from the same path, and a copy elsewhere
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / log.name).write_bytes(log.read_bytes())
    again = import_logs(db, [log, copy])
    assert again.imported == [] and len(again.already) == 2
    assert (count(db, "processing_sessions"), count(db, "processed_files"), count(db, "metadata_history")) == counts


def test_broken_log_is_reported_and_others_go_on(tmp_path, database_location):
    db = BDneXDB(database_location)
    (tmp_path / "batch_1.json").write_text("{not json")
    write_log(tmp_path, "batch_2.json", [{"success": True}])
    (tmp_path / "batch_3.json").write_text(json.dumps({"results": "nope"}))
    write_log(tmp_path, "batch_4.json", RESULTS[:1])
    report = import_logs(db, [tmp_path])
    assert [log.rsplit("/", 1)[1] for log, _, _ in report.imported] == ["batch_4.json"]
    reasons = dict(report.broken)
    assert "not valid JSON" in reasons[str(tmp_path / "batch_1.json")]
    assert "no file_path" in reasons[str(tmp_path / "batch_2.json")]
    assert "results" in reasons[str(tmp_path / "batch_3.json")]
    assert count(db, "processing_sessions") == 1  # a broken log leaves nothing behind


def test_cli_import_logs_json(tmp_path, capsys, database_location):
    log = write_log(tmp_path, "batch_x.json", RESULTS)
    assert main(["--db", database_location, "db", "import-logs", str(log), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["imported"][0]["files"] == 3
    assert main(["--db", database_location, "db", "import-logs", str(log), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["already_imported"] == [str(log)]


def legacy_log_in_home(tmp_path, monkeypatch):
    """A log where earlier BDneX versions left them, in a home of the test's own."""
    home = tmp_path / "home"
    legacy = home / ".local" / "share" / "bdnex" / "batch_results"
    legacy.mkdir(parents=True)
    write_log(legacy, "batch_old.json", RESULTS)
    monkeypatch.setenv("HOME", str(home))


def test_first_start_imports_legacy_places_once(tmp_path, capsys, monkeypatch, database_location):
    legacy_log_in_home(tmp_path, monkeypatch)
    db_path = database_location
    assert main(["--db", str(db_path), "stats", "--json"]) == 0
    captured = capsys.readouterr()
    assert "Imported 1 earlier BDneX batch log(s) (3 files)" in captured.err
    assert json.loads(captured.out)["total_sessions"] == 1
    assert main(["--db", str(db_path), "stats", "--json"]) == 0
    captured = capsys.readouterr()
    assert "Imported" not in captured.err and json.loads(captured.out)["total_sessions"] == 1


def test_logs_in_the_guides_format_keep_their_statuses(tmp_path, database_location):
    db = BDneXDB(database_location)
    log = write_log(
        tmp_path,
        "batch_guide.json",
        [
            {"file_path": "/bd/a.cbz", "status": "success", "score": 91, "title": "A"},
            {"file_path": "/bd/b.cbz", "status": "manual", "score": 55, "title": "B"},
            {"file_path": "/bd/c.cbz", "status": "skipped"},
            {"file_path": "/bd/d.cbz", "status": "failed", "error": "no match"},
            {"file_path": "/bd/e.cbz", "success": True},
        ],
    )
    report = import_logs(db, [log])
    session_id = report.imported[0][1]
    statuses = {row["file_path"]: row["status"] for row in db.files.page()}
    assert statuses == {
        "/bd/a.cbz": "success",
        "/bd/b.cbz": "manual",
        "/bd/c.cbz": "skipped",
        "/bd/d.cbz": "failed",
        "/bd/e.cbz": "success",
    }
    stats = db.sessions.stats(session_id)
    assert stats["files_successful"] == 3 and stats["files_failed"] == 1 and stats["files_skipped"] == 1


def test_an_existing_database_with_no_processed_file_imports_the_legacy_logs(
    tmp_path, capsys, monkeypatch, database_location
):
    legacy_log_in_home(tmp_path, monkeypatch)
    db_path = database_location
    BDneXDB(db_path).close()  # created before the logs were there (e.g. by `catalogue update`)
    assert main(["--db", str(db_path), "stats", "--json"]) == 0
    captured = capsys.readouterr()
    assert "Imported 1 earlier BDneX batch log(s) (3 files)" in captured.err
    assert json.loads(captured.out)["total_files"] == 2
