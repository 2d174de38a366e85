"""``kavita watch``: the hub reader and the worker, started and stopped together."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bdnex_kavita.client import KavitaClient
from bdnex_kavita.hub import HubReader
from bdnex_kavita.settings import kavita_settings
from bdnex_kavita.watcher import KavitaWorker

if TYPE_CHECKING:
    from bdnex_core.api import BDneXDB, RunSummary, Settings


@dataclass
class Service:
    worker: KavitaWorker
    reader: HubReader

    def stop(self) -> None:
        self.worker.stop_event.set()


@contextmanager
def kavita_service(
    settings: Settings,
    db: BDneXDB,
    *,
    workers: int | None = None,
    on_summary: Callable[[RunSummary], None] | None = None,
) -> Iterator[Service]:
    """Check the server, start the hub reader around a worker; the caller runs ``service.worker.run()``."""
    config = kavita_settings(settings)
    client = KavitaClient(config)
    client.check_admin()
    worker = KavitaWorker(
        settings,
        db,
        config,
        client,
        workers=workers or config.workers or settings.pipeline.workers,
        on_summary=on_summary,
    )
    reader = HubReader(
        KavitaClient(config),  # its own session: it runs in its own thread
        worker.submit,
        min_delay=config.reconnect_min_seconds,
        max_delay=config.reconnect_max_seconds,
        timeout=config.hub_timeout_seconds,
    ).start()
    try:
        yield Service(worker, reader)
    finally:
        worker.stop_event.set()
        reader.stop()
