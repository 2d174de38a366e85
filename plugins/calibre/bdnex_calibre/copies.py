"""The folders this process copied calibre books into (``tag --source calibre``), removed when the
session ends: kept apart from the source so that the ``session_finished`` hook imports nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

temporary_copy_dirs: list[Path] = []


def remove_temporary_copies() -> None:
    """Called when a session ends: the working copies are not needed any more (a resume copies again)."""
    while temporary_copy_dirs:
        shutil.rmtree(temporary_copy_dirs.pop(), ignore_errors=True)
