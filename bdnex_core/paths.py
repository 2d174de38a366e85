"""Where bdnex-core keeps its files by default: the platform's conventions, or one folder.

``BDNEX_HOME`` names one folder for everything (``config.yaml``, ``bdnex.db``, ``cache/``,
``logs/``): what a container's volume wants (the image sets it to ``/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "bdnex"
HOME_VARIABLE = "BDNEX_HOME"


def home() -> Path | None:
    """The one folder named by ``BDNEX_HOME``, if set."""
    value = os.environ.get(HOME_VARIABLE)
    return expand(value) if value else None


def user_config_dir() -> Path:
    return home() or Path(platformdirs.user_config_dir(APP_NAME))


def user_data_dir() -> Path:
    return home() or Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    return user_config_dir() / "config.yaml"


def default_database_path() -> Path:
    return user_data_dir() / "bdnex.db"


def expand(path: str | os.PathLike[str]) -> Path:
    """Expand ``~`` and environment variables the way users expect in a config file."""
    return Path(os.path.expandvars(os.path.expanduser(str(path))))
