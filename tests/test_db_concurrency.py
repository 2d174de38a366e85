"""Two processes writing to one database at once: no "database is locked", no lost row."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bdnex_core.db import BDneXDB

WRITER = textwrap.dedent(
    """
    import sys
    from bdnex_core.db import BDneXDB
    db = BDneXDB(sys.argv[1])
    name = sys.argv[2]
    session_id = db.start_session(f"/{name}")
    db.add_session_files(session_id, [(f"/{name}/{n}.cbz", f"/{name}/{n}.cbz") for n in range(500)])
    for n in range(500):
        path = f"/{name}/{n}.cbz"
        file_id = db.record_processing(path, session_id, {"title": f"{name} {n}", "file_hash": f"{name}{n}"})
        db.mark_session_file(session_id, path, "done", file_id=file_id)
    print(session_id)
    """
)


def test_two_processes_write_500_records_each(tmp_path):
    path = tmp_path / "shared.db"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name in ("alpha", "beta")
    ]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert "locked" not in err
    db = BDneXDB(path)
    assert db.db.table("processed_files").count == 1000
    for out, _ in outputs:
        stats = db.get_session_stats(int(out.strip()))
        assert stats["total_files"] == 500 and stats["files_successful"] == 500
    assert db.db.table("metadata_history").count == 1000
