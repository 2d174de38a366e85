"""The heartbeat of a long-running command, and the check a container's HEALTHCHECK runs.

A service (``komga watch``/``serve``, ``kavita watch``) writes a small JSON file every
``service.heartbeat_seconds`` from a thread of its own: when, what it is doing (waiting, tagging,
refreshing the catalogue), whether Bédéthèque pauses it, and its counters. The file is named by
``BDNEX_HEALTH_FILE`` (the image sets ``/tmp/bdnex-health.json``, inside the container); without
the variable nothing is written. ``bdnex-core health`` reads it: healthy while it is fresh.
The thread beats as long as the process lives, so a batch that takes an hour does not look dead.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bdnex_core.errors import BdnexError

logger = logging.getLogger(__name__)

HEALTH_FILE_VARIABLE = "BDNEX_HEALTH_FILE"


def health_file() -> Path | None:
    value = os.environ.get(HEALTH_FILE_VARIABLE)
    return Path(value) if value else None


def write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    """A reader never sees half a file: written beside it, then renamed over it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(temporary, path)


class Heartbeat:
    """Writes ``path`` every ``every`` seconds from a daemon thread until :meth:`stop` (which removes it)."""

    def __init__(self, path: Path, command: str, every: float, status: Callable[[], Mapping[str, Any]]):
        self.path = path
        self.command = command
        self.every = every
        self.status = status
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="bdnex-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.beat()  # at once: a check right after the start finds the file
        self._thread.start()
        return self

    def beat(self) -> None:
        try:
            details = dict(self.status())
        except Exception as exc:  # the heartbeat says the service lives; a counter that fails does not stop it
            details = {"status_error": str(exc)}
        record = {
            "command": self.command,
            "pid": os.getpid(),
            "started": self.started,
            "at": time.time(),
            "every": self.every,
            **details,
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, record)
        except OSError as exc:
            logger.warning("cannot write the heartbeat %s: %s", self.path, exc.strerror or exc)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)


def check(path: Path, *, max_age: float | None = None, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line) for the heartbeat at ``path``. No file: no long-running command runs in this
    container (a one-shot command, or the web page, which is checked by its address): healthy.
    Stale (older than ``max_age``, default three beats and at least 60 s): unhealthy."""
    try:
        record = json.loads(path.read_text("utf-8"))
        at, every = float(record["at"]), float(record.get("every") or 10)
    except FileNotFoundError:
        return True, f"no heartbeat at {path}: no long-running command here"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"heartbeat {path} unreadable ({exc})"
    age = (time.time() if now is None else now) - at
    limit = max_age if max_age is not None else max(3 * every, 60.0)
    what = f"{record.get('command', 'service')} (pid {record.get('pid')}): {record.get('activity', 'running')}"
    if record.get("site_paused"):
        what += ", Bédéthèque paused"
    if age > limit:
        return False, f"{what}; last heartbeat {age:.0f} s ago (more than {limit:.0f} s)"
    return True, f"{what}; last heartbeat {age:.0f} s ago"


#: the web page's access token, kept across restarts (bdnex-core web, and health --url that asks the page)
TOKEN_VARIABLE = "BDNEX_WEB_TOKEN"
TOKEN_FILE_VARIABLE = "BDNEX_WEB_TOKEN_FILE"


def token_from_environment() -> str | None:
    """The access token a service keeps across restarts: ``BDNEX_WEB_TOKEN``, or the first line of the
    file ``BDNEX_WEB_TOKEN_FILE`` names (a container secret). None: a new random one at each start."""
    if os.environ.get(TOKEN_VARIABLE):
        return os.environ[TOKEN_VARIABLE].strip()
    path = os.environ.get(TOKEN_FILE_VARIABLE)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.readline().strip()
    except OSError as exc:
        raise BdnexError(f"{path}: cannot read the web token ({exc.strerror or exc})") from None
    if not token:
        raise BdnexError(f"{path}: the web token file is empty")
    return token
