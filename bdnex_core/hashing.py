"""File identity: streaming SHA-256 and a cheap (size, mtime_ns) fingerprint.

The fingerprint decides whether a file may have changed; only then is it hashed.
The hash recognises a file that was moved or renamed, so it keeps its history.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough for throughput, small enough for memory


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> Fingerprint:
        stat = os.stat(path)
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in chunks (constant memory for any size)."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while read := handle.readinto(buffer):
            digest.update(view[:read])
    return digest.hexdigest()


def canonical_path(path: str | os.PathLike[str]) -> str:
    """The form of a path stored in the database: absolute, symlinks resolved."""
    return str(Path(path).expanduser().resolve())
