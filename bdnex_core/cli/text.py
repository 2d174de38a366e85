"""Fitting text to the terminal: what several commands' tables share (paths elided from the left)."""

from __future__ import annotations

import shutil


def elide_left(text: str, width: int) -> str:
    """``text`` in ``width`` characters at most, its start replaced by an ellipsis: the end of a path
    (the file's name, its series' folder) says most."""
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1) :] if width > 1 else "…"


def terminal_width() -> int:
    return shutil.get_terminal_size((80, 24)).columns
