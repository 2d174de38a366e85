"""Are the SQLite files sound before we open them? Cheap checks of the database, its -wal and -shm.

A disk, a sync tool or a power cut can empty, cut, flip or replace any of the three files, and SQLite
alone would often carry on in silence: an emptied database is taken for a new one, a -wal whose
frames no longer match their checksums is ignored from the first bad frame on (the changes it held
are lost without a word), a -wal that is a link to /dev/zero swallows every later change. These checks
read only headers (and, after an unclean stop, the -wal's frames) and say which file is damaged, how,
and which command fixes it (:func:`remedy`). Formats: https://www.sqlite.org/fileformat2.html
(database header, WAL header and frames, wal-index header).

A POSIX lock is released when *any* descriptor of the file closes in the process, so a file whose
database this process already has open is never opened here (only ``stat``): :data:`OPEN_HERE` counts
this process's connections by path.

The -shm is SQLite's index of the -wal, rebuilt from it when no process has the database open: a
damaged -shm loses nothing, and is set aside here (with a warning) when no other process uses it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bdnex_core.errors import DatabaseError

SQLITE_MAGIC = b"SQLite format 3\x00"
WAL_MAGICS = {0x377F0682: "<", 0x377F0683: ">"}  # the checksums' byte order: little or big endian
WAL_VERSION = 3007000
WAL_HEADER, FRAME_HEADER = 32, 24
SHM_DMS_BYTE = 128  # the "dead man switch" every connection holds a shared lock on while it has the shm open
SHM_HEADER = 48  # one copy of the wal-index header; two follow each other, then the checkpoint info

#: connections this process has open, by real path (see the module's docstring)
OPEN_HERE: Counter[str] = Counter()
_OPEN_LOCK = threading.Lock()


def opened_here(path: Path, delta: int) -> None:
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        OPEN_HERE[key] += delta
        if OPEN_HERE[key] <= 0:
            del OPEN_HERE[key]


def is_open_here(path: Path) -> bool:
    with _OPEN_LOCK:
        return OPEN_HERE[os.path.realpath(path)] > 0


#: what damage raises through Python's sqlite3: its errors, and a UnicodeDecodeError when SQLite's own
#: message quotes a damaged schema whose bytes are no longer UTF-8
SQLITE_DAMAGE = (sqlite3.DatabaseError, UnicodeDecodeError)


class Problem(StrEnum):
    """What is wrong decides the fix."""

    GONE = "gone"  # nothing of the database is left in the file: a backup, or a new database
    DAMAGED = "damaged"  # the file is damaged in part: what can be read is saved by `db repair`
    LOG_DAMAGED = "log damaged"  # changes the -wal held are lost: `db repair` goes on without them
    PERMISSIONS = "permissions"  # the content is fine, the user cannot read or write it: chmod


@dataclass(frozen=True)
class Finding:
    file: Path
    what: str  # "it is empty", "it is a folder", ...
    problem: Problem


@dataclass
class Inspection:
    findings: list[Finding]
    unclean: bool = False  # the last process stopped without closing (a -wal with changes, nobody holds it)
    in_use_elsewhere: bool | None = None  # another process has the database open (None: cannot tell)
    shm_set_aside: Path | None = None  # a damaged -shm moved away (SQLite rebuilds it)


class DamagedDatabase(DatabaseError):
    """A file of the SQLite database is damaged or out of reach; the message names it and the fix."""

    def __init__(self, finding: Finding, remedy_text: str):
        super().__init__(f"{finding.what}; {remedy_text}", path=finding.file)
        self.finding = finding


#: a run starts no new file once the disk holding an SQLite database has less room than this left:
#: the files in flight are still recorded and the session marked paused (a full disk could refuse both)
MIN_FREE_BYTES = 1024 * 1024
#: what a run holds on that disk (``<database>-room``, removed when the run ends) for the writes that
#: end it, should another program fill the disk all at once
ROOM_HELD_BYTES = 256 * 1024


def companion(db_path: Path, suffix: str) -> Path:
    return db_path.with_name(db_path.name + suffix)


# --------------------------------------------------------------------------- one file


def _kind(path: Path) -> str | None:
    """``None`` for a regular file (through links), else what the path is instead."""
    try:
        link = path.lstat()
    except FileNotFoundError:
        return "missing"
    try:
        target = path.stat()
    except OSError:
        return f"a link to {os.readlink(path)} that leads nowhere" if stat.S_ISLNK(link.st_mode) else "unreachable"
    if stat.S_ISREG(target.st_mode):
        return None
    where = f"a link to {os.readlink(path)}" if stat.S_ISLNK(link.st_mode) else None
    if stat.S_ISDIR(target.st_mode):
        return f"{where}, a folder" if where else "a folder"
    return where or "not a regular file (a device, a pipe or a socket)"


def _unreadable(path: Path) -> bool:
    return not os.access(path, os.R_OK | os.W_OK)


def _database_header(path: Path, size: int, wal: Path) -> tuple[str, Problem] | None:
    """What is wrong with the database file's header, and whether anything of it is left (``None``: sound)."""
    with open(path, "rb") as handle:
        header = handle.read(100)
    if len(header) < 100:
        return "it is cut short (smaller than an SQLite header)", Problem.GONE
    if header[:16] != SQLITE_MAGIC:
        if not any(header):
            return "its first bytes are zeros (not an SQLite database any more)", Problem.GONE
        return "it is not an SQLite database (its header is damaged or it was replaced)", Problem.GONE
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1) or header[21:24] != b"\x40\x20\x20":
        return "its header is damaged", Problem.DAMAGED
    if size % page_size:
        return f"it is cut short (its size is not a whole number of {page_size}-byte pages)", Problem.DAMAGED
    change_counter, pages, valid_for = (
        struct.unpack(">I", header[24:28])[0],
        struct.unpack(">I", header[28:32])[0],
        struct.unpack(">I", header[92:96])[0],
    )
    if (
        pages
        and change_counter == valid_for
        and pages * page_size > size
        and not _log_holds(wal, size // page_size, pages)
    ):
        return f"it is cut short ({size // page_size} of its {pages} pages are left)", Problem.DAMAGED
    return None


def _log_holds(wal: Path, present: int, pages: int) -> bool:
    """Whether the -wal's committed frames hold every page from ``present`` + 1 to ``pages``. A checkpoint
    copies page 1 (the header and its page count) first and the pages past the file's end after it: a
    process stopped in between leaves a file shorter than its header says, and the -wal, still whole,
    holds the rest."""
    try:
        if _kind(wal) is not None:
            return False
        log = read_log_frames(wal, pages_from=present + 1)
    except OSError:
        return False
    return log.database_pages >= pages and log.pages_held >= set(range(present + 1, pages + 1))


# --------------------------------------------------------------------------- -wal and -shm


@dataclass(frozen=True)
class IndexHeader:
    """What the -shm says of the -wal (trusted only when its two copies agree and its checksum holds)."""

    max_frame: int  # frames of committed changes in the -wal
    backfilled: int  # of those, frames already copied into the database
    salts: bytes  # the -wal generation it describes


def _checksum(data: bytes, order: str, s0: int = 0, s1: int = 0) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    mask = 0xFFFFFFFF
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & mask
        s1 = (s1 + words[i + 1] + s0) & mask
    return s0, s1


def read_index_header(shm: Path) -> IndexHeader | None:
    try:
        with open(shm, "rb") as handle:
            data = handle.read(SHM_HEADER * 2 + 4)
    except OSError:
        return None
    if len(data) < SHM_HEADER * 2 + 4 or data[:SHM_HEADER] != data[SHM_HEADER : 2 * SHM_HEADER]:
        return None
    order = "<" if sys.byteorder == "little" else ">"  # the -shm is in this machine's byte order
    version, _unused, _change, initialised = struct.unpack(f"{order}IIIB", data[:13])
    if version != WAL_VERSION or initialised != 1:
        return None
    if _checksum(data[:40], order) != struct.unpack(f"{order}II", data[40:48]):
        return None
    max_frame = struct.unpack(f"{order}I", data[16:20])[0]
    backfilled = struct.unpack(f"{order}I", data[96:100])[0]
    return IndexHeader(max_frame, backfilled, data[32:40])


@dataclass(frozen=True)
class LogFrames:
    valid_header: bool
    salts: bytes
    committed: int  # frames up to the last commit frame whose checksums hold
    database_pages: int = 0  # the database's size in pages after that commit
    pages_held: frozenset[int] = frozenset()  # committed pages numbered from ``pages_from`` on (when asked)


def read_log_frames(wal: Path, limit: int | None = None, pages_from: int | None = None) -> LogFrames:
    """Walk the -wal's frames as SQLite recovers them: stop at the first frame whose salt or checksum fails.
    ``pages_from``: also say which pages from that number on the committed frames hold."""
    with open(wal, "rb") as handle:
        header = handle.read(WAL_HEADER)
        if len(header) < WAL_HEADER:
            return LogFrames(False, b"", 0)
        magic, version, page_size = struct.unpack(">III", header[:12])
        order = WAL_MAGICS.get(magic)
        if order is None or version != WAL_VERSION or page_size < 512 or page_size & (page_size - 1):
            return LogFrames(False, b"", 0)
        sums = _checksum(header[:24], order)
        if sums != struct.unpack(">II", header[24:32]):
            return LogFrames(False, b"", 0)
        salts, frame, committed, database_pages = header[16:24], 0, 0, 0
        pending: set[int] = set()
        held: set[int] = set()
        while limit is None or frame < limit:
            data = handle.read(FRAME_HEADER + page_size)
            if len(data) < FRAME_HEADER + page_size or data[8:16] != salts:
                break
            sums = _checksum(data[FRAME_HEADER:], order, *_checksum(data[:8], order, *sums))
            if sums != struct.unpack(">II", data[16:24]):
                break
            frame += 1
            page, size_after = struct.unpack(">II", data[:8])
            if pages_from is not None and page >= pages_from:
                pending.add(page)
            if size_after:  # a commit frame: the database's size after it
                committed, database_pages = frame, size_after
                held |= pending
                pending.clear()
    return LogFrames(True, salts, committed, database_pages, frozenset(held))


def _held_by_another_process(shm: Path) -> bool | None:
    """Whether another process holds the -shm's dead-man-switch lock (has the database open)."""
    if not sys.platform.startswith("linux"):
        return None

    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return None
    try:
        # struct flock on Linux: short type, short whence, off_t start, off_t len, pid_t pid (native layout)
        query = struct.pack("@hhqqi", fcntl.F_WRLCK, os.SEEK_SET, SHM_DMS_BYTE, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query + bytes(32 - len(query)))
        return struct.unpack("@h", answer[:2])[0] != fcntl.F_UNLCK
    except OSError:
        return None
    finally:
        os.close(fd)


def _open_in_another_process(path: Path) -> bool:
    """Whether another process of this user has ``path`` open (Linux: its /proc fd links; elsewhere False)."""
    proc = Path("/proc")
    if not sys.platform.startswith("linux") or not proc.is_dir():
        return False
    target, me = str(path.resolve()), str(os.getpid())
    for process in proc.iterdir():
        if not process.name.isdigit() or process.name == me:
            continue
        try:
            if any(os.readlink(link) == target for link in (process / "fd").iterdir()):
                return True
        except OSError:  # gone, or another user's
            continue
    return False


def set_aside(path: Path, label: str = "damaged") -> Path:
    """Move ``path`` (a file, a link or a folder) beside itself as ``NAME.LABEL-TIME``; return where."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{label}-{stamp}")
    number = 1
    while aside.exists() or aside.is_symlink():
        number += 1
        aside = path.with_name(f"{path.name}.{label}-{stamp}-{number}")
    os.rename(path, aside)
    return aside


# --------------------------------------------------------------------------- all three

# SQLite makes the file, then writes its first page: another process opening the database in
# between (two runs started at once on a new database) sees an empty file that is no damage
JUST_MADE_SECONDS = 30.0
CREATION_WAIT_SECONDS = 5.0


def _size_once_created(db_path: Path) -> int:
    """The size of an empty ``db_path`` that another process made moments ago and holds open, once
    that process wrote its first page (0 if it did not: an emptied file is reported at once)."""
    deadline = time.monotonic() + CREATION_WAIT_SECONDS
    try:
        if time.time() - db_path.stat().st_mtime >= JUST_MADE_SECONDS or not _open_in_another_process(db_path):
            return 0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            size = db_path.stat().st_size
            if size:
                return size
        return db_path.stat().st_size
    except OSError:
        return 0


def inspect(db_path: Path) -> Inspection:
    """Cheap checks of ``db_path`` and its -wal and -shm before SQLite opens them (see the module)."""
    findings: list[Finding] = []
    result = Inspection(findings)
    wal, shm = companion(db_path, "-wal"), companion(db_path, "-shm")
    kind = _kind(db_path)
    if kind == "missing":
        return result
    if kind is not None:
        findings.append(Finding(db_path, f"it is {kind}, not the database file", Problem.GONE))
        return result
    if _unreadable(db_path):
        findings.append(Finding(db_path, "you cannot read and write it", Problem.PERMISSIONS))
        return result
    size = db_path.stat().st_size
    if size == 0:
        size = _size_once_created(db_path)
    if size == 0:
        findings.append(Finding(db_path, "it is empty (a bdnex-core database never is)", Problem.GONE))
        return result
    if is_open_here(db_path):  # this process has it open: it was checked then (and see the module's docstring)
        return result
    header = _database_header(db_path, size, wal)
    if header is not None:
        findings.append(Finding(db_path, *header))
        return result
    shm_kind = _kind(shm)
    shm_unreadable = shm_kind is None and _unreadable(shm)
    # a -shm that is no file, or that this user cannot open, is used by no process of this user
    result.in_use_elsewhere = _held_by_another_process(shm) if shm_kind is None and not shm_unreadable else False
    if result.in_use_elsewhere is not False:
        return result  # its -wal and -shm are live, or cannot be told from live ones: SQLite's to handle
    index = read_index_header(shm) if shm_kind is None and not shm_unreadable else None
    wal_kind = _kind(wal)
    if wal_kind not in (None, "missing"):
        findings.append(Finding(wal, f"it is {wal_kind}, not SQLite's write-ahead log", Problem.LOG_DAMAGED))
    elif wal_kind is None and _unreadable(wal):
        findings.append(Finding(wal, "you cannot read and write it", Problem.PERMISSIONS))
    else:
        lost = _lost_changes(wal if wal_kind is None else None, index)
        if lost is not None:
            findings.append(Finding(wal, lost, Problem.LOG_DAMAGED))
        result.unclean = wal_kind is None and wal.stat().st_size > 0 and result.in_use_elsewhere is False
    if (shm_kind not in (None, "missing") or shm_unreadable) and not findings:
        # an index SQLite rebuilds from the -wal: nothing is lost (with a damaged -wal, `db repair` sets it aside)
        result.shm_set_aside = set_aside(shm)
    return result


def _lost_changes(wal: Path | None, index: IndexHeader | None) -> str | None:
    """Committed changes the -shm knows of that the -wal no longer holds (``None``: none lost, or
    nothing to tell it by: without a sound -shm a -wal is taken as SQLite takes it)."""
    if index is None:
        # no sound -shm to compare with: only a -wal whose header is damaged is known to have lost changes
        if wal is not None and wal.stat().st_size > 0 and not read_log_frames(wal, limit=0).valid_header:
            return "its header is damaged: the changes it held since the last checkpoint are lost"
        return None
    if index.max_frame <= index.backfilled:
        return None  # every change recorded is in the database file already
    pending = index.max_frame - index.backfilled
    if wal is None:
        return f"it is missing, but held {pending} pages of changes not yet in the database"
    if wal.stat().st_size == 0:
        return f"it is empty, but held {pending} pages of changes not yet in the database"
    frames = read_log_frames(wal, limit=index.max_frame)
    if not frames.valid_header:
        return "its header is damaged: the changes it held since the last checkpoint are lost"
    if frames.salts != index.salts:
        return None  # another generation of the log than the -shm describes: SQLite's own recovery decides
    lost = index.max_frame - max(frames.committed, index.backfilled)
    if lost > 0:
        return f"it is damaged: {lost} of the {pending} pages of changes it held cannot be read back"
    return None
