"""The adapter's errors (kept apart from the client so that every module can raise them)."""

from __future__ import annotations

from typing import Any

from bdnex_core.errors import BdnexError


class KomgaError(BdnexError):
    """Komga could not be reached, refused us, or answered something unusable."""


class KomgaHTTPError(KomgaError):
    def __init__(self, message: str, status: int, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class InvalidKomgaId(KomgaError):
    """A value that is not a Komga id where one was expected (an event, a webhook body, an answer)."""
