"""The workers of a session: the processes that claimed or recorded its files.

A session is run by one process at a time, but over its life by several: a run killed mid-way and
the one that resumed it, on this machine or another. Claims (``file_claims``) say who holds files
now and are released as results are recorded, so each session file also keeps the process that
recorded it (``worker_pid``, ``worker_host``). Together they tell, per process: files done, files
in flight, when it was last heard of, and whether it still runs.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from bdnex_core.db import STALE_HEARTBEAT, from_db_time, utcnow
from bdnex_core.liveness import process_alive
from bdnex_core.states import SessionStatus

if TYPE_CHECKING:
    from bdnex_core.db import BDneXDB

# per process: the files it recorded (kept), and the files it holds now (claims, released when recorded)
_COUNTS = (
    (
        "files_done",
        "SELECT worker_pid, worker_host, COUNT(*), MIN(updated_at), MAX(updated_at) FROM session_files "
        "WHERE session_id = ? AND worker_pid IS NOT NULL GROUP BY worker_pid, worker_host",
    ),
    (
        "in_flight",
        "SELECT pid, host, COUNT(*), MIN(claimed_at), MAX(heartbeat) FROM file_claims "
        "WHERE session_id = ? GROUP BY pid, host",
    ),
)


def session_workers(db: BDneXDB, session_id: int) -> list[dict[str, Any]]:
    """One entry per process (pid, host), first heard of first: ``files_done``, ``in_flight``,
    ``first_seen``, ``last_heartbeat`` (UTC, database format) and ``running`` (the process is
    alive and still on this session)."""
    workers: dict[tuple[int, str], dict[str, Any]] = {}

    def worker(pid: int, host: str) -> dict[str, Any]:
        return workers.setdefault(
            (pid, host),
            {"pid": pid, "host": host, "files_done": 0, "in_flight": 0, "first_seen": None, "last_heartbeat": None},
        )

    def heard(entry: dict[str, Any], first: str | None, last: str | None) -> None:
        entry["first_seen"] = min(filter(None, (entry["first_seen"], first)), default=None)
        entry["last_heartbeat"] = max(filter(None, (entry["last_heartbeat"], last)), default=None)

    for counted, sql in _COUNTS:
        for pid, host, count, first, last in db.db.execute(sql, [session_id]).fetchall():
            entry = worker(pid, host)
            entry[counted] = count
            heard(entry, first, last)
    session = db.db.execute(
        "SELECT pid, heartbeat, status FROM processing_sessions WHERE id = ?", [session_id]
    ).fetchone()
    here = socket.gethostname()
    for entry in workers.values():
        # the session row names its current owner by pid only: a process of this machine
        owner = session is not None and entry["pid"] == session[0] and entry["host"] == here
        if owner:
            heard(entry, None, session[1])
        heartbeat = from_db_time(entry["last_heartbeat"])
        if entry["host"] == here:
            alive = process_alive(entry["pid"])
        else:
            alive = heartbeat is not None and utcnow() - heartbeat <= STALE_HEARTBEAT
        entry["running"] = alive and (entry["in_flight"] > 0 or (owner and session[2] == SessionStatus.RUNNING))
    return sorted(workers.values(), key=lambda entry: (entry["first_seen"] or "", entry["pid"]))
