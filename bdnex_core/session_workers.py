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

    # per process: the files it recorded (kept), and the files it holds now (claims, released when recorded)
    for counted, rows in db.sessions.worker_counts(session_id):
        for pid, host, count, first, last in rows:
            entry = worker(pid, host)
            entry[counted] = count
            heard(entry, first, last)
    session = db.sessions.get(session_id) or {}
    here = socket.gethostname()
    for entry in workers.values():
        # the session row names its current owner: its pid, and its machine (none: this one, as before)
        owner = bool(session) and entry["pid"] == session["pid"] and entry["host"] == (session.get("host") or here)
        if owner:
            heard(entry, None, session["heartbeat"])
        heartbeat = from_db_time(entry["last_heartbeat"])
        if entry["host"] == here:
            alive = process_alive(entry["pid"])
        else:
            alive = heartbeat is not None and utcnow() - heartbeat <= STALE_HEARTBEAT
        entry["running"] = alive and (entry["in_flight"] > 0 or (owner and session["status"] == SessionStatus.RUNNING))
    return sorted(workers.values(), key=lambda entry: (entry["first_seen"] or "", entry["pid"]))
