"""What it takes to give a CBZ back exactly as it was before we wrote into it (``bdnex-core undo``).

Writing ComicInfo.xml copies every page's record (local header, data, descriptor) byte for byte;
what changes is the ComicInfo record, the central directory, the end records and where records
sit. So the original file is the sequence of its page records, which the rewritten archive still
holds, and of everything else, which is small (a central directory is about 100 bytes a member).

:func:`capture` describes the original as that sequence: page records by name and length, the
rest as literal bytes, with the original's SHA-256. :func:`rebuild` reassembles it from the
current archive, checks the SHA-256, and only then replaces the file (temporary file, fsync,
rename). A file whose pages changed since cannot be rebuilt and is left alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from bdnex_core.archives.reading import is_comicinfo_name
from bdnex_core.archives.safefile import apply_original_attributes, replace_checked, temporary_beside
from bdnex_core.archives.zipformat import LOCAL, CentralEntry, read_layout
from bdnex_core.errors import ArchiveError
from bdnex_core.hashing import Fingerprint

FORMAT = 1


def _record_name(handle: Any, start: int, path: Path) -> str:
    handle.seek(start)
    header = handle.read(LOCAL.size)
    if len(header) != LOCAL.size or header[:4] != b"PK\x03\x04":
        raise ArchiveError("a member's local header is missing: damaged zip", path=path)
    name_length = LOCAL.unpack(header)[9]
    return handle.read(name_length).decode("utf-8", "surrogateescape")


def _name_of(entry: CentralEntry) -> str:
    name_length = int.from_bytes(entry.record[28:30], "little")
    return entry.record[46 : 46 + name_length].decode("utf-8", "surrogateescape")


def _records(handle: Any, path: Path) -> tuple[int, list[tuple[str, int, int]]]:
    """The file's size and its members' records as (name, start, end), in file order."""
    size = os.fstat(handle.fileno()).st_size
    layout = read_layout(handle, size, path)
    starts = sorted((entry.header_offset + layout.shift, _name_of(entry)) for entry in layout.entries)
    ends = [start for start, _name in starts[1:]] + [layout.cd_start]
    return size, [(name, start, end) for (start, name), end in zip(starts, ends, strict=True)]


def capture(
    path: str | os.PathLike[str], *, known_sha256: str | None = None, known_as: Fingerprint | None = None
) -> bytes:
    """A description of the CBZ at ``path`` from which :func:`rebuild` can give it back byte for byte.

    ``known_sha256``: the file's SHA-256 as the caller already computed it when the file had the
    size and mtime ``known_as``; used while the file still has them (hashing a large file twice
    costs a second full read), computed again otherwise."""
    path = Path(path)
    segments: list[list[Any]] = []
    with open(path, "rb") as handle:
        status = os.fstat(handle.fileno())
        unchanged = known_as is not None and (status.st_size, status.st_mtime_ns) == (known_as.size, known_as.mtime_ns)
        sha256 = known_sha256 if known_sha256 and unchanged else None
        size, records = _records(handle, path)
        position = 0
        for name, start, end in records:
            if is_comicinfo_name(name):
                continue  # kept as literal bytes with the rest
            if start > position:
                handle.seek(position)
                segments.append(["bytes", base64.b64encode(handle.read(start - position)).decode("ascii")])
            segments.append(["member", name, end - start])
            position = end
        handle.seek(position)
        segments.append(["bytes", base64.b64encode(handle.read(size - position)).decode("ascii")])
        if sha256 is None:
            handle.seek(0)
            digest = hashlib.sha256()
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
            sha256 = digest.hexdigest()
    document = {"format": FORMAT, "size": size, "sha256": sha256, "segments": segments}
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def original_sha256(description: bytes) -> str:
    return str(json.loads(description)["sha256"])


def rebuild(path: str | os.PathLike[str], description: bytes, *, preserve_mtime: bool = False) -> None:
    """Give the CBZ at ``path`` back the exact bytes :func:`capture` described, or raise
    :class:`ArchiveError` (its pages changed since, or the description does not fit) with the
    file untouched."""
    path = Path(path)
    document = json.loads(description)
    if document.get("format") != FORMAT:
        raise ArchiveError("this undo record was written by another version of bdnex-core", path=path)
    with open(path, "rb") as source:
        original = os.fstat(source.fileno())
        _size, records = _records(source, path)
        where = {name: start for name, start, _end in records}
        digest = hashlib.sha256()
        with temporary_beside(path, reported_as=path) as temporary:
            with open(temporary, "xb") as target:
                for segment in document["segments"]:
                    if segment[0] == "bytes":
                        data = base64.b64decode(segment[1])
                    else:
                        name, length = segment[1], segment[2]
                        if name not in where or _record_name(source, where[name], path) != name:
                            raise ArchiveError(f"page {name!r} is no longer in the archive; left as it is", path=path)
                        source.seek(where[name])
                        data = source.read(length)
                    digest.update(data)
                    target.write(data)
                target.flush()
                os.fsync(target.fileno())
            if digest.hexdigest() != document["sha256"]:
                raise ArchiveError("the archive's pages changed since; it cannot be given back as it was", path=path)
            apply_original_attributes(temporary, original, preserve_mtime)
            replace_checked(temporary, path, original)
