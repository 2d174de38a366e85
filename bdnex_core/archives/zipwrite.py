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
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
    replace_checked,
    temporary_beside,
)
from bdnex_core.errors import ArchiveError

COPY_CHUNK = 8 * 1024 * 1024
COPY_SLICE = 1 << 30  # per copy_file_range call
CLONE_BLOCK = 4096  # the block size of XFS, btrfs and ext4
_ALIGNMENT_EXTRA = 0xD935  # the id Android's zipalign uses for padding: 2 bytes of alignment, then zeros
_PADDING_HEADER = struct.Struct("<HHH")  # extra id, data size, alignment
_EOCD = struct.Struct("<4s4H2LH")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR = struct.Struct("<4sLQL")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")


@dataclass
class CentralEntry:
    """One central directory record, raw, with the fields we need decoded (zip64 resolved)."""

    record: bytes
    crc: int
    compress_size: int
    file_size: int
    header_offset: int  # as stored (before adding any prefix shift)


@dataclass
class ZipLayout:
    entries: list[CentralEntry]
    cd_start: int  # where the central directory physically starts
    shift: int  # bytes of prefix data not counted in stored offsets (self-extractor stubs)
    comment: bytes
    zip64: bool


def read_layout(handle: BinaryIO, size: int, path: Path) -> ZipLayout:
    """Parse the end records and the central directory ourselves (zipfile hides the raw records)."""
    tail_size = min(size, 65536 + _EOCD.size + _LOCATOR.size + _EOCD64.size)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or position + _EOCD.size > len(tail):
        raise ArchiveError("no end of central directory: damaged or truncated zip", path=path)
    (_sig, _disk, _cd_disk, _disk_entries, count, cd_size, cd_offset, comment_length) = _EOCD.unpack_from(
        tail, position
    )
    comment = tail[position + _EOCD.size : position + _EOCD.size + comment_length]
    eocd_at = size - tail_size + position
    zip64 = False
    records_end = eocd_at
    locator = position - _LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        zip64 = True
        (_sig, _disk, _eocd64_offset, _disks) = _LOCATOR.unpack_from(tail, locator)
        records_end = eocd_at - _LOCATOR.size - _EOCD64.size
        handle.seek(records_end)
        record = handle.read(_EOCD64.size)
        if len(record) != _EOCD64.size or record[:4] != b"PK\x06\x06":
            raise ArchiveError("a damaged zip64 end record", path=path)
        (_sig, _size, _made, _needed, _disk, _cd_disk, _disk_entries, count, cd_size, cd_offset) = _EOCD64.unpack(
            record
        )
    cd_start = records_end - cd_size
    shift = cd_start - cd_offset
    if cd_start < 0 or shift < 0:
        raise ArchiveError("central directory offsets point outside the file: damaged zip", path=path)
    handle.seek(cd_start)
    central = handle.read(cd_size)
    if len(central) != cd_size:
        raise ArchiveError("the central directory is cut: damaged zip", path=path)
    entries = _central_entries(central, path)
    if len(entries) != count:
        raise ArchiveError(
            f"the central directory lists {len(entries)} members, its end record says {count}", path=path
        )
    return ZipLayout(entries, cd_start, shift, comment, zip64)


def _central_entries(central: bytes, path: Path) -> list[CentralEntry]:
    entries = []
    position = 0
    while position < len(central):
        if central[position : position + 4] != b"PK\x01\x02" or position + _CENTRAL.size > len(central):
            raise ArchiveError("a damaged central directory record", path=path)
        fields = _CENTRAL.unpack_from(central, position)
        crc, compress_size, file_size = fields[7], fields[8], fields[9]
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        header_offset = fields[16]
        end = position + _CENTRAL.size + name_length + extra_length + comment_length
        extra_start = position + _CENTRAL.size + name_length
        extra = central[extra_start : extra_start + extra_length]
        if 0xFFFFFFFF in (compress_size, file_size, header_offset):
            file_size, compress_size, header_offset = _zip64_values(
                extra, file_size, compress_size, header_offset, path
            )
        entries.append(CentralEntry(central[position:end], crc, compress_size, file_size, header_offset))
        position = end
    return entries


def _zip64_values(extra: bytes, file_size: int, compress_size: int, offset: int, path: Path) -> tuple[int, int, int]:
    position = 0
    while position + 4 <= len(extra):
        header_id, data_size = struct.unpack_from("<HH", extra, position)
        if header_id == 0x0001:
            values = extra[position + 4 : position + 4 + data_size]
            cursor = 0
            resolved = []
            for value in (file_size, compress_size, offset):
                if value == 0xFFFFFFFF:
                    if cursor + 8 > len(values):
                        raise ArchiveError("a zip64 field is missing: damaged zip", path=path)
                    value = struct.unpack_from("<Q", values, cursor)[0]
                    cursor += 8
                resolved.append(value)
            return resolved[0], resolved[1], resolved[2]
        position += 4 + data_size
    raise ArchiveError("a zip64 record without its extra field: damaged zip", path=path)


def _with_offset(entry: CentralEntry, new_offset: int) -> bytes:
    """The central record with its local-header offset set (in place: 32-bit or zip64 extra)."""
    record = bytearray(entry.record)
    stored = struct.unpack_from("<L", record, 42)[0]
    if stored != 0xFFFFFFFF:
        # A 32-bit offset still fits: members move towards the end only while the archive stays under 4 GiB.
        struct.pack_into("<L", record, 42, new_offset)
        return bytes(record)
    name_length, extra_length = struct.unpack_from("<HH", record, 28)
    position = 46 + name_length
    end = position + extra_length
    while position + 4 <= end:
        header_id, data_size = struct.unpack_from("<HH", record, position)
        if header_id == 0x0001:
            cursor = position + 4
            cursor += 8 * sum(1 for at in (24, 20) if struct.unpack_from("<L", record, at)[0] == 0xFFFFFFFF)
            struct.pack_into("<Q", record, cursor, new_offset)
            return bytes(record)
        position += 4 + data_size
    raise ArchiveError("a zip64 record without its offset field: damaged zip")


def _local_header(handle: BinaryIO, offset: int, path: Path) -> bytes:
    """The whole local header (fixed part, name, extra) at ``offset``."""
    handle.seek(offset)
    header = handle.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise ArchiveError(
            f"no local header where the central directory points (offset {offset}): damaged zip", path=path
        )
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    return header + handle.read(name_length + extra_length)


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


def _dos_time(moment: float) -> tuple[int, int]:
    now = time.localtime(moment)
    if now.tm_year < 1980:
        return 0, (0 << 9) | (1 << 5) | 1
    return (
        (now.tm_hour << 11) | (now.tm_min << 5) | (now.tm_sec // 2),
        ((now.tm_year - 1980) << 9) | (now.tm_mon << 5) | now.tm_mday,
    )


def _comicinfo_entry(data: bytes, offset: int, *, end_at: int | None = None) -> tuple[bytes, bytes]:
    """(local header + deflated data, central record) of a root ComicInfo.xml at ``offset``.

    With ``end_at``, the local header carries a padding extra field so that the record ends at an
    offset congruent to ``end_at`` modulo CLONE_BLOCK (the next member then stays block-aligned).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = compressor.compress(data) + compressor.flush()
    crc = zlib.crc32(data) & 0xFFFFFFFF
    name = COMICINFO.encode("ascii")
    dos_time, dos_date = _dos_time(time.time())
    flags = 0x0800  # UTF-8 names
    local_extra = b""
    if end_at is not None:
        unpadded_end = offset + _LOCAL.size + len(name) + _PADDING_HEADER.size + len(compressed)
        zeros = (end_at - unpadded_end) % CLONE_BLOCK
        local_extra = _PADDING_HEADER.pack(_ALIGNMENT_EXTRA, 2 + zeros, CLONE_BLOCK) + bytes(zeros)
    local = (
        _LOCAL.pack(
            b"PK\x03\x04",
            20,
            flags,
            zipfile.ZIP_DEFLATED,
            dos_time,
            dos_date,
            crc,
            len(compressed),
            len(data),
            len(name),
            len(local_extra),
        )
        + name
        + local_extra
        + compressed
    )
    extra = b""
    stored_offset = offset
    needed = 20
    if offset >= 0xFFFFFFFF:
        extra = struct.pack("<HHQ", 0x0001, 8, offset)
        stored_offset, needed = 0xFFFFFFFF, 45
    central = (
        _CENTRAL.pack(
            b"PK\x01\x02",
            (3 << 8) | needed,
            needed,
            flags,
            zipfile.ZIP_DEFLATED,
            dos_time,
            dos_date,
            crc,
            len(compressed),
            len(data),
            len(name),
            len(extra),
            0,
            0,
            0,
            0o100644 << 16,
            stored_offset,
        )
        + name
        + extra
    )
    return local, central


def _write_end_records(
    target: BinaryIO, entries: int, cd_offset: int, cd_size: int, comment: bytes, zip64: bool
) -> None:
    if zip64 or entries >= 0xFFFF or cd_offset >= 0xFFFFFFFF or cd_size >= 0xFFFFFFFF:
        eocd64_offset = target.tell()
        target.write(_EOCD64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset))
        target.write(_LOCATOR.pack(b"PK\x06\x07", 0, eocd64_offset, 1))
    target.write(
        _EOCD.pack(
            b"PK\x05\x06",
            0,
            0,
            min(entries, 0xFFFF),
            min(entries, 0xFFFF),
            min(cd_size, 0xFFFFFFFF),
            min(cd_offset, 0xFFFFFFFF),
            len(comment),
        )
        + comment
    )


@dataclass
class _Kept:
    info: zipfile.ZipInfo
    entry: CentralEntry
    start: int  # record start in the original file
    end: int  # record end (next record, or the central directory)
    local_header: bytes  # the original local header, for verification
    new_offset: int = 0


def write_comicinfo(path: str | os.PathLike[str], xml_bytes: bytes | None, *, preserve_mtime: bool = False) -> None:
    """Put ``xml_bytes`` as the root ComicInfo.xml of the CBZ at ``path``: atomic, nothing recompressed.
    ``None`` removes the ComicInfo.xml (undoing a first tagging gives the file back as it was).

    An existing ComicInfo.xml (any letter case) is replaced; two of them are refused. On any failure
    the original is untouched and the temporary file is removed. Permissions and mtime: see
    :mod:`bdnex_core.archives.safefile`.
    """
    path = Path(path)
    if path.is_symlink():  # the swap would turn the link into a copy; the library resolves links it follows
        raise ArchiveError("a symbolic link: not written through (tag the file it leads to)", path=path)
    if detect_kind(path) != "cbz":
        raise ArchiveError("ComicInfo can only be written into a zip (CBZ); convert it first", path=path)
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
        kept, layout = _plan(source, original.st_size, path)
        with temporary_beside(path, reported_as=path) as temporary:
            with open(temporary, "xb") as target:
                _write_new_archive(source, target, kept, layout, xml_bytes)
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


def _plan(source: BinaryIO, size: int, path: Path) -> tuple[list[_Kept], ZipLayout]:
    """Validate the zip (through zipfile and our own parse, which must agree) and list what to keep."""
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
        local_header = _local_header(source, start, path)
        if start + len(local_header) + entry.compress_size > next_start[start]:
            raise ArchiveError(f"member {info.filename!r} runs past the next one: damaged zip", path=path)
        if not is_comicinfo_name(info.filename):
            kept.append(_Kept(info, entry, start, next_start[start], local_header))
    return kept, layout


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
    source: BinaryIO, target: BinaryIO, kept: list[_Kept], layout: ZipLayout, xml_bytes: bytes | None
) -> None:
    first_record = min(entry.header_offset for entry in layout.entries) + layout.shift
    _copy_range(source, target, 0, first_record)  # any prefix (self-extractor stub) stays as it is
    # Members after a gap may move towards the end; keep their 32-bit offsets valid.
    may_grow = layout.cd_start + len(xml_bytes or b"") + 2 * CLONE_BLOCK < 0xFFFFFFFF
    comicinfo_central = None if xml_bytes is not None else b""  # b"": no ComicInfo.xml to write
    for run_start, run_end, members in _member_runs(kept):
        if comicinfo_central is None and xml_bytes is not None and may_grow and target.tell() != run_start:
            local, comicinfo_central = _comicinfo_entry(xml_bytes, target.tell(), end_at=run_start)
            target.write(local)
        for member in members:
            member.new_offset = target.tell() + (member.start - run_start)
        _copy_range(source, target, run_start, run_end - run_start)
    if comicinfo_central is None and xml_bytes is not None:
        local, comicinfo_central = _comicinfo_entry(xml_bytes, target.tell())
        target.write(local)
    cd_offset = target.tell()
    target.write(b"".join(_with_offset(member.entry, member.new_offset) for member in kept))  # original order
    target.write(comicinfo_central or b"")
    _write_end_records(
        target, len(kept) + (xml_bytes is not None), cd_offset, target.tell() - cd_offset, layout.comment, layout.zip64
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
