"""The zip format as bdnex-core writes it: end records, central directory records, a ComicInfo.xml record.

Python's zipfile hides the raw records, and both ways of writing ComicInfo.xml need them: the copy
path (:mod:`~bdnex_core.archives.zipwrite`) copies every record byte for byte and rewrites only
offsets; the in-place path (:mod:`~bdnex_core.archives.inplace`) copies the central records as they
are. :func:`read_layout` parses an archive's end records and central directory (zip64 resolved).
"""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bdnex_core.archives.reading import COMICINFO
from bdnex_core.errors import ArchiveError

CLONE_BLOCK = 4096  # the block size of XFS, btrfs and ext4
_ALIGNMENT_EXTRA = 0xD935  # the id Android's zipalign uses for padding: 2 bytes of alignment, then zeros
_PADDING_HEADER = struct.Struct("<HHH")  # extra id, data size, alignment
EOCD = struct.Struct("<4s4H2LH")
EOCD64 = struct.Struct("<4sQ2H2L4Q")
LOCATOR = struct.Struct("<4sLQL")
CENTRAL = struct.Struct("<4s6H3L5H2L")
LOCAL = struct.Struct("<4s5H3L2H")


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
    tail_size = min(size, 65536 + EOCD.size + LOCATOR.size + EOCD64.size)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or position + EOCD.size > len(tail):
        raise ArchiveError("no end of central directory: damaged or truncated zip", path=path)
    (_sig, _disk, _cd_disk, _disk_entries, count, cd_size, cd_offset, comment_length) = EOCD.unpack_from(tail, position)
    comment = tail[position + EOCD.size : position + EOCD.size + comment_length]
    eocd_at = size - tail_size + position
    zip64 = False
    records_end = eocd_at
    locator = position - LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        zip64 = True
        (_sig, _disk, _eocd64_offset, _disks) = LOCATOR.unpack_from(tail, locator)
        records_end = eocd_at - LOCATOR.size - EOCD64.size
        handle.seek(records_end)
        record = handle.read(EOCD64.size)
        if len(record) != EOCD64.size or record[:4] != b"PK\x06\x06":
            raise ArchiveError("a damaged zip64 end record", path=path)
        (_sig, _size, _made, _needed, _disk, _cd_disk, _disk_entries, count, cd_size, cd_offset) = EOCD64.unpack(record)
    cd_start = records_end - cd_size
    shift = cd_start - cd_offset
    if cd_start < 0 or shift < 0:
        raise ArchiveError("central directory offsets point outside the file: damaged zip", path=path)
    handle.seek(cd_start)
    central = handle.read(cd_size)
    if len(central) != cd_size:
        raise ArchiveError("the central directory is cut: damaged zip", path=path)
    entries = central_entries(central, path)
    if len(entries) != count:
        raise ArchiveError(
            f"the central directory lists {len(entries)} members, its end record says {count}", path=path
        )
    return ZipLayout(entries, cd_start, shift, comment, zip64)


def central_entries(central: bytes, path: Path) -> list[CentralEntry]:
    entries = []
    position = 0
    while position < len(central):
        if central[position : position + 4] != b"PK\x01\x02" or position + CENTRAL.size > len(central):
            raise ArchiveError("a damaged central directory record", path=path)
        fields = CENTRAL.unpack_from(central, position)
        crc, compress_size, file_size = fields[7], fields[8], fields[9]
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        header_offset = fields[16]
        end = position + CENTRAL.size + name_length + extra_length + comment_length
        extra_start = position + CENTRAL.size + name_length
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


def with_offset(entry: CentralEntry, new_offset: int) -> bytes:
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


def read_local_header(handle: BinaryIO, offset: int, path: Path) -> bytes:
    """The whole local header (fixed part, name, extra) at ``offset``."""
    handle.seek(offset)
    header = handle.read(LOCAL.size)
    if len(header) != LOCAL.size or header[:4] != b"PK\x03\x04":
        raise ArchiveError(
            f"no local header where the central directory points (offset {offset}): damaged zip", path=path
        )
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    return header + handle.read(name_length + extra_length)


def dos_timestamp(moment: float) -> tuple[int, int]:
    now = time.localtime(moment)
    if now.tm_year < 1980:
        return 0, (0 << 9) | (1 << 5) | 1
    return (
        (now.tm_hour << 11) | (now.tm_min << 5) | (now.tm_sec // 2),
        ((now.tm_year - 1980) << 9) | (now.tm_mon << 5) | now.tm_mday,
    )


def comicinfo_record(data: bytes, offset: int, *, end_at: int | None = None) -> tuple[bytes, bytes]:
    """(local header + deflated data, central record) of a root ComicInfo.xml at ``offset``.

    With ``end_at``, the local header carries a padding extra field so that the record ends at an
    offset congruent to ``end_at`` modulo CLONE_BLOCK (the next member then stays block-aligned).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = compressor.compress(data) + compressor.flush()
    crc = zlib.crc32(data) & 0xFFFFFFFF
    name = COMICINFO.encode("ascii")
    dos_time, dos_date = dos_timestamp(time.time())
    flags = 0x0800  # UTF-8 names
    local_extra = b""
    if end_at is not None:
        unpadded_end = offset + LOCAL.size + len(name) + _PADDING_HEADER.size + len(compressed)
        zeros = (end_at - unpadded_end) % CLONE_BLOCK
        local_extra = _PADDING_HEADER.pack(_ALIGNMENT_EXTRA, 2 + zeros, CLONE_BLOCK) + bytes(zeros)
    local = (
        LOCAL.pack(
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
        CENTRAL.pack(
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


def end_records(entries: int, cd_offset: int, cd_size: int, comment: bytes, zip64: bool) -> bytes:
    """The end records of an archive whose central directory (``entries`` records, ``cd_size`` bytes)
    starts at ``cd_offset``: zip64 ones too when asked or when a value needs them."""
    records = b""
    if zip64 or entries >= 0xFFFF or cd_offset >= 0xFFFFFFFF or cd_size >= 0xFFFFFFFF:
        eocd64_offset = cd_offset + cd_size
        records += EOCD64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset)
        records += LOCATOR.pack(b"PK\x06\x07", 0, eocd64_offset, 1)
    return (
        records
        + EOCD.pack(
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
