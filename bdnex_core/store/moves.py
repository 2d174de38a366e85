"""The journal of file moves in progress (``rename``/``organize``): written before a file gets its
new name, removed once the old name is gone, so an interrupted run's moves can be completed."""

from __future__ import annotations

from pathlib import Path

from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, utcnow


class MoveStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def begin_many(self, moves: list[tuple[Path, Path]]) -> list[int]:
        started = to_db_time(utcnow())
        with self.backend.write() as backend:
            return [
                backend.insert("file_moves", {"source": str(source), "target": str(target), "started_at": started})
                for source, target in moves
            ]

    def retarget(self, move_id: int, target: Path) -> None:
        with self.backend.write() as backend:
            backend.execute("UPDATE file_moves SET target = ? WHERE id = ?", [str(target), move_id])

    def end_many(self, move_ids: list[int]) -> None:
        with self.backend.write() as backend:
            backend.executemany("DELETE FROM file_moves WHERE id = ?", [(move_id,) for move_id in move_ids])

    def in_progress(self) -> list[tuple[int, str, str]]:
        """(id, source, target) of every move begun and not ended, oldest first."""
        return [
            (int(a), str(b), str(c))
            for a, b, c in self.backend.tuples("SELECT id, source, target FROM file_moves ORDER BY id")
        ]
