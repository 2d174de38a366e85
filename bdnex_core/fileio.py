"""Small files: written atomically, and read only when they are regular files of bounded size.

Writing: the data goes to a temporary file in the same folder (so the rename stays on one
filesystem), then ``os.replace`` puts it in place; on any error the temporary file is removed and
the old file kept. A reader sees the old content or the new one, never half.

Reading a file a person names (the configuration, a secret's file): a FIFO would block the open
and ``/dev/zero`` would never end, so the file is opened without blocking, refused unless it is a
regular file, and read no further than the cap. Comic archives have their own, verified read and
write paths (:mod:`bdnex_core.archives`).

The cache helpers below read and replace files of our caches, dropping a damaged one. Reading a large
input whole (a library's listing, a catalogue's sitemaps) pauses Python's cycle collector meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def open_atomically(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """A stream whose content replaces ``path`` when the block ends without an error. What stands in the
    place of ``path`` and is no file (a folder, a link to a device) is dropped first: these are our files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_for_writing(path)
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


# ----------------------------------------------------------------------------- our caches
# A cache file (a page, a cover, a thumbnail, the cookie jar) is ours and can always be made again:
# a damaged one (a folder or a link to a device in its place, unreadable, cut, not what it should be)
# is dropped with one warning line and rebuilt, never an error (README, "Where bdnex-core keeps what").


def drop_damaged(path: Path, reason: str) -> None:
    """Remove a damaged cache entry (a folder with something in it is moved aside, not deleted)."""
    logger.warning("%s: %s; dropped (bdnex-core makes it again)", path, reason)
    try:
        if path.is_dir() and not path.is_symlink():
            try:
                path.rmdir()
            except OSError:
                path.rename(path.with_name(f"{path.name}.damaged-{os.getpid()}"))
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("%s: cannot drop it (%s); it is left as it is", path, exc.strerror or exc)


def damage_of(path: Path) -> str | None:
    """Why ``path`` cannot be a cache file (``None``: a regular file, or nothing there)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISLNK(mode):
        return f"it is a link to {os.readlink(path)}, not a file"
    if stat.S_ISDIR(mode):
        return "it is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "it is not a regular file"
    return None


def read_cache_file(path: Path, *, max_bytes: int, check: Callable[[bytes], str | None] | None = None) -> bytes | None:
    """A cache file's bytes; ``None`` when absent, or damaged (then dropped, see above).
    ``check`` says what is wrong with the bytes (``None``: they are fine)."""
    reason = damage_of(path)
    if reason is None:
        try:
            with path.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            reason = exc.strerror or str(exc)
        else:
            if len(data) > max_bytes:
                reason = f"it is larger than {max_bytes} bytes"
            else:
                reason = check(data) if check is not None else None
                if reason is None:
                    return data
    drop_damaged(path, reason)
    return None


def clear_for_writing(path: Path) -> None:
    """Before one of our files is replaced: a folder in its place is dropped (a link is replaced as it is)."""
    if path.is_dir() and not path.is_symlink():
        drop_damaged(path, "it is a folder, not a file")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off meanwhile: reading a large input whole (a library's listing, a
    catalogue's import) makes hundreds of thousands of small objects and no cycles, and the collector would
    walk them again and again (about 8 % of a 10,000-file re-scan)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
