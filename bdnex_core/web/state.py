"""What one running web server holds: settings, its two database connections, the review service.

Pages and actions share one connection (``pages``); cover images use another (``covers``), so a
cover fetched from Bédéthèque — polite, hence slow — never holds up a page. SQLite in WAL mode
lets both read while one writes. Each connection is used by one thread at a time (its lock):
Starlette runs the blocking work in a thread pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.concurrency import run_in_threadpool

from bdnex_core.app.review import ReviewService
from bdnex_core.bedetheque.client import BedethequeClient
from bdnex_core.db import BDneXDB
from bdnex_core.web.security import Guard
from bdnex_core.web.thumbs import Thumbnails

if TYPE_CHECKING:
    from bdnex_core.app.review import ReviewService
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB

T = TypeVar("T")


class Locked:
    """A database connection and the lock that keeps it to one thread at a time."""

    def __init__(self, db: BDneXDB):
        self.db = db
        self.lock = threading.Lock()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self.lock:
                return work(*args)

        return await run_in_threadpool(locked)


@dataclass
class WebState:
    settings: Settings
    guard: Guard
    pages: Locked
    covers: Locked
    service: ReviewService
    thumbs: Thumbnails
    cover_client: Any = None
    flash: list[str] = field(default_factory=list)  # one-time notices shown on the next page
    errors: list[str] = field(default_factory=list)  # one-time refusals and failures, in the error colour
    previews: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # (entry, album, file state) -> card

    @classmethod
    def open(cls, settings: Settings, guard: Guard, *, client: Any = None) -> WebState:

        pages_db = BDneXDB(settings=settings)
        covers_db = BDneXDB(settings=settings)
        return cls(
            settings=settings,
            guard=guard,
            pages=Locked(pages_db),
            covers=Locked(covers_db),
            service=ReviewService(settings, pages_db, client=client),
            thumbs=Thumbnails(settings.cache.dir),
            cover_client=client or BedethequeClient(settings),
        )

    def close(self) -> None:
        self.pages.db.close()
        self.covers.db.close()

    def take_flash(self) -> list[str]:
        notices, self.flash = self.flash, []
        return notices

    def take_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors
