"""Writing a small file atomically: a reader sees the old content or the new one, never half.

The data goes to a temporary file in the same folder (so the rename stays on one filesystem), then
``os.replace`` puts it in place; on any error the temporary file is removed and the old file kept.
Comic archives have their own, verified write path (:mod:`bdnex_core.archives`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def open_atomically(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """A stream whose content replaces ``path`` when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **open_args) as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8)."""
    if isinstance(data, str):
        with open_atomically(path, "w", encoding="utf-8") as stream:
            stream.write(data)
    else:
        with open_atomically(path, "wb") as stream:
            stream.write(data)
