"""Comic archives: reading CBZ/CBR/CB7, and writing ComicInfo.xml into a CBZ without risk.

Writing never touches the original until the new archive is complete and verified:
the members are copied *raw* (compressed bytes, CRCs and headers unchanged — no page is
ever decompressed or recompressed) into a temporary file in the same folder, the new
ComicInfo.xml is appended, a new central directory is written, the file is fsynced and
re-read, and only then ``os.replace`` swaps it in (atomic on POSIX). A killed writer
leaves at worst a ``.bdnex-tmp-<pid>-…`` file, removed by :func:`cleanup_stale_temp_files`.

Permissions: the new file gets the original's mode bits. Modification time: "now", so
tools that watch mtimes (Komga, calibre) see the change; ``preserve_mtime=True`` (config
``archives.preserve_mtime``) keeps the original's.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import struct
import subprocess
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from bdnex_core.errors import ArchiveError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".avif", ".jxl", ".tif", ".tiff"})
COMICINFO = "ComicInfo.xml"
TEMP_PREFIX = ".bdnex-tmp-"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
RAR_MAGIC = (b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00")
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
_NATURAL = re.compile(r"(\d+)")
COPY_CHUNK = 8 * 1024 * 1024


def natural_key(name: str) -> list[object]:
    """'page2' before 'page10': digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in _NATURAL.split(name)]


def is_page(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    if name.endswith("/") or any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
        return False
    return path.suffix.lower() in IMAGE_SUFFIXES


def _unsafe(name: str) -> bool:
    normalized = name.replace("\\", "/")
    return normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized) is not None or ".." in normalized.split("/")


def detect_kind(path: Path) -> str:
    """'cbz', 'cbr' or 'cb7' from the content (a .cbr that is really a zip is common)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise ArchiveError("file not found (moved or deleted?)", path=path) from None
    except OSError as exc:
        raise ArchiveError(f"cannot read: {exc.strerror}", path=path) from None
    if not head:
        raise ArchiveError("empty file (0 bytes)", path=path)
    if head.startswith(ZIP_MAGIC):
        return "cbz"
    if head.startswith(RAR_MAGIC):
        return "cbr"
    if head.startswith(SEVENZIP_MAGIC):
        return "cb7"
    raise ArchiveError("not a comic archive (neither zip, RAR nor 7z)", path=path)


class ComicArchive:
    """Read access common to every kind. Use as a context manager."""

    kind = ""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> ComicArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden where needed
        pass

    def names(self) -> list[str]:
        raise NotImplementedError

    def read_member(self, name: str) -> bytes:
        raise NotImplementedError

    def pages(self) -> list[str]:
        return sorted((name for name in self.names() if is_page(name)), key=natural_key)

    def comicinfo_bytes(self) -> bytes | None:
        name = next((name for name in self.names() if name == COMICINFO), None)
        if name is None:
            name = next((name for name in self.names() if name.lower() == COMICINFO.lower()), None)
        return self.read_member(name) if name else None

    def cover_page(self, frontcover_index: int | None = None) -> str | None:
        pages = self.pages()
        if not pages:
            return None
        if frontcover_index is not None and 0 <= frontcover_index < len(pages):
            return pages[frontcover_index]
        return pages[0]


class ZipComic(ComicArchive):
    kind = "cbz"

    def __init__(self, path: Path):
        super().__init__(path)
        try:
            self.zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise ArchiveError(f"damaged or truncated zip ({exc})", path=path) from None
        except OSError as exc:
            raise ArchiveError(f"cannot read: {exc.strerror}", path=path) from None
        self.infos = self.zip.infolist()
        seen: set[str] = set()
        for info in self.infos:
            if info.flag_bits & 0x1:
                self.zip.close()
                raise ArchiveError(f"encrypted member {info.filename!r}: password-protected archives are not supported", path=path)
            if _unsafe(info.filename):
                self.zip.close()
                raise ArchiveError(f"unsafe member name {info.filename!r} (absolute or with '..')", path=path)
            if info.filename in seen:
                self.zip.close()
                raise ArchiveError(f"duplicate member name {info.filename!r}", path=path)
            seen.add(info.filename)

    def close(self) -> None:
        self.zip.close()

    def names(self) -> list[str]:
        return [info.filename for info in self.infos]

    def read_member(self, name: str) -> bytes:
        try:
            return self.zip.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ArchiveError(f"member {name!r} is damaged ({exc})", path=self.path) from None


class RarComic(ComicArchive):
    kind = "cbr"

    def __init__(self, path: Path):
        super().__init__(path)
        import rarfile

        try:
            self.rar = rarfile.RarFile(str(path))
            self.infos = self.rar.infolist()
        except rarfile.NeedFirstVolume:
            raise ArchiveError("a later volume of a multi-volume RAR", path=path) from None
        except (rarfile.Error, OSError) as exc:
            raise ArchiveError(f"damaged RAR archive ({exc})", path=path) from None
        for info in self.infos:
            if info.needs_password():
                raise ArchiveError(f"encrypted member {info.filename!r}: password-protected archives are not supported", path=path)
            if _unsafe(info.filename):
                raise ArchiveError(f"unsafe member name {info.filename!r} (absolute or with '..')", path=path)

    def close(self) -> None:
        self.rar.close()

    def names(self) -> list[str]:
        return [info.filename for info in self.infos if not info.is_dir()]

    def read_member(self, name: str) -> bytes:
        import rarfile

        try:
            return self.rar.read(name)
        except rarfile.RarCannotExec:
            raise ArchiveError("no RAR backend installed: install unar, 7zip or libarchive-tools (bsdtar)", path=self.path) from None
        except (rarfile.Error, OSError) as exc:
            raise ArchiveError(f"cannot extract {name!r} ({exc})", path=self.path) from None


class SevenZipComic(ComicArchive):
    """CB7 through the ``7z`` program (Debian package 7zip)."""

    kind = "cb7"

    def __init__(self, path: Path):
        super().__init__(path)
        self.tool = shutil.which("7z") or shutil.which("7zz") or shutil.which("7za")
        if self.tool is None:
            raise ArchiveError("no 7z program installed to read CB7 (Debian package 7zip)", path=path)
        listing = self._run(["l", "-slt", "-ba", str(path)])
        self._names = [line[7:] for line in listing.decode("utf-8", "replace").splitlines() if line.startswith("Path = ")]
        for name in self._names:
            if _unsafe(name):
                raise ArchiveError(f"unsafe member name {name!r} (absolute or with '..')", path=path)

    def _run(self, arguments: list[str]) -> bytes:
        result = subprocess.run([self.tool, *arguments, "-p"], capture_output=True, timeout=300)  # type: ignore[list-item]
        if result.returncode != 0:
            message = (result.stderr or result.stdout).decode("utf-8", "replace").strip().splitlines()
            raise ArchiveError(f"7z cannot read it ({message[-1] if message else result.returncode})", path=self.path)
        return result.stdout

    def names(self) -> list[str]:
        return list(self._names)

    def read_member(self, name: str) -> bytes:
        return self._run(["e", "-so", str(self.path), name])


def open_archive(path: str | os.PathLike[str]) -> ComicArchive:
    """Open a comic archive of any supported kind (detected from its content)."""
    path = Path(path)
    kind = detect_kind(path)
    if kind == "cbz":
        return ZipComic(path)
    if kind == "cbr":
        return RarComic(path)
    return SevenZipComic(path)


# ---------------------------------------------------------------------- writing


@dataclass
class _Member:
    info: zipfile.ZipInfo
    start: int  # local header offset in the original
    end: int    # where its record (header, data, data descriptor) ends


def _central_directory(handle: BinaryIO, size: int) -> tuple[int, int, bytes, bool]:
    """(start, size, archive comment, zip64) of the central directory, from the end records."""
    tail_size = min(size, 65536 + 22 + 20 + 56)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0:
        raise ArchiveError("no end of central directory: damaged or truncated zip")
    (_sig, _disk, _cd_disk, _disk_entries, _entries, cd_size, cd_offset, comment_length) = struct.unpack(
        "<4s4H2LH", tail[position:position + 22])
    comment = tail[position + 22:position + 22 + comment_length]
    zip64 = False
    locator = tail.rfind(b"PK\x06\x07", 0, position)
    if locator >= 0 and position - locator == 20:
        zip64 = True
        (_sig, _disk, eocd64_offset, _disks) = struct.unpack("<4sLQL", tail[locator:locator + 20])
        handle.seek(eocd64_offset)
        record = handle.read(56)
        (_sig, _size, _made, _needed, _disk, _cd_disk, _disk_entries, _entries, cd_size, cd_offset) = struct.unpack(
            "<4sQ2H2L4Q", record)
    return cd_offset, cd_size, comment, zip64


def _patch_offset(record: bytearray, new_offset: int) -> None:
    """Set the local header offset of one central directory record (plain or zip64 extra)."""
    (name_length, extra_length) = struct.unpack("<HH", record[28:32])
    old = struct.unpack("<L", record[42:46])[0]
    if old != 0xFFFFFFFF:
        if new_offset >= 0xFFFFFFFF:
            raise ArchiveError("the archive grows past 4 GB without zip64 offsets: not supported")
        record[42:46] = struct.pack("<L", new_offset)
        return
    extra_start = 46 + name_length
    position = extra_start
    while position + 4 <= extra_start + extra_length:
        header_id, data_size = struct.unpack("<HH", record[position:position + 4])
        if header_id == 0x0001:
            field_position = position + 4
            if struct.unpack("<L", record[24:28])[0] == 0xFFFFFFFF:  # uncompressed size present
                field_position += 8
            if struct.unpack("<L", record[20:24])[0] == 0xFFFFFFFF:  # compressed size present
                field_position += 8
            record[field_position:field_position + 8] = struct.pack("<Q", new_offset)
            return
        position += 4 + data_size
    raise ArchiveError("a zip64 record without its offset field: damaged zip")


def _copy_range(source: BinaryIO, target: BinaryIO, start: int, length: int) -> None:
    source.seek(start)
    target.flush()
    remaining = length
    if hasattr(os, "copy_file_range"):
        try:
            in_position, out_position = start, target.tell()
            while remaining:
                copied = os.copy_file_range(source.fileno(), target.fileno(), min(remaining, 1 << 30), in_position, out_position)
                if copied == 0:
                    break
                remaining -= copied
                in_position += copied
                out_position += copied
            target.seek(out_position)
            if remaining == 0:
                return
            source.seek(in_position)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            source.seek(start + (length - remaining))
    while remaining:
        chunk = source.read(min(COPY_CHUNK, remaining))
        if not chunk:
            raise ArchiveError("the archive ended while it was being copied (changed or truncated meanwhile?)")
        target.write(chunk)
        remaining -= len(chunk)


def _local_entry(name: str, data: bytes, date_time: tuple[int, int, int, int, int, int]) -> tuple[bytes, bytes, int, int, int]:
    """(local header + data, the central record's fixed fields, crc, compressed size, size) of a deflated entry."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = compressor.compress(data) + compressor.flush()
    crc = zlib.crc32(data) & 0xFFFFFFFF
    encoded = name.encode("utf-8")
    dos_time = (date_time[3] << 11) | (date_time[4] << 5) | (date_time[5] // 2)
    dos_date = ((date_time[0] - 1980) << 9) | (date_time[1] << 5) | date_time[2]
    flags = 0x0800  # UTF-8 name
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, 8, dos_time, dos_date, crc, len(compressed), len(data),
                        len(encoded), 0) + encoded + compressed
    central_fields = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", (3 << 8) | 20, 20, flags, 8, dos_time, dos_date, crc,
                                 len(compressed), len(data), len(encoded), 0, 0, 0, 0, 0o100644 << 16, 0)
    return local, central_fields + encoded, crc, len(compressed), len(data)


def _temp_path(path: Path) -> Path:
    return path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}")


def _discard(temporary: Path) -> None:
    """Remove a temporary file; never hide the real error behind a second one (read-only disk...)."""
    try:
        temporary.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_directory(folder: Path) -> None:
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


def _os_error(exc: OSError, path: Path) -> ArchiveError:
    if exc.errno == errno.ENOSPC:
        return ArchiveError("no space left on the device; the original is unchanged", path=path)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ArchiveError(f"not allowed to write here ({exc.strerror}); the original is unchanged", path=path)
    return ArchiveError(f"{exc.strerror or exc}; the original is unchanged", path=path)


def _finish(temporary: Path, path: Path, original_stat: os.stat_result, preserve_mtime: bool) -> None:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        raise ArchiveError("the file vanished while it was being processed; nothing written", path=path) from None
    if (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) != (
            original_stat.st_ino, original_stat.st_dev, original_stat.st_size, original_stat.st_mtime_ns):
        raise ArchiveError("the file changed while it was being processed; nothing written", path=path)
    os.chmod(temporary, original_stat.st_mode & 0o7777)
    if preserve_mtime:
        os.utime(temporary, ns=(original_stat.st_atime_ns, original_stat.st_mtime_ns))
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def write_comicinfo(path: str | os.PathLike[str], xml_bytes: bytes, *, preserve_mtime: bool = False) -> None:
    """Put ``xml_bytes`` as ComicInfo.xml into the CBZ at ``path``, atomically, without recompressing anything."""
    path = Path(path)
    if detect_kind(path) != "cbz":
        raise ArchiveError("ComicInfo can only be written into a zip (CBZ); convert it first", path=path)
    with ZipComic(path) as comic:  # validates: encryption, unsafe or duplicate names
        infos = comic.infos
        if not any(is_page(info.filename) for info in infos):
            raise ArchiveError("no image pages in the archive", path=path)
    temporary = _temp_path(path)
    try:
        original_stat = os.stat(path)
        with open(path, "rb") as source:
            cd_offset, cd_size, comment, zip64 = _central_directory(source, original_stat.st_size)
            source.seek(cd_offset)
            central = source.read(cd_size)
            if len(central) != cd_size:
                raise ArchiveError("the central directory is cut: damaged zip", path=path)
            ordered = sorted(infos, key=lambda info: info.header_offset)
            members = [
                _Member(info, info.header_offset, ordered[index + 1].header_offset if index + 1 < len(ordered) else cd_offset)
                for index, info in enumerate(ordered)
            ]
            kept = [member for member in members if member.info.filename != COMICINFO]
            records = _central_records(central, path)
            with open(temporary, "xb") as target:
                new_offsets: dict[str, int] = {}
                first = ordered[0].header_offset if ordered else 0
                _copy_range(source, target, 0, first)  # whatever precedes the first member
                run_start = run_end = None
                for member in kept:  # copy raw, merging adjacent records into one big copy
                    if run_end is not None and member.start == run_end:
                        run_end = member.end
                    else:
                        if run_start is not None:
                            _copy_range(source, target, run_start, run_end - run_start)  # type: ignore[operator]
                        run_start, run_end = member.start, member.end
                    new_offsets[member.info.filename] = target.tell() + (member.start - run_start)  # type: ignore[operator]
                if run_start is not None:
                    _copy_range(source, target, run_start, run_end - run_start)  # type: ignore[operator]
                now = _dos_now()
                comicinfo_offset = target.tell()
                local, central_record, _crc, _compressed, _size = _local_entry(COMICINFO, xml_bytes, now)
                target.write(local)
                new_cd_offset = target.tell()
                for member in kept:
                    record = bytearray(records[member.info.filename])
                    _patch_offset(record, new_offsets[member.info.filename])
                    target.write(record)
                record = bytearray(central_record)
                _patch_offset(record, comicinfo_offset)
                target.write(record)
                new_cd_size = target.tell() - new_cd_offset
                _write_end_records(target, len(kept) + 1, new_cd_offset, new_cd_size, comment, zip64)
                target.flush()
                os.fsync(target.fileno())
        _verify(temporary, path, infos, xml_bytes)
        _finish(temporary, path, original_stat, preserve_mtime)
    except ArchiveError:
        _discard(temporary)
        raise
    except OSError as exc:
        _discard(temporary)
        raise _os_error(exc, path) from None
    except BaseException:
        _discard(temporary)
        raise


def _dos_now() -> tuple[int, int, int, int, int, int]:
    import time

    now = time.localtime()
    return (max(now.tm_year, 1980), now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min, now.tm_sec)


def _central_records(central: bytes, path: Path) -> dict[str, bytes]:
    """The raw central directory record of each member, by name (as zipfile decodes it)."""
    records: dict[str, bytes] = {}
    position = 0
    while position + 46 <= len(central):
        if central[position:position + 4] != b"PK\x01\x02":
            raise ArchiveError("a damaged central directory record", path=path)
        flags, = struct.unpack("<H", central[position + 8:position + 10])
        name_length, extra_length, comment_length = struct.unpack("<3H", central[position + 28:position + 34])
        end = position + 46 + name_length + extra_length + comment_length
        raw_name = central[position + 46:position + 46 + name_length]
        name = raw_name.decode("utf-8") if flags & 0x800 else raw_name.decode("cp437")
        records[name] = central[position:end]
        position = end
    return records


def _write_end_records(target: BinaryIO, entries: int, cd_offset: int, cd_size: int, comment: bytes, zip64: bool) -> None:
    needs_zip64 = zip64 or entries >= 0xFFFF or cd_offset >= 0xFFFFFFFF or cd_size >= 0xFFFFFFFF
    if needs_zip64:
        eocd64_offset = target.tell()
        target.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset))
        target.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd64_offset, 1))
    target.write(struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, min(entries, 0xFFFF), min(entries, 0xFFFF),
        min(cd_size, 0xFFFFFFFF), min(cd_offset, 0xFFFFFFFF), len(comment)) + comment)


def _verify(temporary: Path, path: Path, original: list[zipfile.ZipInfo], xml_bytes: bytes) -> None:
    """Re-read the new archive: every member present with the same CRC and sizes, ComicInfo right."""
    try:
        with zipfile.ZipFile(temporary) as written:
            by_name = {info.filename: info for info in written.infolist()}
            expected = [info for info in original if info.filename != COMICINFO]
            if len(by_name) != len(expected) + 1 or len(written.infolist()) != len(expected) + 1:
                raise ArchiveError("verification failed: member count differs after writing", path=path)
            for info in expected:
                new = by_name.get(info.filename)
                if new is None or (new.CRC, new.compress_size, new.file_size, new.compress_type) != (
                        info.CRC, info.compress_size, info.file_size, info.compress_type):
                    raise ArchiveError(f"verification failed for {info.filename!r}; the original is unchanged", path=path)
            if written.read(COMICINFO) != xml_bytes:
                raise ArchiveError("verification failed: ComicInfo.xml reads back differently", path=path)
    except (zipfile.BadZipFile, zlib.error) as exc:
        raise ArchiveError(f"verification failed ({exc}); the original is unchanged", path=path) from None


def cleanup_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files left by writers that were killed (their process is gone)."""
    removed = []
    for candidate in Path(folder).glob(f"{TEMP_PREFIX}*"):
        pid_text = candidate.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and _process_alive(int(pid_text)):
            continue
        try:
            candidate.unlink()
            removed.append(candidate)
        except FileNotFoundError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def convert_to_cbz(path: str | os.PathLike[str], xml_bytes: bytes, *, delete_original: bool = False) -> Path:
    """Write ``<name>.cbz`` beside a CBR/CB7 with the same pages (stored, byte-identical) and ComicInfo."""
    path = Path(path)
    target = path.with_suffix(".cbz")
    if target.exists():
        raise ArchiveError(f"{target.name} already exists beside it; not overwriting", path=path)
    temporary = _temp_path(target)
    try:
        with open_archive(path) as comic:
            if comic.kind == "cbz":
                raise ArchiveError("already a zip: rename it to .cbz instead of converting", path=path)
            pages = comic.pages()
            if not pages:
                raise ArchiveError("no image pages in the archive", path=path)
            original_stat = os.stat(path)
            with zipfile.ZipFile(temporary, "x", compression=zipfile.ZIP_STORED) as written:
                for name in comic.names():
                    if name == COMICINFO or name.endswith("/"):
                        continue
                    written.writestr(zipfile.ZipInfo(name, date_time=_dos_now()), comic.read_member(name))
                written.writestr(zipfile.ZipInfo(COMICINFO, date_time=_dos_now()), xml_bytes, compress_type=zipfile.ZIP_DEFLATED)
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            with zipfile.ZipFile(temporary) as check, open_archive(path) as again:
                for name in again.pages():
                    if check.read(name) != again.read_member(name):
                        raise ArchiveError(f"verification failed for {name!r}", path=path)
        os.chmod(temporary, original_stat.st_mode & 0o7777)
        if target.exists():
            raise ArchiveError(f"{target.name} appeared meanwhile; not overwriting", path=path)
        os.replace(temporary, target)
        _fsync_directory(target.parent)
    except ArchiveError:
        _discard(temporary)
        raise
    except OSError as exc:
        _discard(temporary)
        raise _os_error(exc, path) from None
    except BaseException:
        _discard(temporary)
        raise
    if delete_original:
        path.unlink()
    return target
