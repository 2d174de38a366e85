"""The CLI in a real process, as a user runs it, for tests that stop, kill or time it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def start_cli(config: Path, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    """``bdnex-core --config CONFIG ARGS...`` started, its output captured as text
    (``new_session``: in its own process group, so that a test can signal the whole group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )
