"""Compatibility name: the archive code lives in the :mod:`bdnex_core.archives` package."""

from bdnex_core.archives import (
    COMICINFO, IMAGE_SUFFIXES, TEMP_PREFIX, ArchiveKind, ComicArchive, RarComic, SevenZipComic, ZipComic,
    cleanup_stale_temp_files, convert_to_cbz, converted_path, detect_kind, is_comicinfo_name, is_page, natural_key,
    open_archive, write_comicinfo,
)

__all__ = [
    "COMICINFO", "IMAGE_SUFFIXES", "TEMP_PREFIX", "ArchiveKind", "ComicArchive", "RarComic", "SevenZipComic",
    "ZipComic", "cleanup_stale_temp_files", "convert_to_cbz", "converted_path", "detect_kind", "is_comicinfo_name",
    "is_page", "natural_key", "open_archive", "write_comicinfo",
]
