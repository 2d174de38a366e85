"""One family of exceptions; the CLI turns each into a one-line message."""

from __future__ import annotations

from pathlib import Path


class BdnexError(Exception):
    """Base of every error bdnex-core reports to the user.

    ``str(error)`` is a single line that names the file (when there is one)
    and the reason; the CLI prints it without a traceback unless ``--debug``.
    """

    exit_code = 1

    def __init__(self, message: str, *, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ConfigError(BdnexError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 2


class DatabaseError(BdnexError):
    """The database cannot be opened, is corrupt, or cannot be written."""

    exit_code = 3


class PluginError(BdnexError):
    """A plugin failed to load or misbehaved."""


class ArchiveError(BdnexError):
    """A comic archive cannot be read or written safely."""


class MetadataError(BdnexError):
    """A ComicInfo.xml (or other metadata) document is unusable."""


class CatalogueError(BdnexError):
    """The Bédéthèque catalogue (site, index or cache) could not answer."""


class BlockedError(CatalogueError):
    """The site refuses us (challenge or IP ban): every request stops for this run."""

    exit_code = 4


class ParseError(CatalogueError):
    """A page is not the page we expected (not an album, truncated, ...)."""
