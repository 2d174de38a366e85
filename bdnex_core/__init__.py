"""bdnex-core: tag French-language comics with Bédéthèque metadata."""

from bdnex_core.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
