"""Notifications with Apprise: how a run went, and when Bédéthèque stops and starts answering again.

One module sends them all. The pipeline calls :func:`run_finished` when a session ends (a ``tag``
run, or one batch of a Komga or Kavita watcher); the Bédéthèque client's ``get`` calls
:func:`site_paused` when a request ends in an error that stops the run (a ban, a challenge, the site
down, the hourly cap) and :func:`site_answered` on each usable answer, which says "resumed" once after
a pause. The pause is the process's: a new process starts unpaused.

Messages go to the Apprise URLs of ``notifications.urls`` (plus ``urls_file`` and
``BDNEX_NOTIFY_URLS``), with titles and bodies from ``notifications.templates`` (``{field}``
placeholders only). The section is checked when the configuration is loaded
(:func:`config_problems`, in :mod:`notification_checks`): a URL Apprise cannot use is one line naming it, at start. A message that
cannot be sent is logged and never fails a run. Apprise is the optional extra ``bdnex-core[notify]``
(installed in the container image).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bdnex_core.config import config_schema
from bdnex_core.service import notification_checks
from bdnex_core.service.notification_checks import (
    PAUSED,
    RESUMED,
    RUN,
    SECTION,
    URLS_VARIABLE,
    all_urls,
    apprise_module,
    quietly_instantiate,
    shown_url,
)
from bdnex_core.states import OutcomeState

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.pipeline.runner import RunSummary

logger = logging.getLogger(__name__)

MAX_FAILURES_LISTED = 10


@dataclass(frozen=True)
class NotificationSettings:
    urls: tuple[str, ...]
    review_url: str | None
    events: frozenset[str]
    empty_runs: bool
    templates: Mapping[str, tuple[str, str]]  # event -> (title, body)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> NotificationSettings:
        return cls(
            urls=tuple(all_urls(section)),
            review_url=section.get("review_url"),
            events=frozenset(section.get("events") or ()),
            empty_runs=bool(section.get("empty_runs")),
            templates=templates(section),
        )


def _schema_default(key: str) -> Any:
    return config_schema()["properties"][SECTION]["properties"][key]["default"]


def templates(section: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Each message's (title, body): the configuration's, else the schema's default, part by part."""
    return notification_checks.templates(section, _schema_default("templates"))


# ---------------------------------------------------------------------- sending


def send(settings: Settings, event: str, values: Mapping[str, Any]) -> bool:
    """Render and send one message to every URL; True when at least one took it. Never raises."""
    try:
        config = NotificationSettings.from_section(settings.section(SECTION))
    except OSError as exc:  # the URLs file went away since the start
        logger.warning("notification (%s) not sent: cannot read notifications.urls_file (%s)", event, exc)
        return False
    if not config.urls or event not in config.events:
        return False

    fields = {"host": socket.gethostname(), **values}
    title_template, body_template = config.templates[event]
    try:
        title, body = title_template.format_map(fields), body_template.format_map(fields)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:  # checked at start: a bug if it happens
        logger.warning("notification (%s) not sent: its template does not render (%s)", event, exc)
        return False
    return _deliver(config.urls, event, title, body)


def _deliver(urls: Sequence[str], event: str, title: str, body: str) -> bool:
    try:
        apprise = apprise_module()
    except ImportError:
        logger.warning("notification (%s) not sent: Apprise is not installed", event)
        return False
    delivered = False
    for url in urls:
        service = quietly_instantiate(apprise, url)
        if service is None:
            logger.warning("notification (%s) not sent to %s: not a URL Apprise can use", event, shown_url(url))
            continue
        try:
            sent = bool(service.notify(body=body, title=title))
        except Exception as exc:  # a notification never stops the work it reports on
            logger.warning("notification (%s) not sent to %s: %s", event, service.url(privacy=True), exc)
            continue
        if sent:
            delivered = True
        else:
            logger.warning(
                "notification (%s) not sent to %s (Apprise's log says why)", event, service.url(privacy=True)
            )
    return delivered


# ---------------------------------------------------------------------- the events


def run_values(summary: RunSummary, review_url: str | None) -> dict[str, Any]:

    counts = summary.to_dict()["counts"]
    failures = [
        f"{outcome.item.path or outcome.item.name}: {outcome.reason}"
        for outcome in summary.outcomes
        if outcome.state == OutcomeState.FAILED
    ]
    listed = failures[:MAX_FAILURES_LISTED]
    if len(failures) > len(listed):
        listed.append(f"… and {len(failures) - len(listed)} more (bdnex-core sessions info {summary.session_id})")
    link = f"{review_url.rstrip('/')}/review" if review_url else ""
    return {
        "session": summary.session_id,
        "status": summary.status,
        **counts,
        "queued": counts["waiting"],
        "message": summary.message,
        "review_url": link,
        "review": f"\nWaiting for review: {link}" if link and counts["waiting"] else "",
        "failures": "\nFailed:\n" + "\n".join(f"- {line}" for line in listed) if listed else "",
    }


def run_finished(settings: Settings, summary: RunSummary, *, dry_run: bool = False) -> None:
    """A session ended: one message with its counts, the review link, the failures and their reasons."""
    section = settings.section(SECTION)
    if dry_run or not (section.get("urls") or section.get("urls_file") or os.environ.get(URLS_VARIABLE)):
        return
    if not summary.outcomes and not section.get("empty_runs"):
        return
    try:
        values = run_values(summary, section.get("review_url"))
    except Exception:  # a bug here must not fail the run that ended
        logger.exception("notification (run) not sent")
        return
    send(settings, RUN, values)


class SitePause:
    """Whether this process is paused by Bédéthèque, so that each pause and resume is said once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None
        self.since = 0.0

    def pause(self, reason: str) -> bool:
        """True when this is a new pause (a message to send)."""
        with self._lock:
            if self.reason is not None:
                return False
            self.reason, self.since = reason, time.monotonic()
            return True

    def resume(self) -> tuple[str, float] | None:
        """(reason, seconds paused) when a pause ends now, else None."""
        if self.reason is None:  # the usual case, read without the lock: one answer among thousands
            return None
        with self._lock:
            if self.reason is None:
                return None
            ended = (self.reason, time.monotonic() - self.since)
            self.reason = None
            return ended

    @property
    def paused(self) -> bool:
        return self.reason is not None


site_pause = SitePause()


def site_paused(settings: Settings, reason: str) -> None:
    """The client stopped every request to the site (a ban, a challenge, the site down)."""
    if site_pause.pause(reason):
        send(settings, PAUSED, {"reason": reason})


def site_answered(settings: Settings) -> None:
    """The site answered a request: after a pause, say once that it works again."""
    ended = site_pause.resume()
    if ended is not None:
        reason, seconds = ended
        send(settings, RESUMED, {"reason": reason, "paused_for": _duration(seconds)})


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
