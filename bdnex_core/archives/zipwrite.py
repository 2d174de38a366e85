"""Writing ComicInfo.xml into a CBZ: raw member copy, new central directory, verify, atomic swap.

Python's zipfile cannot copy a member without decompressing it, so the zip structure is handled
here: every kept member's record (local header, compressed data, data descriptor) is copied as a
byte range — adjacent records in one large ``copy_file_range`` — and only the central directory
is rewritten, each record unchanged except for its local-header offset. No page is ever
decompressed or recompressed; names, extra fields, comments and member order are kept.

ComicInfo.xml (deflated, UTF-8 name) goes where the old one was, padded so that the members after
it keep their offsets modulo the filesystem block; with no old one it is appended after the pages.
Kept data then stays block-aligned, and on filesystems that share blocks between files (XFS, btrfs)
``copy_file_range`` clones the pages instead of copying them.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bdnex_core.archives.inplace import (
    NotAppendable,
    WriteMethod,
    WritePolicy,
    apply,
    check_plan,
    journal_entry,
    plan_append,
    take_back,
)
from bdnex_core.archives.journal import WriteJournal, current_journal
from bdnex_core.archives.reading import (
    COMICINFO,
    check_zip_members,
    detect_kind,
    is_comicinfo_name,
    is_page,
    open_zip,
)
from bdnex_core.archives.safefile import (
    apply_original_attributes,
    close_in_background,
    open_for_writing_elsewhere,
    os_error,
    replace_checked,
    same_file_state,
    shares_blocks,
    temporary_beside,
)
from bdnex_core.archives.zipformat import (
    CLONE_BLOCK,
    CentralEntry,
    ZipLayout,
    comicinfo_record,
    end_records,
    read_layout,
    read_local_header,
    with_offset,
)
from bdnex_core.errors import ArchiveError

COPY_CHUNK = 8 * 1024 * 1024
COPY_SLICE = 1 << 30  # per copy_file_range call


def _copy_range(source: BinaryIO, target: BinaryIO, start: int, length: int) -> None:
    """Copy bytes ``[start, start+length)`` of source to the current end of target, kernel-side if possible."""
    target.flush()
    in_position, out_position, remaining = start, target.tell(), length
    # A clone needs block-aligned offsets: when both ends are equally misaligned, copy the head
    # up to the next block boundary on its own so the rest can be cloned.
    head = -in_position % CLONE_BLOCK if (in_position - out_position) % CLONE_BLOCK == 0 else 0
    if hasattr(os, "copy_file_range"):
        try:
            while remaining:
                piece = min(remaining, head or COPY_SLICE)
                head = 0
                copied = os.copy_file_range(source.fileno(), target.fileno(), piece, in_position, out_position)
                if copied == 0:
                    break
                remaining -= copied
                in_position += copied
                out_position += copied
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
                raise
        target.seek(out_position)
    source.seek(in_position)
    while remaining:
        chunk = source.read(min(COPY_CHUNK, remaining))
        if not chunk:
            raise ArchiveError("the archive ended while it was being copied (truncated meanwhile?)")
        target.write(chunk)
        remaining -= len(chunk)


@dataclass
class _Kept:
    info: zipfile.ZipInfo
    entry: CentralEntry
    start: int  # record start in the original file
    end: int  # record end (next record, or the central directory)
    local_header: bytes  # the original local header, for verification
    new_offset: int = 0


@dataclass(frozen=True)
class WriteReport:
    """How ComicInfo.xml went in: ``in_place`` or through a copy (``reason`` says why a copy)."""

    in_place: bool
    reason: str = ""


def write_comicinfo(
    path: str | os.PathLike[str],
    xml_bytes: bytes | None,
    *,
    preserve_mtime: bool = False,
    policy: WritePolicy | None = None,
    journal: WriteJournal | None = None,
) -> WriteReport:
    """Put ``xml_bytes`` as the root ComicInfo.xml of the CBZ at ``path``, nothing recompressed.
    ``None`` removes the ComicInfo.xml (undoing a first tagging gives the file back as it was).

    ``policy`` (default: the copy path) chooses between the two ways (see :class:`WriteMethod`):
    in place under ``journal`` (or the one :func:`~bdnex_core.archives.journal.journalled` set) where
    :mod:`~bdnex_core.archives.inplace` finds it safe, else a new archive swapped in atomically.
    An existing ComicInfo.xml (any letter case) is replaced; two of them are refused. On any failure
    the original is back, byte for byte. Permissions and mtime: see :mod:`bdnex_core.archives.safefile`.
    """
    path = Path(path)
    try:
        kind = stat.S_IFMT(os.lstat(path).st_mode)
    except OSError:
        kind = None  # said by detect_kind below
    if kind == stat.S_IFLNK:  # the swap would turn the link into a copy; the library resolves links it follows
        raise ArchiveError("a symbolic link: not written through (tag the file it leads to)", path=path)
    policy = policy or WritePolicy()
    compact = False
    reason = "archives.write: copy"
    if policy.method != WriteMethod.COPY:
        journal = journal or current_journal()
        where = os.path.abspath(path)  # (strings: this runs for every file of a library)
        cloning = shares_blocks(os.path.dirname(where))
        # where copies are not free, the copy leaves no unused byte and puts ComicInfo.xml last, so
        # that the next write is in place
        compact = not cloning
        if journal is None:
            reason = "no journal (a write outside a tagging run)"
        elif kind != stat.S_IFREG:
            reason = "not a regular file"
        elif policy.method == WriteMethod.AUTO and cloning:
            reason = "the filesystem shares blocks: a copy costs no page"
        else:
            try:
                _write_in_place(path, where, xml_bytes, preserve_mtime, policy, journal)
                return WriteReport(in_place=True)
            except NotAppendable as exc:
                reason = exc.reason
    if detect_kind(path) != "cbz":  # (in place, the plan found the zip's end records)
        raise ArchiveError("ComicInfo can only be written into a zip (CBZ); convert it first", path=path)
    _write_copy(path, xml_bytes, preserve_mtime, compact=compact)
    return WriteReport(in_place=False, reason=reason)


def _write_in_place(
    path: Path, where: str, xml_bytes: bytes | None, preserve_mtime: bool, policy: WritePolicy, journal: WriteJournal
) -> None:
    """The in-place write (see :mod:`bdnex_core.archives.inplace`) of the file at ``where`` (absolute:
    what the next command reopens, from any folder), or NotAppendable before any change."""
    try:
        where.encode("utf-8")
    except UnicodeEncodeError:
        raise NotAppendable("a path that is not UTF-8 (the journal keeps text)") from None
    if open_for_writing_elsewhere(where):  # asked before we open it for writing ourselves
        raise NotAppendable("another process has it open for writing")
    try:
        descriptor = os.open(where, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ArchiveError("file not found (moved or deleted?)", path=path) from None
    except OSError as exc:
        raise NotAppendable(f"cannot open for writing ({exc.strerror})") from None
    try:
        original = os.fstat(descriptor)
        if not original.st_mode & 0o222:
            raise ArchiveError("the file is read-only; not modifying it", path=path)
        if original.st_nlink > 1:
            raise NotAppendable("hard links: the file's other names must keep their content")
        plan = plan_append(descriptor, original.st_size, xml_bytes, policy)
        check_plan(descriptor, plan, xml_bytes)
        if not same_file_state(original, os.fstat(descriptor)):
            raise NotAppendable("it changed while it was read")
        journal_id = journal.begin(journal_entry(where, original, plan))
        try:
            apply(descriptor, plan, times_ns=(original.st_atime_ns, original.st_mtime_ns) if preserve_mtime else None)
            if os.stat(where).st_ino != original.st_ino:  # renamed over meanwhile: our bytes went nowhere
                raise ArchiveError("the file was replaced while it was being written; not written", path=path)
        except BaseException as failure:
            _take_back_after(failure, journal, journal_id, descriptor, path)
            raise
        journal.end(journal_id)
    finally:
        os.close(descriptor)


def _take_back_after(
    failure: BaseException, journal: WriteJournal, journal_id: int, descriptor: int, path: Path
) -> None:
    """The write failed half way (a full disk, an I/O error): the original goes back now, or, if even
    that fails, stays in the journal for the next run. ``failure`` becomes the one-line error."""
    entry = journal.entry(journal_id)
    try:
        take_back(entry, descriptor)
    except OSError as exc:
        raise ArchiveError(
            f"writing failed ({_strerror(failure)}) and so did putting the original back ({exc.strerror or exc}); "
            "the next bdnex-core command puts it back",
            path=path,
        ) from None
    journal.abandon(journal_id)
    if isinstance(failure, OSError):
        raise os_error(failure, path) from None


def _strerror(failure: BaseException) -> str:
    return str(failure.strerror or failure) if isinstance(failure, OSError) else type(failure).__name__


def _write_copy(path: Path, xml_bytes: bytes | None, preserve_mtime: bool, *, compact: bool) -> None:
    """A new archive beside the original (pages copied raw), verified, then swapped in by rename.
    ``compact``: without the unused bytes between records, ComicInfo.xml last (see :func:`_plan`)."""
    try:
        source = open(path, "rb")  # noqa: SIM115 -- closed in the finally below, after the swap
    except FileNotFoundError:
        raise ArchiveError("file not found (moved or deleted?)", path=path) from None
    except OSError as exc:
        raise ArchiveError(f"cannot read: {exc.strerror or exc}", path=path) from None
    replaced = False
    try:
        original = os.fstat(source.fileno())
        if not original.st_mode & 0o222:
            raise ArchiveError("the file is read-only; not modifying it", path=path)
        kept, layout = _plan(source, original.st_size, path, compact=compact)
        with temporary_beside(path, reported_as=path) as temporary:
            with open(temporary, "xb") as target:
                _write_new_archive(source, target, kept, layout, xml_bytes, compact=compact)
                target.flush()
                os.fsync(target.fileno())
            _verify(temporary, kept, xml_bytes, path)
            apply_original_attributes(temporary, original, preserve_mtime)
            replace_checked(temporary, path, original)
            replaced = True
    finally:
        if replaced:
            close_in_background(source)
        else:
            source.close()


def _plan(source: BinaryIO, size: int, path: Path, *, compact: bool = False) -> tuple[list[_Kept], ZipLayout]:
    """Validate the zip (through zipfile and our own parse, which must agree) and list what to keep.

    A record ends where the next begins (or the central directory), whatever lies between; with
    ``compact``, where its data and data descriptor end when that can be told for sure, so the
    unused bytes after it are not copied (files that share no blocks: alignment buys nothing there)."""
    with open_zip(path, source) as archive:
        infos = archive.infolist()
    check_zip_members(path, infos)
    if not any(is_page(info.filename) for info in infos):
        raise ArchiveError("no image pages in the archive", path=path)
    comicinfos = [info.filename for info in infos if is_comicinfo_name(info.filename)]
    if len(comicinfos) > 1:
        raise ArchiveError(f"several ComicInfo.xml members ({', '.join(comicinfos)}): refusing to choose", path=path)
    layout = read_layout(source, size, path)
    if len(layout.entries) != len(infos):
        raise ArchiveError("zipfile and the central directory disagree on the member count", path=path)
    starts = sorted(entry.header_offset + layout.shift for entry in layout.entries)
    if len(set(starts)) != len(starts):
        raise ArchiveError("two members share the same data (overlapping zip): refused", path=path)
    next_start = {start: following for start, following in zip(starts, [*starts[1:], layout.cd_start], strict=False)}
    kept = []
    for info, entry in zip(infos, layout.entries, strict=False):
        if (info.CRC, info.compress_size) != (entry.crc, entry.compress_size):
            raise ArchiveError(f"inconsistent central directory record for {info.filename!r}", path=path)
        start = entry.header_offset + layout.shift
        local_header = read_local_header(source, start, path)
        if start + len(local_header) + entry.compress_size > next_start[start]:
            raise ArchiveError(f"member {info.filename!r} runs past the next one: damaged zip", path=path)
        if not is_comicinfo_name(info.filename):
            end = next_start[start]
            if compact:
                end = _exact_end(source, start + len(local_header), entry, info.flag_bits) or end
            kept.append(_Kept(info, entry, start, end, local_header))
    return kept, layout


def _exact_end(source: BinaryIO, data_start: int, entry: CentralEntry, flags: int) -> int | None:
    """Where the record whose data starts at ``data_start`` ends: after its data, and after its data
    descriptor (flag bit 3: with or without signature, 32- or 64-bit sizes, recognised by the values
    the central directory gives); None when the bytes there match none of these."""
    data_end = data_start + entry.compress_size
    if not flags & 0x08:
        return data_end
    source.seek(data_end)
    following = source.read(24)
    for signature in (b"PK\x07\x08", b""):
        if not following.startswith(signature + struct.pack("<L", entry.crc)):
            continue
        sizes = following[len(signature) + 4 :]
        small = entry.compress_size < 0xFFFFFFFF and entry.file_size < 0xFFFFFFFF
        if small and sizes[:8] == struct.pack("<LL", entry.compress_size, entry.file_size):
            return data_end + len(signature) + 12
        if sizes[:16] == struct.pack("<QQ", entry.compress_size, entry.file_size):
            return data_end + len(signature) + 20
    return None


def _member_runs(kept: list[_Kept]) -> list[tuple[int, int, list[_Kept]]]:
    """Kept members grouped into runs of adjacent records: (start, end, members), in file order."""
    runs: list[tuple[int, int, list[_Kept]]] = []
    for member in sorted(kept, key=lambda member: member.start):
        if runs and runs[-1][1] == member.start:
            start, _end, members = runs[-1]
            members.append(member)
            runs[-1] = (start, member.end, members)
        else:
            runs.append((member.start, member.end, [member]))
    return runs


def _write_new_archive(
    source: BinaryIO,
    target: BinaryIO,
    kept: list[_Kept],
    layout: ZipLayout,
    xml_bytes: bytes | None,
    *,
    compact: bool = False,
) -> None:
    first_record = min(entry.header_offset for entry in layout.entries) + layout.shift
    _copy_range(source, target, 0, first_record)  # any prefix (self-extractor stub) stays as it is
    # Members after a gap may move towards the end; keep their 32-bit offsets valid.
    may_grow = layout.cd_start + len(xml_bytes or b"") + 2 * CLONE_BLOCK < 0xFFFFFFFF
    comicinfo_central = None if xml_bytes is not None else b""  # b"": no ComicInfo.xml to write
    for run_start, run_end, members in _member_runs(kept):
        in_gap = may_grow and not compact and target.tell() != run_start
        if comicinfo_central is None and xml_bytes is not None and in_gap:
            local, comicinfo_central = comicinfo_record(xml_bytes, target.tell(), end_at=run_start)
            target.write(local)
        for member in members:
            member.new_offset = target.tell() + (member.start - run_start)
        _copy_range(source, target, run_start, run_end - run_start)
    if comicinfo_central is None and xml_bytes is not None:
        local, comicinfo_central = comicinfo_record(xml_bytes, target.tell())
        target.write(local)
    cd_offset = target.tell()
    target.write(b"".join(with_offset(member.entry, member.new_offset) for member in kept))  # original order
    target.write(comicinfo_central or b"")
    target.write(
        end_records(
            len(kept) + (xml_bytes is not None), cd_offset, target.tell() - cd_offset, layout.comment, layout.zip64
        )
    )


def _verify(temporary: Path, kept: list[_Kept], xml_bytes: bytes | None, path: Path) -> None:
    """Re-read the new archive: same members with the same CRC, sizes, flags and local headers; ComicInfo right."""
    failed = "verification failed ({}); the original is unchanged"
    try:
        with open(temporary, "rb") as handle, zipfile.ZipFile(handle) as written:
            infos = written.infolist()
            if len(infos) != len(kept) + (xml_bytes is not None):
                raise ArchiveError(failed.format("member count differs"), path=path)
            for member, new in zip(kept, infos, strict=False):
                old = member.info
                if (new.filename, new.CRC, new.compress_size, new.file_size, new.compress_type, new.flag_bits) != (
                    old.filename,
                    old.CRC,
                    old.compress_size,
                    old.file_size,
                    old.compress_type,
                    old.flag_bits,
                ):
                    raise ArchiveError(failed.format(f"member {old.filename!r} differs"), path=path)
                if os.pread(handle.fileno(), len(member.local_header), member.new_offset) != member.local_header:
                    raise ArchiveError(failed.format(f"local header of {old.filename!r} misplaced"), path=path)
            # (read checks the CRC)
            if xml_bytes is not None and (infos[-1].filename != COMICINFO or written.read(COMICINFO) != xml_bytes):
                raise ArchiveError(failed.format("ComicInfo.xml reads back differently"), path=path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ArchiveError(failed.format(exc), path=path) from None
