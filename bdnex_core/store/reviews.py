"""The review queue: files whose match needs a person, with what was parsed and the candidates."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bdnex_core.errors import BdnexError
from bdnex_core.states import ReviewStatus
from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, to_json, utcnow

REVIEW_STATUSES = tuple(ReviewStatus)


def decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """A review_queue row with its JSON documents parsed."""
    return {
        **row,
        "parsed": json.loads(row["parsed"] or "{}"),
        "candidates": json.loads(row["candidates"] or "[]"),
        "item": json.loads(row["item"]) if row.get("item") else None,
    }


class ReviewStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def queue(
        self,
        file_path: str,
        item_key: str,
        session_id: int | None,
        parsed: Mapping[str, Any],
        candidates: Sequence[Mapping[str, Any]],
        item: Mapping[str, Any] | None = None,
    ) -> int:
        """Queue a file whose match needs a person; one waiting entry per item."""
        with self.backend.write() as backend:
            backend.execute("DELETE FROM review_queue WHERE item_key = ? AND status = 'waiting'", [item_key])
            return backend.insert(
                "review_queue",
                {
                    "file_path": file_path,
                    "item_key": item_key,
                    "session_id": session_id,
                    "parsed": to_json(dict(parsed)),
                    "candidates": to_json(list(candidates)),
                    "item": None if item is None else to_json(dict(item)),
                    "status": ReviewStatus.WAITING,
                    "created_at": to_db_time(utcnow()),
                },
            )

    def waiting(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The entries waiting for a person, oldest first."""
        return self.with_status("waiting", limit)

    def with_status(self, status: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Entries of one status, oldest first, their JSON parsed."""
        rows = self.backend.rows(
            "SELECT * FROM review_queue WHERE status = ? ORDER BY id" + (" LIMIT ?" if limit is not None else ""),
            [status, limit] if limit is not None else [status],
        )
        return [decoded(row) for row in rows]

    def get(self, review_id: int) -> dict[str, Any] | None:
        row = self.backend.row("SELECT * FROM review_queue WHERE id = ?", [review_id])
        return decoded(row) if row else None

    def for_path(self, file_path: str) -> list[dict[str, Any]]:
        return [
            decoded(row)
            for row in self.backend.rows("SELECT * FROM review_queue WHERE file_path = ? ORDER BY id", [file_path])
        ]

    def update(self, review_id: int, values: Mapping[str, Any]) -> None:
        with self.backend.write() as backend:
            backend.update("review_queue", {"id": review_id}, values)

    def delete(self, review_id: int) -> None:
        with self.backend.write() as backend:
            backend.execute("DELETE FROM review_queue WHERE id = ?", [review_id])

    def resolve(self, review_id: int, *, album_id: int | None, status: str = "resolved") -> None:
        if status not in ("resolved", "skipped"):
            raise BdnexError(f"unknown review status {status!r}")
        self.update(review_id, {"status": status, "chosen_album_id": album_id, "resolved_at": to_db_time(utcnow())})

    def pending_count(self) -> int:
        return int(self.backend.value("SELECT COUNT(*) FROM review_queue WHERE status = 'waiting'"))

    def waiting_for(self, item_key: str, *, other_than: int) -> bool:
        """Whether an entry other than ``other_than`` waits (waiting or skipped) for ``item_key``."""
        return bool(
            self.backend.value(
                "SELECT EXISTS (SELECT 1 FROM review_queue WHERE item_key = ? AND status IN ('waiting', 'skipped') "
                "AND id != ?)",
                [item_key, other_than],
            )
        )

    def drop_other_pending(self, item_key: str, keep_id: int) -> None:
        """Waiting entries of ``item_key`` but ``keep_id`` go (one waiting entry per item)."""
        with self.backend.write() as backend:
            backend.execute(
                "DELETE FROM review_queue WHERE item_key = ? AND status = 'waiting' AND id != ?", [item_key, keep_id]
            )

    def resolve_waiting(self, item_key: str, album_id: int) -> None:
        """A person chose ``album_id`` for ``item_key`` elsewhere (``tag --id``): its waiting entries close."""
        with self.backend.write() as backend:
            backend.execute(
                "UPDATE review_queue SET status = 'resolved', chosen_album_id = ?, resolved_at = ? "
                "WHERE item_key = ? AND status IN ('waiting', 'skipped')",
                [album_id, to_db_time(utcnow()), item_key],
            )
