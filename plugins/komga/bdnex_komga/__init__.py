"""Komga adapter for bdnex-core: tag the books of a Komga server with Bédéthèque metadata."""

__version__ = "0.1.0"
