"""Reading comic archives (CBZ, CBR, CB7): kind by content, pages in natural order, member access."""

from __future__ import annotations

import enum
import os
import re
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import rarfile

from bdnex_core.errors import ArchiveError
from bdnex_core.hashing import open_regular

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".avif", ".jxl", ".tif", ".tiff"})
COMICINFO = "ComicInfo.xml"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
RAR_MAGIC = (b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00")
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
# A ComicInfo.xml bigger than this is not metadata; reading stops there so a zip bomb cannot fill memory
# (the ComicInfo model then rejects the oversized text with its own message).
COMICINFO_READ_LIMIT = 64 * 1024 * 1024
_NATURAL = re.compile(r"(\d+)")


class ArchiveKind(enum.StrEnum):
    """What an archive really is (from its first bytes), whatever its extension says."""

    CBZ = "cbz"
    CBR = "cbr"
    CB7 = "cb7"


def natural_key(name: str) -> tuple[list[object], str]:
    """'page2' before 'page10': digit runs compare as numbers; the raw name breaks ties."""
    return [int(part) if part.isdigit() else part.lower() for part in _NATURAL.split(name)], name


def is_page(name: str) -> bool:
    """An image at any depth, outside ``__MACOSX/`` and hidden files or folders."""
    normalized = name.replace("\\", "/")
    if normalized.endswith("/"):
        return False
    path = PurePosixPath(normalized)
    if any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
        return False
    return path.suffix.lower() in IMAGE_SUFFIXES


def is_comicinfo_name(name: str) -> bool:
    """The root ComicInfo.xml, in any letter case (readers differ; we never keep two)."""
    return name.lower() == COMICINFO.lower()


def is_unsafe_name(name: str) -> bool:
    """Absolute paths, drive letters and '..' components would escape an extraction folder."""
    normalized = name.replace("\\", "/")
    return (
        normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized) is not None or ".." in normalized.split("/")
    )


def detect_kind(path: str | os.PathLike[str]) -> ArchiveKind:
    """CBZ, CBR or CB7 from the content (a .cbr that is really a zip is common)."""
    path = Path(path)
    try:
        with open_regular(path) as handle:
            head = handle.read(8)
            if not head:
                raise ArchiveError("empty file (0 bytes)", path=path)
            if head.startswith(ZIP_MAGIC):
                return ArchiveKind.CBZ
            if head.startswith(RAR_MAGIC):
                return ArchiveKind.CBR
            if head.startswith(SEVENZIP_MAGIC):
                return ArchiveKind.CB7
            handle.seek(0)
            if zipfile.is_zipfile(handle):  # a zip behind a prefix (self-extractor stub)
                return ArchiveKind.CBZ
    except FileNotFoundError:
        raise ArchiveError("file not found (moved or deleted?)", path=path) from None
    except IsADirectoryError:
        raise ArchiveError("a folder, not an archive", path=path) from None
    except OSError as exc:
        raise ArchiveError(f"cannot read: {exc.strerror or exc}", path=path) from None
    raise ArchiveError("not a comic archive (neither zip, RAR nor 7z)", path=path)


class ComicArchive:
    """Read access common to every kind. Use as a context manager."""

    kind: ArchiveKind

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> ComicArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file; nothing to do for kinds that keep nothing open."""

    def names(self) -> list[str]:
        """Every file member (no directories), in archive order."""
        raise NotImplementedError

    def read_member(self, name: str) -> bytes:
        raise NotImplementedError

    def _read_limited(self, name: str, limit: int) -> bytes:
        return self.read_member(name)[:limit]

    def pages(self) -> list[str]:
        """Image pages in natural order."""
        return sorted((name for name in self.names() if is_page(name)), key=natural_key)

    def comicinfo_bytes(self) -> bytes | None:
        """The root ComicInfo.xml (exact name first, else any letter case), or None."""
        names = self.names()
        name = COMICINFO if COMICINFO in names else next((n for n in names if is_comicinfo_name(n)), None)
        return self._read_limited(name, COMICINFO_READ_LIMIT + 1) if name else None

    def cover_page(self, frontcover_index: int | None = None) -> str | None:
        """ComicInfo's FrontCover page when given and in range, else the first page."""
        pages = self.pages()
        if not pages:
            return None
        if frontcover_index is not None and 0 <= frontcover_index < len(pages):
            return pages[frontcover_index]
        return pages[0]


def open_zip(path: Path, source: BinaryIO | None = None) -> zipfile.ZipFile:
    """zipfile.ZipFile with every failure turned into a one-line ArchiveError."""
    try:
        return zipfile.ZipFile(source if source is not None else path)
    except FileNotFoundError:
        raise ArchiveError("file not found (moved or deleted?)", path=path) from None
    except UnicodeDecodeError:
        raise ArchiveError("a member name is flagged UTF-8 but is not valid UTF-8", path=path) from None
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise ArchiveError(f"damaged or truncated zip ({exc})", path=path) from None
    except OSError as exc:
        raise ArchiveError(f"cannot read: {exc.strerror or exc}", path=path) from None


def check_zip_members(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse what we cannot handle safely: encryption, escaping names, duplicate names."""
    seen: set[str] = set()
    for info in infos:
        if info.flag_bits & 0x1:
            raise ArchiveError(
                f"encrypted member {info.filename!r}: password-protected archives are not supported", path=path
            )
        if is_unsafe_name(info.filename):
            raise ArchiveError(f"unsafe member name {info.filename!r} (absolute or with '..')", path=path)
        if info.filename in seen:
            raise ArchiveError(f"duplicate member name {info.filename!r}: which one is meant is ambiguous", path=path)
        seen.add(info.filename)


def refuse_duplicate_names(path: Path, names: list[str]) -> None:
    """Members of one name can only be read by name as one of them: converting would lose a page."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ArchiveError(f"duplicate member name {name!r}: which one is meant is ambiguous", path=path)
        seen.add(name)


class ZipComic(ComicArchive):
    """A zip. Names without the UTF-8 flag are decoded as cp437, as the zip specification says."""

    kind = ArchiveKind.CBZ

    def __init__(self, path: Path):
        super().__init__(path)
        self.zip = open_zip(path)
        self.infos = self.zip.infolist()
        try:
            check_zip_members(path, self.infos)
        except ArchiveError:
            self.zip.close()
            raise

    def close(self) -> None:
        self.zip.close()

    def names(self) -> list[str]:
        return [info.filename for info in self.infos if not info.is_dir()]

    def read_member(self, name: str) -> bytes:
        return self._read_limited(name, -1)

    def _read_limited(self, name: str, limit: int) -> bytes:
        try:
            with self.zip.open(name) as member:
                return member.read(limit)
        except KeyError:
            raise ArchiveError(f"no member {name!r}", path=self.path) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise ArchiveError(f"member {name!r} is damaged ({exc})", path=self.path) from None
        except OSError as exc:
            raise ArchiveError(f"cannot read member {name!r}: {exc.strerror or exc}", path=self.path) from None


class RarComic(ComicArchive):
    """A RAR through ``rarfile``: headers are parsed in Python, compressed data needs a backend program
    (Debian: ``unar``, ``7zip`` or ``libarchive-tools``); stored members are read directly."""

    kind = ArchiveKind.CBR

    def __init__(self, path: Path):
        super().__init__(path)

        try:
            self.rar = rarfile.RarFile(str(path))
            self.infos = self.rar.infolist()
        except rarfile.NeedFirstVolume:
            raise ArchiveError("a later volume of a multi-volume RAR", path=path) from None
        except rarfile.PasswordRequired:
            raise ArchiveError("encrypted RAR (headers are password-protected): not supported", path=path) from None
        except (rarfile.Error, OSError, EOFError) as exc:
            raise ArchiveError(f"damaged RAR archive ({exc})", path=path) from None
        for info in self.infos:
            if info.needs_password():
                raise ArchiveError(
                    f"encrypted member {info.filename!r}: password-protected archives are not supported", path=path
                )
            if is_unsafe_name(info.filename):
                raise ArchiveError(f"unsafe member name {info.filename!r} (absolute or with '..')", path=path)
        refuse_duplicate_names(path, [info.filename for info in self.infos if not info.is_dir()])

    def close(self) -> None:
        self.rar.close()

    def names(self) -> list[str]:
        return [info.filename for info in self.infos if not info.is_dir()]

    def date_time(self, name: str) -> tuple[int, int, int, int, int, int] | None:
        info = self.rar.getinfo(name)
        return tuple(info.date_time) if info.date_time else None

    def read_member(self, name: str) -> bytes:
        try:
            if self.rar.getinfo(name).compress_type != rarfile.RAR_M0:
                # Ask for a backend first: rarfile, finding none in the middle of a read, leaves the
                # temporary archive it built for the backend in the temp folder.
                rarfile.tool_setup()
            return self.rar.read(name)
        except rarfile.RarCannotExec:
            raise ArchiveError(
                "no RAR backend installed to extract it: install unar, 7zip or libarchive-tools", path=self.path
            ) from None
        except (rarfile.Error, OSError, EOFError) as exc:
            raise ArchiveError(f"cannot extract {name!r} ({exc})", path=self.path) from None


class SevenZipComic(ComicArchive):
    """CB7 through the ``7zz``/``7z`` program (Debian package 7zip): one subprocess per member."""

    kind = ArchiveKind.CB7

    def __init__(self, path: Path):
        super().__init__(path)
        self.tool = shutil.which("7zz") or shutil.which("7z") or shutil.which("7za")
        if self.tool is None:
            raise ArchiveError("no 7z program installed to read CB7 (Debian package 7zip)", path=path)
        self._names: list[str] = []
        for block in self._run(["l", "-slt", "-ba"]).decode("utf-8", "replace").split("\n\n"):
            fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
            if "Path" not in fields or fields.get("Folder") == "+" or "D" in fields.get("Attributes", "")[:1]:
                continue
            if fields.get("Encrypted") == "+":
                raise ArchiveError(
                    f"encrypted member {fields['Path']!r}: password-protected archives are not supported", path=path
                )
            if is_unsafe_name(fields["Path"]):
                raise ArchiveError(f"unsafe member name {fields['Path']!r} (absolute or with '..')", path=path)
            self._names.append(fields["Path"])
        refuse_duplicate_names(path, self._names)

    def _run(self, arguments: list[str], *members: str) -> bytes:
        # -p: empty password so 7z never prompts; -spd: member names are literal, not wildcards
        command = [self.tool or "7zz", *arguments, "-p", "-spd", "--", str(self.path), *members]
        try:
            result = subprocess.run(command, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ArchiveError(f"7z failed to run ({exc})", path=self.path) from None
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).decode("utf-8", "replace").strip().splitlines()
            raise ArchiveError(f"7z cannot read it ({lines[-1] if lines else result.returncode})", path=self.path)
        return result.stdout

    def names(self) -> list[str]:
        return list(self._names)

    def read_member(self, name: str) -> bytes:
        if name not in self._names:
            raise ArchiveError(f"no member {name!r}", path=self.path)
        return self._run(["e", "-so"], name)


def open_archive(path: str | os.PathLike[str]) -> ComicArchive:
    """Open a comic archive of any supported kind (detected from its content)."""
    path = Path(path)
    kind = detect_kind(path)
    if kind is ArchiveKind.CBZ:
        return ZipComic(path)
    if kind is ArchiveKind.CBR:
        return RarComic(path)
    return SevenZipComic(path)
