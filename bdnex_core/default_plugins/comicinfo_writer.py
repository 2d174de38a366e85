"""The default metadata writer itself: ComicInfo.xml written into the comic archive (in place under the
run's journal, or through an atomic copy: ``archives.write``). Imported when a run makes its writers,
not by the plugin host (:mod:`.cbz_writer` registers it by name): ``--help`` never loads the archive code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core import archives
from bdnex_core.archives import WritePolicy, detect_kind
from bdnex_core.library import LibraryItem, WriteResult

if TYPE_CHECKING:
    from bdnex_core.config import Settings


class ComicInfoWriter:
    """Writes a :class:`~bdnex_core.comicinfo.ComicInfo` into a local CBZ (CBR per ``archives.cbr``)."""

    name = "comicinfo"

    def can_write(self, item: LibraryItem, settings: Settings) -> bool:
        if item.path is None or not item.path.exists():
            return False
        # a source may forbid touching the file (Komga write-back through the API only)
        if not item.write_back.comicinfo:
            return False
        # by content: a ".cbr" that is really a zip (common) is written in place like a CBZ
        return detect_kind(item.path) == "cbz" or settings.archives.cbr == "convert"

    def write(self, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool = False) -> WriteResult:
        assert item.path is not None
        xml = metadata.to_xml(settings.comicinfo.version)
        if dry_run:
            return WriteResult(self.name, written=False, message="dry run")
        if archives.detect_kind(item.path) == "cbz":
            report = archives.write_comicinfo(
                item.path,
                xml,
                preserve_mtime=settings.archives.preserve_mtime,
                policy=WritePolicy.from_settings(settings.archives),
            )
            how = "in place" if report.in_place else f"copy: {report.reason}"
            return WriteResult(self.name, written=True, message=f"{item.path} ({how})")
        converted = archives.convert_to_cbz(
            item.path, xml, delete_original=settings.archives.delete_converted_originals
        )
        return WriteResult(self.name, written=True, message=f"converted to {converted}", new_path=Path(converted))
