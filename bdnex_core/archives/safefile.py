"""Temporary files beside the target, the final swap, and cleanup after killed writers.

Policy for a replaced file:
- permissions: the original's mode bits; the owner and group too when we are allowed to set them
  (root, or our own file); otherwise the new file belongs to us (POSIX has no other way).
- modification time: "now" by default, so library servers (Komga, calibre) see the change;
  ``preserve_mtime=True`` (config ``archives.preserve_mtime``) keeps the original's.
- extended attributes and ACLs are not carried over.
"""

from __future__ import annotations

import concurrent.futures
import errno
import fcntl
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from bdnex_core.errors import ArchiveError
from bdnex_core.liveness import process_alive

TEMP_PREFIX = ".bdnex-tmp-"
# NAME_MAX of Linux and macOS filesystems, in bytes; a temp name longer than the folder allows cannot be created
NAME_MAX = 255
# A temp file older than this is a leftover even if its pid was reused by a live process.
STALE_AFTER_SECONDS = 24 * 3600

_active: set[Path] = set()
_active_lock = threading.Lock()


def temp_path_for(path: Path) -> Path:
    """``.bdnex-tmp-<pid>-<random>-<name>`` in the same folder (same filesystem: rename is atomic).

    The name part is shortened (whole characters) so the temp name fits the folder's name limit:
    a legal name of 228-255 bytes would otherwise overflow it and the file could never be written.
    """
    prefix = f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-"
    room = _name_max(path.parent) - len(os.fsencode(prefix))
    # a character cut in two by the limit is dropped (so are bytes that are not UTF-8: it is only a temp name)
    return path.with_name(prefix + os.fsencode(path.name)[:room].decode("utf-8", "ignore"))


def _name_max(folder: Path) -> int:
    try:
        return min(NAME_MAX, os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return NAME_MAX


@contextmanager
def temporary_beside(path: Path, reported_as: Path) -> Iterator[Path]:
    """Yield a fresh temp path beside ``path``; it is removed on any failure (or if left unused).

    OSErrors become one-line ArchiveErrors naming ``reported_as``, stating the original is unchanged.
    """
    temporary = temp_path_for(path)
    with _active_lock:
        _active.add(temporary)
    try:
        yield temporary
    except ArchiveError:
        _discard(temporary)
        raise
    except OSError as exc:
        _discard(temporary)
        raise os_error(exc, reported_as) from None
    except BaseException:
        _discard(temporary)
        raise
    finally:
        with _active_lock:
            _active.discard(temporary)


def _discard(temporary: Path) -> None:
    try:
        temporary.unlink(missing_ok=True)
    except OSError:
        pass


def os_error(exc: OSError, path: Path) -> ArchiveError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return ArchiveError("no space left on the device (or file size limit); the original is unchanged", path=path)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ArchiveError(
            f"not allowed to write in this folder ({exc.strerror}); the original is unchanged", path=path
        )
    if exc.errno == errno.ENOENT:
        return ArchiveError("the file vanished while it was being processed", path=path)
    return ArchiveError(f"{exc.strerror or exc}; the original is unchanged", path=path)


def fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (best effort: some filesystems refuse directory fsync)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def apply_original_attributes(temporary: Path, original: os.stat_result, preserve_mtime: bool) -> None:
    os.chmod(temporary, original.st_mode & 0o7777)
    if (original.st_uid, original.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(temporary, original.st_uid, original.st_gid)
        except PermissionError:
            try:
                os.chown(temporary, -1, original.st_gid)
            except PermissionError:
                pass  # documented: the file then belongs to us
        os.chmod(temporary, original.st_mode & 0o7777)  # chown may clear setuid/setgid bits
    if preserve_mtime:
        os.utime(temporary, ns=(original.st_atime_ns, original.st_mtime_ns))


def same_file_state(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns) == (
        after.st_dev,
        after.st_ino,
        after.st_size,
        after.st_mtime_ns,
    )


_closer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bdnex-close")


def close_in_background(handle: BinaryIO) -> None:
    """Close the replaced original off the caller's path: on ext4 the last close frees all its
    blocks, which costs about as much as copying it; nothing waits on that."""
    _closer.submit(handle.close)


def replace_checked(temporary: Path, path: Path, original: os.stat_result) -> None:
    """``os.replace`` unless the original changed or vanished meanwhile (we would resurrect or clobber it)."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        raise ArchiveError("the file vanished while it was being written; nothing was replaced", path=path) from None
    if not same_file_state(original, current):
        raise ArchiveError("the file changed while it was being written; nothing was replaced", path=path)
    os.replace(temporary, path)
    fsync_directory(path.parent)


def cleanup_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files left by killed writers; return what was removed.

    A temp file is kept while the process named in it is alive (another bdnex writing now) and,
    in this process, while its write is in progress; anything older than a day goes regardless.
    """
    removed = []
    now = time.time()
    for candidate in Path(folder).glob(f"{TEMP_PREFIX}*"):
        with _active_lock:
            if candidate in _active:
                continue
        pid_text = candidate.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        try:
            age = now - candidate.lstat().st_mtime
        except FileNotFoundError:
            continue
        other_live_writer = (
            pid_text.isdigit()
            and int(pid_text) != os.getpid()
            and process_alive(int(pid_text))
            and age < STALE_AFTER_SECONDS
        )
        if other_live_writer or not candidate.is_file():
            continue
        try:
            candidate.unlink()
            removed.append(candidate)
        except FileNotFoundError:
            pass
    return removed


FICLONE = 0x40049409  # ioctl: make the target share all of the source's blocks (XFS, btrfs, bcachefs, ZFS, NFS 4.2)
_shares_blocks: dict[int, bool] = {}  # by device, and by folder (a folder's device is asked once)
_shares_blocks_of_folder: dict[str, bool] = {}
_shares_blocks_lock = threading.Lock()


def shares_blocks(folder: str | os.PathLike[str]) -> bool:
    """Whether files in ``folder`` can share blocks (reflink): then a copy of an archive costs
    nothing and the copy path is as fast as an in-place write. Probed once per filesystem per
    process, with two small temporary files; a folder we cannot write in counts as "no"."""
    key = os.fspath(folder)
    with _shares_blocks_lock:
        if key in _shares_blocks_of_folder:
            return _shares_blocks_of_folder[key]
    try:
        device = os.stat(folder).st_dev
    except OSError:
        return False
    with _shares_blocks_lock:
        if device in _shares_blocks:
            _shares_blocks_of_folder[key] = _shares_blocks[device]
            return _shares_blocks[device]
    probe = Path(folder) / "reflink-probe"
    source, target = temp_path_for(probe), temp_path_for(probe)
    answer = False
    try:
        with open(source, "x+b") as first, open(target, "xb") as second:
            first.write(bytes(CLONE_PROBE_BYTES))
            first.flush()
            fcntl.ioctl(second.fileno(), FICLONE, first.fileno())
            answer = True
    except OSError:
        pass
    finally:
        for probe in (source, target):
            _discard(probe)
    with _shares_blocks_lock:
        _shares_blocks[device] = _shares_blocks_of_folder[key] = answer
    return answer


CLONE_PROBE_BYTES = 4096


def open_for_writing_elsewhere(path: str | os.PathLike[str]) -> bool:
    """Whether some process holds the file open for writing, as far as the kernel lets us see it: a
    read lease is granted only while nobody does. Where leases are not available (another owner's
    file without CAP_LEASE, network filesystems), False: we cannot tell."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(descriptor)
