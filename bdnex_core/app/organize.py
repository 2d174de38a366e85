"""Renaming tagged files to a path built from their metadata (``bdnex-core rename``, ``tag --rename``).

A template such as ``{series}/{series} - T{tome:02} - {title}`` gives the new path relative to the
library folder, the file's extension kept. Every component is made safe for every common
filesystem (reserved characters, trailing dots and spaces, Windows device names, 255 bytes, NFC).

Moves never overwrite and never lose a file, even when killed at any moment:
- on one filesystem the file gets its new name with a hard link (which fails if the name is
  taken) and only then loses the old one; killed in between, both names hold the same file,
  and the next run finishes the move;
- across filesystems it is copied beside the destination under a temporary name, flushed,
  verified (SHA-256) and linked into place; only then is the original removed.
Each move is recorded at once: the file's record follows it and its history keeps the old path.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import string
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.archives.safefile import fsync_directory, temp_path_for
from bdnex_core.errors import BdnexError
from bdnex_core.hashing import Fingerprint, sha256_file
from bdnex_core.states import FileStatus

if TYPE_CHECKING:
    from bdnex_core.db import BDneXDB

DEFAULT_TEMPLATE = "{series}/{series} - T{tome:02} - {title}"
TEMPLATE_FIELDS = ("series", "tome", "title", "year", "publisher", "authors", "isbn", "album_id")
MAX_COMPONENT_BYTES = 255
# Windows refuses these as file names, whatever the extension
WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
)
# reserved on Windows, macOS (":") or everywhere ("/", NUL): each becomes a harmless look-alike
RESERVED_CHARACTERS = str.maketrans(
    {"/": "-", "\\": "-", ":": " -", "*": "-", "?": "", '"': "'", "<": "(", ">": ")", "|": "-"}
)
MANAGED_SOURCES = frozenset({"komga", "calibre"})
# "HS1" -> ("HS", "1", ""), "1a" -> ("", "1", "a"): the number is what a format spec pads
TOME_PARTS = re.compile(r"^(\D*)(\d+)(\D*)$")
# Python's format spec, [[fill]align][sign][z][#][0][width][grouping][.precision][type]: a template
# may pad and cut its fields, within the size of a file name
FORMAT_SPEC = re.compile(
    r"(?:(?:.)?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[_,]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?", re.DOTALL
)


class Collision(StrEnum):
    """What to do when the new name is taken by another file."""

    SUFFIX = "suffix"  # "Name (2).cbz"
    REFUSE = "refuse"  # leave the file where it is, with a message


class Tome:
    """A tome that formats like a number: ``{tome:02}`` gives ``01``, ``HS01``, ``INT02``, ``01a``."""

    def __init__(self, text: str | None):
        self.text = (text or "").strip()

    def __format__(self, spec: str) -> str:
        found = TOME_PARTS.match(self.text)
        if not spec or found is None:
            return self.text
        prefix, digits, rest = found.groups()
        return f"{prefix}{format(int(digits), spec)}{rest}"

    def __str__(self) -> str:
        return self.text


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise BdnexError(f"unknown field {{{key}}} in the rename template (fields: {', '.join(TEMPLATE_FIELDS)})")


def safe_component(text: str) -> str:
    """One path component that every common filesystem accepts, as close to ``text`` as possible."""
    cleaned = unicodedata.normalize("NFC", text).translate(RESERVED_CHARACTERS)
    cleaned = "".join(character for character in cleaned if character >= " " and character != "\x7f")
    cleaned = " ".join(cleaned.split())  # runs of spaces, tabs from the metadata
    cleaned = cleaned.rstrip(" .")  # Windows drops trailing dots and spaces
    if not cleaned or cleaned in {".", ".."}:
        cleaned = "_"
    if cleaned.split(".")[0].upper() in WINDOWS_DEVICE_NAMES:
        cleaned = f"{cleaned}_"
    return _truncate_utf8(cleaned, MAX_COMPONENT_BYTES)


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore").rstrip(" .") or "_"


def template_values(row: dict[str, Any], album: dict[str, Any] | None) -> dict[str, Any]:
    """The template fields of one recorded file (and its cached album, for the authors)."""
    album = album or {}
    authors = [name for name in [*album.get("writers", []), *album.get("pencillers", [])] if isinstance(name, str)]
    return {
        "series": row.get("series") or album.get("series") or "",
        "tome": Tome(row.get("tome")),
        "title": row.get("title") or album.get("title") or "",
        "year": row.get("year") or "",
        "publisher": row.get("editor") or album.get("publisher") or "",
        "authors": ", ".join(dict.fromkeys(authors)),
        "isbn": row.get("isbn") or "",
        "album_id": row.get("bdgest_id") or "",
    }


@lru_cache(maxsize=32)
def check_template(template: str) -> None:
    """Refuse a template that could do more than name a file: a field that is not one of
    :data:`TEMPLATE_FIELDS` (``{title.__class__}``, ``{series[0]}`` reach into Python objects), a
    nested or unknown format spec, or a width or precision beyond a file name's 255 bytes
    (``{series:>999999999}`` would build a gigabyte string). Raises :class:`BdnexError`."""

    def refuse(reason: str) -> BdnexError:
        return BdnexError(f"the rename template {template!r} cannot be used: {reason}")

    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise refuse(str(exc)) from None
    for _literal, name, spec, _conversion in fields:
        if name is None:
            continue
        if not name:
            raise refuse(f"name each field, e.g. {{series}} (fields: {', '.join(TEMPLATE_FIELDS)})")
        if name not in TEMPLATE_FIELDS:
            if any(mark in name for mark in ".["):
                raise refuse(f"{{{name}}}: attribute and index access is not allowed, only the field names")
            raise refuse(f"unknown field {{{name}}} (fields: {', '.join(TEMPLATE_FIELDS)})")
        found = FORMAT_SPEC.fullmatch(spec or "")
        if found is None:
            raise refuse(f"{{{name}:{spec}}}: not a format this template understands (e.g. {{tome:02}}, {{title:.40}})")
        for part in ("width", "precision"):
            if found.group(part) is not None and int(found.group(part)) > MAX_COMPONENT_BYTES:
                raise refuse(f"{{{name}:{spec}}}: a {part} above {MAX_COMPONENT_BYTES} (a file name's length)")


def render_relative_path(template: str, values: dict[str, Any], suffix: str) -> Path:
    """The new path, relative to the library folder, for a file with these values."""
    check_template(template)
    # a "/" in a title is part of the name, not a folder: only the template's own slashes are
    flattened = {
        key: value.replace("/", "-").replace("\\", "-") if isinstance(value, str) else value
        for key, value in values.items()
    }
    try:
        rendered = template.format_map(_Values(flattened))
    except (ValueError, IndexError, AttributeError) as exc:
        raise BdnexError(f"the rename template {template!r} cannot be used: {exc}") from None
    parts = [part for part in rendered.replace("\\", "/").split("/") if part.strip()]
    if not parts:
        raise BdnexError(f"the rename template {template!r} gives an empty name")
    components = [safe_component(part) for part in parts]
    last = _truncate_utf8(components[-1], MAX_COMPONENT_BYTES - len(suffix.encode("utf-8")))
    components[-1] = f"{last}{suffix}"
    return Path(*components)


# ---------------------------------------------------------------------- moving files


@dataclass
class MoveResult:
    source: Path
    target: Path | None
    moved: bool
    message: str = ""
    failed: bool = False  # a move was due and did not happen (an error, a name taken with `refuse`)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.source),
            "target": None if self.target is None else str(self.target),
            "moved": self.moved,
            "failed": self.failed,
            "message": self.message,
        }


def _free_name(target: Path, collision: Collision, claimed: set[Path] | None = None) -> Path | None:
    def free(path: Path) -> bool:
        return path not in (claimed or ()) and not os.path.lexists(path)

    if free(target):
        return target
    if collision is Collision.REFUSE:
        return None
    for number in range(2, 10_000):
        candidate = target.with_name(f"{target.stem} ({number}){target.suffix}")
        if free(candidate):
            return candidate
    return None


def _link_or_copy(source: Path, target: Path) -> None:
    """Give ``source`` the name ``target`` without ever replacing an existing file."""
    try:
        os.link(source, target)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
            raise
    # another filesystem (or one without hard links): a verified copy, then a no-replace link
    temporary = temp_path_for(target)
    try:
        with open(source, "rb") as reader, open(temporary, "xb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(source, temporary)
        if sha256_file(temporary) != sha256_file(source):
            raise BdnexError("the copy does not match the original; nothing was moved", path=source)
        try:
            os.link(temporary, target)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
                raise
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
            os.rename(temporary, target)  # a filesystem without links: checked just above
    finally:
        temporary.unlink(missing_ok=True)


def _same_content(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second) or sha256_file(first) == sha256_file(second)
    except OSError:
        return False


def _unlink_durably(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_directory(path.parent)


class MoveJournal:
    """The moves in progress, in the database: each is written before the file gets its new name
    and removed once the old name is gone, so :meth:`finish_interrupted` can complete any move a
    killed run left half done (the content is always under one name at least)."""

    def __init__(self, db: BDneXDB):
        self.db = db

    def begin_many(self, moves: list[tuple[Path, Path]]) -> list[int]:
        return self.db.moves.begin_many(moves)

    def retarget(self, move_id: int, target: Path) -> None:
        self.db.moves.retarget(move_id, target)

    def record(self, source: Path, target: Path) -> None:
        """The database's record of the file follows it (its history keeps the old path)."""
        if self.db.files.get(source) is not None:
            self.db.files.record_move(str(source), target, Fingerprint.of(target))

    def end_many(self, move_ids: list[int]) -> None:
        self.db.moves.end_many(move_ids)

    def finish_interrupted(self) -> list[MoveResult]:
        results = []
        for move_id, source_text, target_text in self.db.moves.in_progress():
            source, target = Path(source_text), Path(target_text)
            if os.path.lexists(target) and (not os.path.lexists(source) or _same_content(source, target)):
                self.record(source, target)
                _unlink_durably(source)
                results.append(MoveResult(source, target, True, "finished a move an interrupted run had started"))
            self.end_many([move_id])  # otherwise the new name never appeared: the file is where it was
        return results


BATCH_SIZE = 200  # moves whose new names are flushed together (one directory fsync per folder)


def move_files(
    moves: list[tuple[Path, Path]], collision: Collision = Collision.SUFFIX, journal: MoveJournal | None = None
) -> list[MoveResult]:
    """Move files to their targets (folders made as needed), never overwriting another file.

    Per batch: the moves are written to the journal, every file gets its new name, the new names
    are made durable (one fsync per folder), the records follow, and only then do the old names
    go. Killed at any point, each content keeps one name at least, and the journal lets the
    next run finish.
    """
    results: list[MoveResult] = []
    for start in range(0, len(moves), BATCH_SIZE):
        results.extend(_move_batch(moves[start : start + BATCH_SIZE], collision, journal))
    return results


def _move_batch(moves: list[tuple[Path, Path]], collision: Collision, journal: MoveJournal | None) -> list[MoveResult]:
    results: list[MoveResult] = []
    planned: list[tuple[Path, Path, Path]] = []  # source, wanted name, free name
    claimed: set[Path] = set()  # two files of one batch must not get the same free name
    for source, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        free = _free_name(target, collision, claimed)
        if free is None:
            message = f"{target} exists; left in place (on collision: refuse)"
            results.append(MoveResult(source, None, False, message, True))
            continue
        claimed.add(free)
        planned.append((source, target, free))
    move_ids = journal.begin_many([(source, free) for source, _target, free in planned]) if journal else []
    linked: list[tuple[Path, Path, Path]] = []
    for index, (source, target, free) in enumerate(planned):
        given: Path | None = free
        for _attempt in range(3):
            assert given is not None
            try:
                _link_or_copy(source, given)
                break
            except FileExistsError:  # another process took the name meanwhile: the next free one
                given = _free_name(target, collision, claimed)
                if given is None:
                    break
                claimed.add(given)
                if journal is not None:
                    journal.retarget(move_ids[index], given)
            except (OSError, BdnexError) as exc:
                reason = exc.reason if isinstance(exc, BdnexError) else (exc.strerror or str(exc))
                results.append(MoveResult(source, None, False, f"not moved: {reason}", True))
                given = None
                break
        else:
            given = None
        if given is None:
            if not (results and results[-1].source == source):
                results.append(MoveResult(source, None, False, f"no free name for {target}", True))
            continue
        linked.append((source, target, given))
    for folder in {given.parent for _source, _target, given in linked}:
        fsync_directory(folder)  # the new names are on disk before any old name goes
    if journal is not None:
        with journal.db.write():
            for source, _target, given in linked:
                journal.record(source, given)
    for source, target, given in linked:
        source.unlink(missing_ok=True)
        results.append(MoveResult(source, given, True, "" if given == target else f"{target.name} was taken"))
    if journal is not None:
        journal.end_many(move_ids)
    return results


def remove_empty_folders(start: Path, stop_at: Iterable[Path]) -> None:
    """Remove ``start`` and its parents while they are empty, never a library root or above."""
    roots = {Path(root) for root in stop_at}
    folder = start
    while folder not in roots and any(folder.is_relative_to(root) for root in roots):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# ---------------------------------------------------------------------- renaming recorded files


@dataclass
class RenamePlan:
    row: dict[str, Any]
    source: Path
    target: Path | None
    reason: str = ""


def _root_of(path: Path, roots: list[Path]) -> Path | None:
    matching = [root for root in roots if path.is_relative_to(root)]
    return max(matching, key=lambda root: len(root.parts)) if matching else None


def cached_album(db: BDneXDB, album_id: int) -> dict[str, Any] | None:
    """The album as last fetched, however old: names only need its authors."""
    return db.albums.latest(int(album_id))


def plan_renames(
    db: BDneXDB, rows: Iterable[dict[str, Any]], roots: list[Path], template: str = DEFAULT_TEMPLATE
) -> Iterator[RenamePlan]:
    """Where each recorded file would go (or why it stays)."""
    check_template(template)  # before any file: a template that cannot be used stops the whole run
    for row in rows:
        source = Path(row["file_path"])
        if row.get("source") in MANAGED_SOURCES:
            yield RenamePlan(row, source, None, f"not moved: {row['source']} organises its own files")
            continue
        if row.get("status") not in (FileStatus.SUCCESS, FileStatus.MANUAL):
            yield RenamePlan(row, source, None, "not moved: not tagged")
            continue
        if not os.path.isfile(source):
            yield RenamePlan(row, source, None, "not moved: the file is not there any more")
            continue
        root = _root_of(source, roots)
        if root is None:
            yield RenamePlan(row, source, None, "not moved: outside the library folders given")
            continue
        album = cached_album(db, row["bdgest_id"]) if row.get("bdgest_id") else None
        relative = render_relative_path(template, template_values(row, album), source.suffix.lower())
        yield RenamePlan(row, source, root / relative)


def rename_files(
    db: BDneXDB,
    rows: Iterable[dict[str, Any]],
    roots: list[Path],
    *,
    template: str = DEFAULT_TEMPLATE,
    collision: Collision = Collision.SUFFIX,
    dry_run: bool = False,
) -> list[MoveResult]:
    """Move each tagged file to its template path and record the move (call
    :meth:`MoveJournal.finish_interrupted` first, before reading the rows)."""
    journal = MoveJournal(db)
    results: list[MoveResult] = []
    wanted: list[tuple[Path, Path]] = []
    claimed: set[Path] = set()
    for plan in plan_renames(db, rows, roots, template):
        if plan.target is None:
            results.append(MoveResult(plan.source, None, False, plan.reason))
            continue
        if plan.target == plan.source:
            results.append(MoveResult(plan.source, plan.target, False, "already at its place"))
            continue
        if dry_run:  # the names the real run would give: taken on disk or by an earlier file of this run
            free = _free_name(plan.target, collision, claimed)
            if free is None:
                message = f"would be left in place: {plan.target} exists (on collision: refuse)"
                results.append(MoveResult(plan.source, None, False, message))
                continue
            claimed.add(free)
            taken = "" if free == plan.target else f"{plan.target.name} is taken"
            results.append(MoveResult(plan.source, free, False, taken or "dry run"))
            continue
        wanted.append((plan.source, plan.target))
    moved = move_files(wanted, collision, journal)
    for result in moved:
        if result.moved:
            remove_empty_folders(result.source.parent, roots)
    return results + moved
