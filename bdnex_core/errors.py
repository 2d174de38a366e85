"""One family of exceptions; the CLI turns each into a one-line message.

Callers tell errors apart by type and by their machine-readable fields, never by message text:
``status`` is the HTTP status behind a catalogue error (when there was one) and ``stops_run``
says that the condition is not about one file but about the site or the machine (a ban, a site
that stopped answering, the hourly cap): a batch must stop and be resumed later, not mark every
remaining file failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class BdnexError(Exception):
    """Base of every error bdnex-core reports to the user.

    ``str(error)`` is a single line that names the file (when there is one)
    and the reason; the CLI prints it without a traceback unless ``--debug``.
    """

    exit_code = 1
    #: the whole run must stop (and be resumed later) rather than fail file after file
    stops_run = False

    def __init__(self, message: str, *, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ConfigError(BdnexError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 2


class DatabaseError(BdnexError):
    """The database cannot be opened, is corrupt, or cannot be written.

    It is never about one file: a run that meets it stops (its session paused, resumable)."""

    exit_code = 3
    stops_run = True


class ArchiveError(BdnexError):
    """A comic archive cannot be read or written safely."""


class MetadataError(BdnexError):
    """A ComicInfo.xml (or other metadata) document is unusable."""


class CatalogueError(BdnexError):
    """The Bédéthèque catalogue (site, index or cache) could not answer.

    ``status`` is the HTTP status of the last answer, when there was one. ``stops_run`` may be
    set per error: the client's circuit breaker raises an :class:`Unreachable` or
    :class:`RateLimited` that stops the run once failures keep coming, while a single file's
    failure does not.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        status: int | None = None,
        stops_run: bool | None = None,
    ):
        super().__init__(message, path=path)
        self.status = status
        if stops_run is not None:
            self.stops_run = stops_run
        if self.stops_run:
            self.exit_code = SiteUnavailable.exit_code  # the site is not usable now, try again later


class NotFound(CatalogueError):
    """The site answered that this page does not exist (HTTP 404, or an id it does not know)."""


class Unreachable(CatalogueError):
    """No usable answer: refused connections, timeouts, or 5xx after the retries.

    ``timed_out`` tells a site that did not answer in time (or too slowly: the total deadline
    of a request) from one that refused the connection or answered 5xx (then ``status``).
    """

    def __init__(self, message: str, *, timed_out: bool = False, **fields: Any):
        super().__init__(message, **fields)
        self.timed_out = timed_out


class ResponseTooLarge(CatalogueError):
    """An answer larger than the client accepts for that kind of page (reading stopped at the cap)."""


class CacheError(BdnexError):
    """The catalogue's disk cache (``cache.dir``: raw pages, covers, cookies) cannot be written."""


class RateLimited(CatalogueError):
    """The site kept answering 429 (``retry_after``: the seconds it asked for, when it said)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        status: int | None = 429,
        stops_run: bool | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, path=path, status=status, stops_run=stops_run)
        self.retry_after = retry_after


class SiteUnavailable(CatalogueError):
    """The site is not usable now for any file: the run stops, its session is paused (files not
    done stay pending), and it is resumed later (exit code 4)."""

    exit_code = 4
    stops_run = True


class HourlyCapReached(SiteUnavailable):
    """Our own politeness cap (``catalogue.max_requests_per_hour``) is used up for now."""


class BlockedError(SiteUnavailable):
    """The site refuses us (challenge or IP ban): every request stops for this run."""


Blocked = BlockedError


class ParseError(CatalogueError):
    """A page is not the page we expected (not an album, truncated, ...)."""
