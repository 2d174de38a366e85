"""ComicInfo.xml written into a CBZ in place: a new last member and central directory, under a journal.

The copy path (:mod:`bdnex_core.archives.zipwrite`) writes a whole new archive beside the original:
on a filesystem that cannot share blocks (ext4, network shares) that is every byte of every page
again. Here only the end of the file changes. The new ComicInfo.xml record goes where the old one
began when it was the last member, else where the central directory began; a new central
directory (every other record copied byte for byte: names, flags, extra fields, offsets) and new
end records follow. No page moves, so no page byte is read or written.

Before the first byte of the archive changes, a journal entry (:class:`JournalEntry`: the
original length, modification time, file identity and the bytes from the write's offset to the
end, with their SHA-256) is made durable by the caller's :class:`~bdnex_core.archives.journal.WriteJournal`;
the new tail is then written with one ``pwrite``, checked and flushed with one ``fsync``. A crash
at any byte leaves an entry from which :func:`take_back` gives the exact original back.

What is appended in place, and what goes to the copy path instead (:class:`NotAppendable` says
why, see GUIDE 2b): an archive comment, data after the end record, a prepended stub (offsets
not counted from the file's start), multi-disk or unusual zip64 end records (extensible data, a
locator not right after its record), a ComicInfo.xml that is not the last member (the copy path
moves it last, and compacts), more unused bytes than the policy allows, and everything the copy
path refuses with its own message (encryption, unsafe or duplicate names, no page).
Data descriptors and names that are not UTF-8 are no obstacle: those records are never touched.
"""

from __future__ import annotations

import enum
import hashlib
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bdnex_core.archives.reading import COMICINFO, is_page
from bdnex_core.archives.zipformat import (
    CENTRAL,
    EOCD,
    EOCD64,
    LOCAL,
    LOCATOR,
    _zip64_values,
    comicinfo_record,
    end_records,
)
from bdnex_core.errors import ArchiveError

# the end records are found in the last 64 KiB (the longest comment) plus the records themselves
TAIL_WINDOW = 65536 + EOCD.size + LOCATOR.size + EOCD64.size
_QUICK_WINDOW = 8192
_ZIP64_RECORD_SIZE = EOCD64.size - 12  # what a zip64 end record without extensible data says of itself
_DESCRIPTOR_LEAST = 12  # a data descriptor without its signature, 32-bit sizes


class WriteMethod(enum.StrEnum):
    """``archives.write``: how ComicInfo.xml goes into a CBZ."""

    AUTO = "auto"  # in place where safe, unless the filesystem shares blocks (then a copy costs nothing)
    IN_PLACE = "in_place"  # in place wherever safe (copy otherwise)
    COPY = "copy"  # always a new archive beside the original, swapped in by rename


@dataclass(frozen=True)
class WritePolicy:
    method: WriteMethod = WriteMethod.COPY
    # a write goes through the copy path (which leaves no unused byte) when the archive's unused
    # bytes would be more than this share of it
    compact_unused_share: float = 0.10

    @classmethod
    def from_settings(cls, archives: Any) -> WritePolicy:
        return cls(WriteMethod(archives.write), float(archives.compact_unused_share))


class NotAppendable(Exception):
    """The archive is written through the copy path instead; ``reason`` says why (for logs and tests).
    ``compact``: what stands in the way is unused or misplaced bytes, which one copy removes."""

    def __init__(self, reason: str, *, compact: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.compact = compact


@dataclass(frozen=True)
class JournalEntry:
    """All it takes to give the archive back as it was before an in-place write, whatever came of it."""

    path: str
    identity: str  # "device:inode" of the file written
    original_size: int
    original_mtime_ns: int
    tail_offset: int
    original_tail: bytes  # the bytes [tail_offset, original_size) before the write
    original_tail_sha256: str
    new_size: int
    new_tail_sha256: str
    started_ns: int  # the writer's clock when the entry was made

    def as_row(self) -> dict[str, Any]:
        return {
            "file_path": self.path,
            "file_identity": self.identity,
            "original_size": self.original_size,
            "original_mtime_ns": self.original_mtime_ns,
            "tail_offset": self.tail_offset,
            "original_tail": self.original_tail,
            "original_tail_sha256": self.original_tail_sha256,
            "new_size": self.new_size,
            "new_tail_sha256": self.new_tail_sha256,
            "started_ns": self.started_ns,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JournalEntry:
        return cls(
            str(row["file_path"]),
            str(row["file_identity"]),
            int(row["original_size"]),
            int(row["original_mtime_ns"]),
            int(row["tail_offset"]),
            bytes(row["original_tail"]),
            str(row["original_tail_sha256"]),
            int(row["new_size"]),
            str(row["new_tail_sha256"]),
            int(row["started_ns"]),
        )


def file_identity(status: os.stat_result) -> str:
    return f"{status.st_dev}:{status.st_ino}"


class _Member(NamedTuple):
    """One central directory record (a tuple: an archive has hundreds, parsed on every write)."""

    position: int  # where its record begins in the central directory, and ends
    end: int
    name: bytes  # as stored (zipfile decodes it as UTF-8 when flag bit 11 says so, else as cp437)
    flags: int
    start: int  # of its local header, in the file
    compress_size: int
    extent: int  # the record's length as the central directory lets us guess it (local extras may differ)


# the fields of a central directory record we read: flags, sizes, name/extra/comment lengths, offset
_CENTRAL_FIELDS = struct.Struct("<8xH10xLLHHH8xL")


@dataclass(frozen=True)
class AppendPlan:
    """The write to make: ``new_tail`` at ``tail_offset`` (the file then ends with it)."""

    size: int
    tail_offset: int
    original_tail: bytes
    new_tail: bytes
    directory: bytes  # the new central directory (inside new_tail)
    count: int  # its records
    comicinfo_central_size: int  # the new ComicInfo.xml's record, the directory's last
    unused_bytes: int

    @property
    def new_size(self) -> int:
        return self.tail_offset + len(self.new_tail)


Reader = Callable[[int, int], bytes]


def _reader(descriptor: int) -> Reader:
    return lambda offset, length: os.pread(descriptor, length, offset)


@dataclass(frozen=True)
class _Directory:
    start: int
    central: bytes
    count: int
    zip64: bool


def _directory(read: Reader, size: int) -> _Directory:
    """The central directory of the archive whose bytes ``read`` gives, found from its end records;
    :class:`NotAppendable` for any end we do not append to (see the module's docstring)."""
    # an archive we append to ends with its end record (no comment): a small read finds it, and
    # often the whole directory; the 64 KiB a comment may take are read only to say what is there
    window = min(size, _QUICK_WINDOW)
    tail = read(size - window, window)
    if not tail.endswith(b"\0\0") or tail[-EOCD.size : -EOCD.size + 4] != b"PK\x05\x06":
        window = min(size, TAIL_WINDOW)
        tail = read(size - window, window)
    window_start = size - window
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + EOCD.size > len(tail):
        raise NotAppendable("no end of central directory record at the end")
    (_sig, disk, cd_disk, disk_entries, count, cd_size, cd_offset, comment_length) = EOCD.unpack_from(tail, at)
    if at + EOCD.size + comment_length != len(tail):
        raise NotAppendable("data after the end record (or a false end record)")
    if comment_length:
        raise NotAppendable("an archive comment")
    if disk or cd_disk or disk_entries != count:
        raise NotAppendable("a multi-disk archive")
    zip64 = False
    records_end = window_start + at
    locator = at - LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        (_sig, eocd64_disk, eocd64_offset, disks) = LOCATOR.unpack_from(tail, locator)
        records_end = window_start + locator - EOCD64.size
        if eocd64_disk or disks != 1:
            raise NotAppendable("a multi-disk archive")
        if eocd64_offset != records_end or records_end < 0:
            raise NotAppendable("a zip64 end record that is not right before its locator")
        record = read(records_end, EOCD64.size)
        if len(record) != EOCD64.size or record[:4] != b"PK\x06\x06":
            raise NotAppendable("a damaged zip64 end record")
        (_sig, record_size, _made, _needed, disk, cd_disk, disk_entries, count, cd_size, cd_offset) = EOCD64.unpack(
            record
        )
        if record_size != _ZIP64_RECORD_SIZE:
            raise NotAppendable("a zip64 end record with extensible data")
        if disk or cd_disk or disk_entries != count:
            raise NotAppendable("a multi-disk archive")
        zip64 = True
    elif count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        raise NotAppendable("zip64 values without a zip64 end record")
    cd_start = records_end - cd_size
    if cd_start < 0 or cd_start != cd_offset:
        raise NotAppendable(
            "offsets counted from a prepended stub" if cd_start > cd_offset else "a central directory out of the file"
        )
    central = tail[cd_start - window_start : records_end - window_start] if cd_start >= window_start else b""
    if len(central) != cd_size:
        central = read(cd_start, cd_size)
    return _Directory(cd_start, central, count, zip64)


def _central_members(central: bytes) -> list[_Member]:
    """Every record of a central directory, in its order (what :func:`check_plan` reads back)."""
    return _survey(central).members


@dataclass
class _Survey:
    """A central directory read in one pass: what deciding on an in-place write needs."""

    members: list[_Member]
    comicinfo: _Member | None
    last_kept: _Member | None  # the record of the others that starts last
    has_page: bool
    first_start: int
    kept_extent: int  # the guessed length of the others' records together
    kept_reach: int  # where the farthest-reaching of the others ends, as guessed


def _survey(central: bytes) -> _Survey:
    # one loop of plain operations, the checks on all names at once after it: this runs for every
    # member of every archive written
    members: list[_Member] = []
    names: list[bytes] = []
    utf8_names: list[bytes] = []
    starts: list[int] = []
    comicinfo = last_kept = None
    has_page = False
    any_flags, kept_extent, kept_reach = 0, 0, 0
    position, end = 0, len(central)
    unpack = _CENTRAL_FIELDS.unpack_from
    make = tuple.__new__
    while position < end:
        if not central.startswith(b"PK\x01\x02", position) or position + CENTRAL.size > end:
            raise NotAppendable("a damaged central directory record")
        flags, compress_size, file_size, name_length, extra_length, comment_length, start = unpack(central, position)
        name_end = position + CENTRAL.size + name_length
        record_end = name_end + extra_length + comment_length
        if record_end > end:
            raise NotAppendable("a damaged central directory record")
        if compress_size == 0xFFFFFFFF or file_size == 0xFFFFFFFF or start == 0xFFFFFFFF:
            try:
                _size, compress_size, start = _zip64_values(
                    central[name_end : name_end + extra_length], file_size, compress_size, start, Path()
                )
            except ArchiveError as exc:
                raise NotAppendable(exc.reason) from None
        extent = LOCAL.size + name_length + extra_length + compress_size + (16 if flags & 0x08 else 0)
        name = central[position + CENTRAL.size : name_end]
        member = make(_Member, (position, record_end, name, flags, start, compress_size, extent))
        members.append(member)
        names.append(name)
        starts.append(start)
        any_flags |= flags
        if flags & 0x800:
            utf8_names.append(name)
        position = record_end
        if name_length == len(_COMICINFO_NAME) and name.lower() == _COMICINFO_NAME:
            if comicinfo is not None:
                raise NotAppendable("several ComicInfo.xml: the copy path says which")
            comicinfo = member
            continue
        kept_extent += extent
        if start + extent > kept_reach:
            kept_reach = start + extent
        if last_kept is None or start > last_kept.start:
            last_kept = member
        if not has_page:
            has_page = is_page(_decoded(member))
    every_name = b"\0" + b"\0".join(names)
    if (
        any_flags & 0x01  # encrypted
        or len(set(names)) != len(names)
        or len(set(starts)) != len(starts)
        or b"\0/" in every_name
        or ((b".." in every_name or b":" in every_name or b"\\" in every_name) and any(map(_escapes, names)))
        or not _is_utf8(b"\0".join(utf8_names))
    ):
        raise NotAppendable("a member the copy path refuses (encrypted, unsafe or duplicate name, shared record)")
    first_start = min(starts, default=0)
    return _Survey(members, comicinfo, last_kept, has_page, first_start, kept_extent, kept_reach)


def _escapes(name: bytes) -> bool:
    """An absolute name, a drive letter or a '..' component (see reading.is_unsafe_name)."""
    normalized = name.replace(b"\\", b"/")
    return normalized.startswith(b"/") or (name[1:2] == b":" and name[:1].isalpha()) or b".." in normalized.split(b"/")


def _is_utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_COMICINFO_NAME = COMICINFO.lower().encode("ascii")


def _is_comicinfo(name: bytes) -> bool:
    # no non-ASCII character lowers to one of these letters: comparing bytes is comparing names
    # (inlined in _survey)
    return len(name) == len(_COMICINFO_NAME) and name.lower() == _COMICINFO_NAME


def _decoded(member: _Member) -> str:
    return member.name.decode("utf-8" if member.flags & 0x800 else "cp437")


def _local_record_length(read: Reader, member: _Member) -> int:
    header = read(member.start, LOCAL.size)
    if len(header) != LOCAL.size or header[:4] != b"PK\x03\x04":
        raise NotAppendable(f"no local header where {_decoded(member)!r} should start")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    if read(member.start + LOCAL.size, name_length) != member.name:
        raise NotAppendable(f"the local header of {_decoded(member)!r} names another member")
    descriptor = _DESCRIPTOR_LEAST if member.flags & 0x08 else 0
    return LOCAL.size + name_length + extra_length + member.compress_size + descriptor


def plan_append(descriptor: int, size: int, xml_bytes: bytes | None, policy: WritePolicy) -> AppendPlan:
    """What an in-place write of ``xml_bytes`` (``None``: remove ComicInfo.xml) into the open archive
    would write, or :class:`NotAppendable`. Reads the end of the file and two local headers only."""
    read = _reader(descriptor)
    directory = _directory(read, size)
    survey = _survey(directory.central)
    if len(survey.members) != directory.count:
        raise NotAppendable("the end record's member count differs from the central directory's")
    last = survey.last_kept
    if last is None or not survey.has_page:
        raise NotAppendable("no page: the copy path says so")
    comicinfo = survey.comicinfo
    tail_offset = directory.start
    if comicinfo is not None:
        if comicinfo.start < last.start:
            raise NotAppendable("ComicInfo.xml is not the last member", compact=True)
        _local_record_length(read, comicinfo)
        tail_offset = comicinfo.start
    # no other record may reach into what the write replaces: the last one checked from its local
    # header, the others too if their central records leave a doubt
    reach = last.start + _local_record_length(read, last)
    if survey.kept_reach > tail_offset:
        others = (member for member in survey.members if member is not comicinfo and member is not last)
        reach = max([reach, *(member.start + _local_record_length(read, member) for member in others)])
    if reach > tail_offset:
        raise NotAppendable("a member runs past where the new tail would start")
    unused = max(0, tail_offset - survey.first_start - survey.kept_extent)
    if unused > policy.compact_unused_share * size:
        raise NotAppendable(f"{unused} unused bytes (over archives.compact_unused_share)", compact=True)
    local, central = comicinfo_record(xml_bytes, tail_offset) if xml_bytes is not None else (b"", b"")
    old_directory = directory.central
    if comicinfo is not None:  # the other records stay as they are, in their order
        old_directory = old_directory[: comicinfo.position] + old_directory[comicinfo.end :]
    new_directory = old_directory + central
    count = len(survey.members) - (comicinfo is not None) + (xml_bytes is not None)
    new_tail = (
        local + new_directory + end_records(count, tail_offset + len(local), len(new_directory), b"", directory.zip64)
    )
    original_tail = read(tail_offset, size - tail_offset)
    if len(original_tail) != size - tail_offset:
        raise NotAppendable("the archive got shorter while it was read")
    return AppendPlan(size, tail_offset, original_tail, new_tail, new_directory, count, len(central), unused)


def check_plan(descriptor: int, plan: AppendPlan, xml_bytes: bytes | None) -> None:
    """Read the end of the archive as it will be after the write (the unchanged start and the new
    tail, from memory) as a reader finds it: the end records lead to the new central directory,
    whose last record is the new ComicInfo.xml, which reads back right."""
    read_file = _reader(descriptor)

    def read(offset: int, length: int) -> bytes:
        if offset >= plan.tail_offset:
            start = offset - plan.tail_offset
            return plan.new_tail[start : start + length]
        head = read_file(offset, min(length, plan.tail_offset - offset))
        return head + (plan.new_tail[: length - len(head)] if offset + length > plan.tail_offset else b"")

    failed = "the new end of the archive does not read back ({}); nothing was written"
    try:
        directory = _directory(read, plan.new_size)
    except NotAppendable as exc:
        raise ArchiveError(failed.format(exc.reason)) from None
    if (directory.central, directory.count) != (plan.directory, plan.count):
        raise ArchiveError(failed.format("its end records point elsewhere"))
    if xml_bytes is None:
        return
    last = _central_members(directory.central[-plan.comicinfo_central_size :])
    header = plan.new_tail[: LOCAL.size]
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    compressed_size = struct.unpack_from("<L", header, 18)[0]
    data_start = LOCAL.size + name_length + extra_length
    data = zlib.decompress(plan.new_tail[data_start : data_start + compressed_size], -15)
    if (
        len(last) != 1
        or not _is_comicinfo(last[0].name)
        or last[0].start != plan.tail_offset
        or data != xml_bytes
        or zlib.crc32(data) != struct.unpack_from("<L", header, 14)[0]
    ):
        raise ArchiveError(failed.format("ComicInfo.xml"))


def journal_entry(path: str | os.PathLike[str], status: os.stat_result, plan: AppendPlan) -> JournalEntry:
    return JournalEntry(
        os.fspath(path),
        file_identity(status),
        plan.size,
        status.st_mtime_ns,
        plan.tail_offset,
        plan.original_tail,
        hashlib.sha256(plan.original_tail).hexdigest(),
        plan.new_size,
        hashlib.sha256(plan.new_tail).hexdigest(),
        time.time_ns(),
    )


# The three steps that change the archive, as functions of their own: the kill tests stop a
# writer inside each of them (a child process replaces them), as a crash would.
def write_tail(descriptor: int, data: bytes, offset: int) -> None:
    """All of ``data`` at ``offset`` (a short write is continued; an error leaves what was written)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(descriptor, view, offset)
        if written <= 0:
            raise OSError(28, "no space left on device")
        view, offset = view[written:], offset + written


def set_length(descriptor: int, length: int) -> None:
    os.ftruncate(descriptor, length)


def flush(descriptor: int) -> None:
    os.fsync(descriptor)


def apply(descriptor: int, plan: AppendPlan, *, times_ns: tuple[int, int] | None) -> None:
    """Write the new tail (the file ends with it), set ``times_ns`` (atime, mtime) if given, flush, check."""
    write_tail(descriptor, plan.new_tail, plan.tail_offset)
    if plan.new_size < plan.size:
        set_length(descriptor, plan.new_size)
    if times_ns is not None:
        os.utime(descriptor, ns=times_ns)
    flush(descriptor)
    if os.pread(descriptor, len(plan.new_tail), plan.tail_offset) != plan.new_tail:
        raise OSError(5, "the new end of the archive reads back differently")


class TakeBack(enum.StrEnum):
    """What :func:`take_back` found and did."""

    RESTORED = "restored"  # the file had (part of) our write: it is the original again
    UNTOUCHED = "untouched"  # our write had not begun: nothing to do
    GONE = "gone"  # no file at that path any more
    REPLACED = "replaced"  # another file (or the same one changed by someone else since): left alone


# A file modified this long after its journal entry was made was changed by someone else since.
FOREIGN_CHANGE_AFTER_NS = 10 * 60 * 10**9


def take_back(entry: JournalEntry, descriptor: int | None = None) -> TakeBack:
    """Give the archive of ``entry`` its original bytes and modification time, flushed (through
    ``descriptor`` when the writer still holds it open). Raises OSError when that fails."""
    if hashlib.sha256(entry.original_tail).hexdigest() != entry.original_tail_sha256:
        raise OSError(5, "the journal entry is damaged (its hash differs)")
    if descriptor is None:
        try:
            opened = os.open(entry.path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            return TakeBack.GONE
        try:
            return _take_back_open(entry, opened, held_by_writer=False)
        finally:
            os.close(opened)
    return _take_back_open(entry, descriptor, held_by_writer=True)


def _take_back_open(entry: JournalEntry, descriptor: int, *, held_by_writer: bool) -> TakeBack:
    status = os.fstat(descriptor)
    if not held_by_writer:
        if file_identity(status) != entry.identity or status.st_size < entry.tail_offset:
            return TakeBack.REPLACED
        if status.st_mtime_ns > entry.started_ns + FOREIGN_CHANGE_AFTER_NS:
            return TakeBack.REPLACED
    end = os.pread(descriptor, max(status.st_size, entry.original_size) - entry.tail_offset, entry.tail_offset)
    if status.st_size == entry.original_size and end == entry.original_tail:
        # (a write cut short may have put back bytes equal to the old ones: only the time changed)
        if status.st_mtime_ns != entry.original_mtime_ns:
            os.utime(descriptor, ns=(status.st_atime_ns, entry.original_mtime_ns))
        return TakeBack.UNTOUCHED
    write_tail(descriptor, entry.original_tail, entry.tail_offset)
    os.ftruncate(descriptor, entry.original_size)
    os.utime(descriptor, ns=(status.st_atime_ns, entry.original_mtime_ns))
    os.fsync(descriptor)
    if os.pread(descriptor, len(entry.original_tail), entry.tail_offset) != entry.original_tail:
        raise OSError(5, "the original end of the archive reads back differently")
    return TakeBack.RESTORED
