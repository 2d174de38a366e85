"""The long-running side: ``watch`` (Komga's event stream) and ``serve`` (the webhook), one queue."""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import ConfigError
from bdnex_komga.client import KomgaClient
from bdnex_komga.events import SseReader
from bdnex_komga.settings import ENV_WEBHOOK_TOKEN, komga_settings
from bdnex_komga.watcher import KomgaWorker
from bdnex_komga.webhook import WebhookServer

if TYPE_CHECKING:
    from bdnex_core.api import BDneXDB, RunSummary, Settings

logger = logging.getLogger(__name__)


@dataclass
class Service:
    worker: KomgaWorker
    reader: SseReader | None
    webhook: WebhookServer | None

    def stop(self) -> None:
        self.worker.stop_event.set()


@contextmanager
def komga_service(
    settings: Settings,
    db: BDneXDB,
    *,
    events: bool = True,
    listen: tuple[str, int] | None = None,
    workers: int | None = None,
    on_summary: Callable[[RunSummary], None] | None = None,
    check: bool = True,
) -> Iterator[Service]:
    """Start the SSE reader and/or the webhook around a worker; the caller runs ``service.worker.run()``."""
    config = komga_settings(settings)
    client = KomgaClient(config)
    if check:
        client.check_admin()
    token = None
    if listen is not None:
        token = config.webhook_token
        if not token:
            raise ConfigError(
                f"the webhook needs a shared token: set komga.webhook_token (or {ENV_WEBHOOK_TOKEN}, "
                "or komga.webhook_token_file)"
            )
    with tempfile.TemporaryDirectory(prefix="bdnex-komga-") as work:
        worker = KomgaWorker(
            settings,
            db,
            config,
            client,
            workers=workers or config.workers or settings.pipeline.workers,
            download_dir=config.download_dir or Path(work),
            on_summary=on_summary,
        )
        reader = webhook = None
        try:
            if events:
                reader = SseReader(
                    KomgaClient(config),
                    worker.submit,
                    min_delay=config.reconnect_min_seconds,
                    max_delay=config.reconnect_max_seconds,
                    read_timeout=config.sse_read_timeout_seconds,
                ).start()
            if listen is not None:
                assert token is not None
                try:
                    webhook = WebhookServer(
                        listen,
                        token=token,
                        submit=worker.submit,
                        health=worker.snapshot,
                        max_body=config.webhook_max_body_bytes,
                    ).start()
                except OSError as exc:
                    raise ConfigError(f"cannot listen on {listen[0]}:{listen[1]} ({exc.strerror or exc})") from None
                logger.info("webhook listening on %s/hooks/komga", webhook.url)
            yield Service(worker, reader, webhook)
        finally:
            worker.stop_event.set()
            if reader is not None:
                reader.stop()
            if webhook is not None:
                webhook.stop()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (systemd stop) and SIGINT end the loop cleanly (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
