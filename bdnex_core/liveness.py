"""Whether a process named in a session row or a temporary file name is still running."""

from __future__ import annotations

import os


def process_alive(pid: int | None) -> bool:
    """True when ``pid`` runs on this machine (even as another user's process)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
