"""Comic archives: reading CBZ/CBR/CB7, writing ComicInfo.xml into a CBZ without risk, CBR conversion.

Two ways of writing, both leaving after a crash at any byte either the original or the new archive:
- the copy path (:mod:`.zipwrite`): members are copied raw into a temporary file in the same
  folder, fsynced, re-read, then swapped in with ``os.replace``. A killed writer leaves at worst a
  ``.bdnex-tmp-<pid>-…`` file, removed by :func:`cleanup_stale_temp_files`;
- in place (:mod:`.inplace`): a new last member and central directory written over the end of the
  archive, under a journal entry in the database (:mod:`.journal`) from which the next command
  takes an interrupted write back.
"""

from bdnex_core.archives.convert import convert_to_cbz, converted_path
from bdnex_core.archives.inplace import WriteMethod, WritePolicy
from bdnex_core.archives.journal import WriteJournal, journalled
from bdnex_core.archives.reading import (
    COMICINFO,
    IMAGE_SUFFIXES,
    ArchiveKind,
    ComicArchive,
    RarComic,
    SevenZipComic,
    ZipComic,
    detect_kind,
    is_comicinfo_name,
    is_page,
    natural_key,
    open_archive,
)
from bdnex_core.archives.safefile import TEMP_PREFIX, cleanup_stale_temp_files
from bdnex_core.archives.zipwrite import WriteReport, write_comicinfo

__all__ = [
    "COMICINFO",
    "IMAGE_SUFFIXES",
    "TEMP_PREFIX",
    "ArchiveKind",
    "ComicArchive",
    "RarComic",
    "SevenZipComic",
    "WriteJournal",
    "WriteMethod",
    "WritePolicy",
    "WriteReport",
    "ZipComic",
    "cleanup_stale_temp_files",
    "convert_to_cbz",
    "converted_path",
    "detect_kind",
    "is_comicinfo_name",
    "is_page",
    "journalled",
    "natural_key",
    "open_archive",
    "write_comicinfo",
]
