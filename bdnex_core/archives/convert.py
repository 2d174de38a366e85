"""CBR/CB7 → CBZ: the same members, stored (image bytes identical), plus ComicInfo.xml, atomically."""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from pathlib import Path

from bdnex_core.archives.reading import COMICINFO, ArchiveKind, ComicArchive, RarComic, is_comicinfo_name, open_archive
from bdnex_core.archives.safefile import (
    apply_original_attributes,
    fsync_directory,
    replace_checked,
    temporary_beside,
)
from bdnex_core.archives.zipwrite import write_comicinfo
from bdnex_core.errors import ArchiveError


def converted_path(path: Path) -> Path:
    return path.with_suffix(".cbz")


def convert_to_cbz(
    cbr_path: str | os.PathLike[str], xml_bytes: bytes, *, delete_original: bool = False, preserve_mtime: bool = False
) -> Path:
    """Write ``<name>.cbz`` beside a CBR/CB7 and return its path.

    Every file member is stored uncompressed (pages are already compressed images: their bytes are
    identical to the RAR's), the RAR's own ComicInfo.xml is replaced by ``xml_bytes``. An existing
    ``<name>.cbz`` holding the same members (an earlier run stopped before deleting the original)
    only gets its ComicInfo rewritten; a different one is never overwritten.
    """
    path = Path(cbr_path)
    target = converted_path(path)
    with open_archive(path) as comic:
        if comic.kind is ArchiveKind.CBZ:
            raise ArchiveError("already a zip: write ComicInfo into it instead of converting", path=path)
        members = [name for name in comic.names() if not is_comicinfo_name(name)]
        if not comic.pages():
            raise ArchiveError("no image pages in the archive", path=path)
        original = os.stat(path)
        if target == path:  # a RAR or 7z named .cbz: the converted zip can only take its place
            if not delete_original:
                raise ArchiveError(
                    f"a {'RAR' if comic.kind is ArchiveKind.CBR else '7z'} archive named .cbz: converting it would "
                    "replace it, and archives.delete_converted_originals is off; rename it to .cbr or .cb7",
                    path=path,
                )
            _write_converted(comic, members, xml_bytes, target, original, preserve_mtime, path, in_place=True)
            return target
        if target.exists():
            if not _same_members(comic, members, target):
                raise ArchiveError(
                    f"{target.name} already exists beside it with other content; not overwriting", path=path
                )
            write_comicinfo(target, xml_bytes, preserve_mtime=preserve_mtime)
        else:
            _write_converted(comic, members, xml_bytes, target, original, preserve_mtime, path)
    if delete_original:
        try:
            path.unlink()
        except OSError as exc:
            raise ArchiveError(
                f"converted to {target.name} but the original cannot be deleted: {exc.strerror}", path=path
            ) from None
    return target


def _write_converted(
    comic: ComicArchive,
    members: list[str],
    xml_bytes: bytes,
    target: Path,
    original: os.stat_result,
    preserve_mtime: bool,
    path: Path,
    *,
    in_place: bool = False,
) -> None:
    crcs: dict[str, int] = {}
    with temporary_beside(target, reported_as=path) as temporary:
        with open(temporary, "xb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as written:
                for name in members:
                    data = comic.read_member(name)
                    crcs[name] = zlib.crc32(data)
                    written.writestr(zipfile.ZipInfo(name, date_time=_member_time(comic, name)), data)
                written.writestr(
                    zipfile.ZipInfo(COMICINFO, date_time=_member_time(comic, None)),
                    xml_bytes,
                    compress_type=zipfile.ZIP_DEFLATED,
                )
            handle.flush()
            os.fsync(handle.fileno())
        with zipfile.ZipFile(temporary) as check:  # CRCs of what we read vs what the zip says; testzip re-reads all
            infos = {info.filename: info for info in check.infolist()}
            if any(infos.get(name) is None or crc != infos[name].CRC for name, crc in crcs.items()):
                raise ArchiveError("verification of the converted CBZ failed", path=path)
            if check.testzip() is not None or check.read(COMICINFO) != xml_bytes:
                raise ArchiveError("verification of the converted CBZ failed (bad CRC)", path=path)
        apply_original_attributes(temporary, original, preserve_mtime)
        if in_place:
            replace_checked(temporary, target, original)
            return
        if target.exists():
            raise ArchiveError(f"{target.name} appeared meanwhile; not overwriting", path=path)
        os.replace(temporary, target)
        fsync_directory(target.parent)


def _member_time(comic: ComicArchive, name: str | None) -> tuple[int, int, int, int, int, int]:
    stamp = comic.date_time(name) if name is not None and isinstance(comic, RarComic) else None
    if stamp is None:
        now = time.localtime()
        stamp = (now.tm_year, now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min, now.tm_sec)
    return stamp if stamp[0] >= 1980 else (1980, 1, 1, 0, 0, 0)


def _same_members(comic: ComicArchive, members: list[str], target: Path) -> bool:
    try:
        with zipfile.ZipFile(target) as existing:
            infos = {info.filename: info for info in existing.infolist() if not is_comicinfo_name(info.filename)}
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError):
        return False
    if set(infos) != set(members):
        return False
    return all(zlib.crc32(comic.read_member(name)) == infos[name].CRC for name in members)
