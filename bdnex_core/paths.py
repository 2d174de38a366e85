"""Where bdnex-core keeps its files by default (platform conventions)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "bdnex"


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    return user_config_dir() / "config.yaml"


def default_database_path() -> Path:
    return user_data_dir() / "bdnex.db"


def expand(path: str | os.PathLike[str]) -> Path:
    """Expand ``~`` and environment variables the way users expect in a config file."""
    return Path(os.path.expandvars(os.path.expanduser(str(path))))
