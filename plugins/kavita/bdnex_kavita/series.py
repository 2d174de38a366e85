"""Series-level metadata for Kavita: one record per series, chosen once, written only when it changes.

A Kavita series holds what is true of the whole series: its summary, genres, publication
status, number of albums and publisher. Those come from a :class:`SeriesRecord`, never from
one album (an album's summary is not the series' summary). Today the core gives us albums
only, so :func:`record_from_album` fills what an album does say of its series (genres,
publisher, album count) and leaves the summary and the status unknown; when the core
gains series records, they replace it and nothing else here changes.

``POST /api/Series/metadata`` is unforgiving (Kavita 0.8.3, ``SeriesService.UpdateSeriesMetadata``):
every field is taken from the body (an absent summary, genre list or link becomes empty) and
every ``…Locked`` flag is assigned from the body after the changed fields were locked. So the
body is the current metadata as Kavita returned it, with our fields changed and each lock
echoed (``true`` for ours only when ``kavita.lock_written``); fields the user locked are left.
The album count cannot be written there (Kavita takes ``totalCount`` from ComicInfo's ``Count``
only): it reaches Kavita through the file.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bdnex_kavita.mapping import merged_names, names, normalized, same_links, same_names, split_values, web_links

# Kavita's PublicationStatus
STATUSES = {"ongoing": 0, "hiatus": 1, "completed": 2, "cancelled": 3, "ended": 4}
PUBLISHER_ROLE = 10


@dataclass(frozen=True)
class SeriesRecord:
    """What bdnex knows of a series as a whole; ``None`` or empty means "unknown, leave Kavita's"."""

    summary: str | None = None
    genres: tuple[str, ...] = ()
    status: str | None = None  # a key of STATUSES
    count: int | None = None
    publisher: str | None = None
    url: str | None = None  # the series' own page, never an album's


def record_from_album(fields: Mapping[str, str]) -> SeriesRecord:
    """What an album's ComicInfo says of its series: genres, publisher, album count (no summary, no status)."""
    count = fields.get("Count") or ""
    return SeriesRecord(
        genres=tuple(split_values(fields.get("Genre"))),
        count=int(count) if count.isdigit() and int(count) > 0 else None,
        publisher=(fields.get("Publisher") or "").strip() or None,
    )


class SeriesChoices:
    """The record chosen for each series during a run: the first one offered wins, later ones are ignored
    (albums of one series run in parallel; their series must not flip between two publishers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chosen: dict[int, SeriesRecord] = {}
        self._series_locks: dict[int, threading.Lock] = {}

    def choose(self, series_id: int, offered: SeriesRecord) -> SeriesRecord:
        with self._lock:
            return self._chosen.setdefault(series_id, offered)

    def lock(self, series_id: int) -> threading.Lock:
        """Reading then writing one series' metadata is done by one worker at a time."""
        with self._lock:
            return self._series_locks.setdefault(series_id, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._chosen.clear()
            self._series_locks.clear()


@dataclass
class SeriesPlan:
    """The body to send (None: nothing changes), the fields that change and those locked in Kavita."""

    body: dict[str, Any] | None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    kept: dict[str, Any] = field(default_factory=dict)


def plan_series(current: Mapping[str, Any], record: SeriesRecord, *, force: bool, lock: bool) -> SeriesPlan:
    """Compare the series' current metadata (``GET /api/Series/metadata``) with ``record``."""
    body = copy.deepcopy(dict(current))
    plan = SeriesPlan(None)

    def change(name: str, lock_name: str, old: Any, new: Any) -> bool:
        if current.get(lock_name) and not force:
            plan.kept[name] = old
            return False
        plan.changes[name] = (old, new)
        if lock:
            body[lock_name] = True
        return True

    summary_differs = record.summary and (current.get("summary") or "").strip() != record.summary.strip()
    if summary_differs and change("summary", "summaryLocked", current.get("summary"), record.summary):
        body["summary"] = record.summary
    if record.genres:
        now = names(current.get("genres"), "title")
        wanted = merged_names(now, list(record.genres))
        if not same_names(now, wanted) and change("genres", "genresLocked", now, wanted):
            body["genres"] = [{"title": title} for title in wanted]
    if record.status in STATUSES and current.get("publicationStatus") != STATUSES[record.status]:
        new = STATUSES[record.status]
        if change("publicationStatus", "publicationStatusLocked", current.get("publicationStatus"), new):
            body["publicationStatus"] = new
    if record.publisher:
        now = names(current.get("publishers"))
        if normalized(record.publisher) not in {normalized(name) for name in now}:
            wanted = merged_names(now, [record.publisher])
            if change("publishers", "publisherLocked", now, wanted):
                body["publishers"] = [{"name": name, "role": PUBLISHER_ROLE} for name in wanted]
    if record.url:
        wanted_links = web_links(current.get("webLinks"), record.url)
        if not same_links(current.get("webLinks"), wanted_links):
            plan.changes["webLinks"] = (current.get("webLinks"), wanted_links)  # Kavita has no lock for links
            body["webLinks"] = wanted_links
    if plan.changes:
        plan.body = body
    return plan
