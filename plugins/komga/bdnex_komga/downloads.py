"""The folders this process downloaded Komga books into (``tag --source komga`` without
``komga.download_dir``), removed when the session ends: kept apart from the source so that the
``session_finished`` hook imports no HTTP client."""

from __future__ import annotations

import shutil
from pathlib import Path

temporary_download_dirs: list[Path] = []


def remove_temporary_downloads() -> None:
    """Called when a session ends: the copies are not needed any more (a resume downloads again)."""
    while temporary_download_dirs:
        shutil.rmtree(temporary_download_dirs.pop(), ignore_errors=True)
