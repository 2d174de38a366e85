"""The adapter's errors (kept apart from the client so that every module can raise them).

A server that cannot be reached or that refuses the API key is a setup problem, not a
problem of one book: those errors exit with 2, as a configuration error does.
"""

from __future__ import annotations

from typing import Any

from bdnex_core.errors import BdnexError


class KavitaError(BdnexError):
    """Kavita answered something unusable, or refused one request."""


class KavitaHTTPError(KavitaError):
    def __init__(self, message: str, status: int, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class KavitaUnreachable(KavitaError):
    """No answer from the server (refused, timed out, TLS failure)."""

    exit_code = 2


class KavitaAuthError(KavitaHTTPError):
    """The API key was refused, or its user lacks the admin role that writes need."""

    exit_code = 2
