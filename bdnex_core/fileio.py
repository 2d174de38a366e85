"""Small files: written atomically, and read only when they are regular files of bounded size.

Writing: the data goes to a temporary file in the same folder (so the rename stays on one
filesystem), then ``os.replace`` puts it in place; on any error the temporary file is removed and
the old file kept. A reader sees the old content or the new one, never half.

Reading a file a person names (the configuration, a secret's file): a FIFO would block the open
and ``/dev/zero`` would never end, so the file is opened without blocking, refused unless it is a
regular file, and read no further than the cap. Comic archives have their own, verified read and
write paths (:mod:`bdnex_core.archives`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (links followed), at most ``limit`` of them.

    Raises :class:`OSError` whose ``strerror`` says why, for a file that is not regular (FIFO,
    device, folder, socket: never waited on, never read) or larger than ``limit`` bytes (checked
    while reading: a file that grows is not read past the cap either)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"{_kind_of(mode)}, not a regular file", os.fspath(path))
        os.set_blocking(descriptor, True)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(descriptor, min(1 << 16, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise OSError(errno.EFBIG, f"larger than {limit} bytes", os.fspath(path))
        return b"".join(chunks)
    finally:
        os.close(descriptor)
