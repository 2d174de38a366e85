"""File identity: streaming SHA-256 and a cheap (size, mtime_ns) fingerprint.

The fingerprint decides whether a file may have changed; only then is it hashed.
The hash recognises a file that was moved or renamed, so it keeps its history.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bdnex_core.errors import ArchiveError

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough for throughput, small enough for memory


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> Fingerprint:
        stat = os.stat(path)
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def open_regular(path: str | os.PathLike[str]) -> io.FileIO:
    """Open a regular file for reading, unbuffered; anything else is refused before a byte is read.

    A FIFO would block the open (and a read) for ever, ``/dev/zero`` never ends: opened
    non-blocking, checked with fstat, so no name or link can make us wait or read without end.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise ArchiveError(f"not a regular file but {file_kind(mode)}: not opened", path=os.fspath(path))
        return os.fdopen(descriptor, "rb", buffering=0)
    except BaseException:
        os.close(descriptor)
        raise


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, for a failure reason."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a regular file, read in chunks (constant memory for any size)."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while read := handle.readinto(buffer):
            digest.update(view[:read])
    return digest.hexdigest()


def canonical_path(path: str | os.PathLike[str]) -> str:
    """The form of a path stored in the database: absolute, symlinks resolved (a loop is left as it
    is, for whoever opens it to report; ``Path.resolve`` would raise RuntimeError), valid UTF-8
    (see :func:`printable`)."""
    return printable(os.path.realpath(Path(path).expanduser()))


def printable(text: str) -> str:
    """``text`` as valid UTF-8: the bytes of a file name that is not UTF-8 (surrogate escapes) as ``\\xe9``.

    The database and the logs hold text; such a name cannot be stored as it is.
    """
    return os.fsencode(text).decode("utf-8", "backslashreplace")
