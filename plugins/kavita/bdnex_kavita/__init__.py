"""Kavita adapter for bdnex-core: tag the chapters of a Kavita server with Bédéthèque metadata."""

__version__ = "0.1.0"
