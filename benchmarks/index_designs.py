"""The two designs of the persisted catalogue index, measured side by side before choosing (issue 27).

A. SQLite tables of normalised keys (what bdnex-core ships: bdnex_core/bedetheque/catalogue_index.py):
   series by key and by word, albums by series and by title key, the fuzzy list as one row.
B. A packed file, memory-mapped and read lazily (a prototype written here for the comparison only):
   sorted arrays of fixed-size records (keys, words, series, albums by series, titles) over one
   string heap, searched by bisection on the mapped bytes; the fuzzy list as a blob.

Both answer matching's CatalogueLookup, so the same Matcher runs on each. For a database holding a
catalogue (`--db`, e.g. one `bench_index.py --keep` left), this prints per design: the build time
from the database's rows, the time to open the file, the peak memory of a process that opens it and
matches one name, and the median and 95th percentile time per name (tidy names and issue 21's
noisy conventions). Ratios against the in-memory index of the same rows are given where it applies.

    python benchmarks/index_designs.py --db /tmp/bench/300000/bdnex.db
"""

from __future__ import annotations

import argparse
import bisect
import mmap
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bdnex_core.bedetheque import catalogue_index
from bdnex_core.bedetheque.catalogue_index import PersistedIndex
from bdnex_core.config import MatchingSettings
from bdnex_core.db import BDneXDB
from bdnex_core.matching.evaluation import human
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import (
    CatalogueIndex,
    IndexedAlbum,
    SeriesList,
    series_keys,
    series_words,
    title_key,
)
from bdnex_core.matching.matcher import Matcher
from bdnex_core.matching.namegen import realistic_names
from bdnex_core.matching.noisegen import CONVENTIONS, noisy_name
from bdnex_core.matching.normalize import strip_articles

MAGIC = b"BDXPACK1"
KINDS = (None, "regular", "hs", "int")


# ----------------------------------------------------------------------------- design B: the packed file


class _Heap:
    def __init__(self) -> None:
        self.data = bytearray()
        self.seen: dict[str, tuple[int, int]] = {}

    def add(self, text: str) -> tuple[int, int]:
        found = self.seen.get(text)
        if found is None:
            raw = text.encode()
            found = self.seen[text] = (len(self.data), len(raw))
            self.data += raw
        return found


def build_packed(rows: Iterable[tuple], path: Path) -> int:
    """rows: (album_id, series_norm, tome, tome_number, tome_kind, title_norm). Returns the albums."""
    by_series: dict[str, list[tuple]] = {}
    for album_id, series, tome, number, kind, title in rows:
        by_series.setdefault(series, []).append((album_id, tome, number, kind, title or ""))
    names = sorted(by_series)
    heap = _Heap()
    series_records = array("I")  # name off, len, stripped off, len, first album, count
    albums = array("i")  # album id, tome off, tome len, number, kind, title off, title len, series
    keys: list[tuple[str, int]] = []
    words: list[tuple[str, int]] = []
    titles: list[tuple[str, int]] = []
    position = 0
    for series, name in enumerate(names):
        stripped = strip_articles(name)
        members = sorted(by_series[name])
        series_records.extend((*heap.add(name), *heap.add(stripped), position, len(members)))
        keys.extend((key, series) for key in series_keys(name))
        words.extend((word, series) for word in series_words(name))
        for album_id, tome, number, kind, title in members:
            albums.extend(
                (
                    album_id,
                    *heap.add(tome or ""),
                    -1 if number is None else number,
                    KINDS.index(kind),
                    *heap.add(title),
                    series,
                )
            )
            if title_key(title):
                titles.append((title_key(title), position))
            position += 1
    keys.sort()
    words.sort()
    titles.sort()

    def pairs(items: list[tuple[str, int]]) -> array:
        packed = array("I")
        for text, value in items:
            packed.extend((*heap.add(text), value))
        return packed

    fuzzy = sorted(range(len(names)), key=lambda s: (len(strip_articles(names[s])), strip_articles(names[s]), names[s]))
    sections = [
        series_records.tobytes(),
        albums.tobytes(),
        pairs(keys).tobytes(),
        pairs(words).tobytes(),
        pairs(titles).tobytes(),
        array("I", fuzzy).tobytes(),
        "\n".join(strip_articles(names[s]) for s in fuzzy).encode(),
        bytes(heap.data),
    ]
    header_size = len(MAGIC) + 8 * 2 * len(sections)
    offsets, at = [], header_size
    for section in sections:
        offsets.extend((at, len(section)))
        at += len(section)
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        handle.write(MAGIC + struct.pack(f"<{len(offsets)}Q", *offsets))
        for section in sections:
            handle.write(section)
    os.replace(temporary, path)
    return position


class _Records(Sequence):
    """Fixed-size records of a section, decoded on access (what bisect probes)."""

    def __init__(self, buffer: memoryview, fmt: str):
        self.view = buffer
        self.fmt = struct.Struct(fmt)
        self.count = len(buffer) // self.fmt.size

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):  # type: ignore[override]
        return self.fmt.unpack_from(self.view, index * self.fmt.size)


class PackedIndex:
    """Design B: the packed file, mapped and read lazily. Implements CatalogueLookup."""

    def __init__(self, path: Path):
        self.file = open(path, "rb")  # noqa: SIM115 - kept open as long as the map
        self.map = mmap.mmap(self.file.fileno(), 0, access=mmap.ACCESS_READ)
        if self.map[: len(MAGIC)] != MAGIC:
            raise ValueError("not a packed index")
        raw = struct.unpack_from("<16Q", self.map, len(MAGIC))
        view = memoryview(self.map)
        parts = [view[raw[2 * i] : raw[2 * i] + raw[2 * i + 1]] for i in range(8)]
        self.series = _Records(parts[0], "<6I")
        self.albums = _Records(parts[1], "<8i")
        self.keys = _Records(parts[2], "<3I")
        self.words = _Records(parts[3], "<3I")
        self.titles = _Records(parts[4], "<3I")
        self.fuzzy_ids = parts[5]
        self.fuzzy_names = parts[6]
        self.heap = parts[7]
        self._all: SeriesList | None = None

    def _text(self, offset: int, length: int) -> str:
        return bytes(self.heap[offset : offset + length]).decode()

    def _key_of(self, records: _Records):
        return lambda index: self._text(*records[index][:2])

    def _find(self, records: _Records, text: str) -> int:
        return bisect.bisect_left(range(len(records)), text, key=self._key_of(records))

    def _equal(self, records: _Records, text: str) -> list[int]:
        found, index = [], self._find(records, text)
        while index < len(records):
            offset, length, value = records[index]
            if self._text(offset, length) != text:
                break
            found.append(value)
            index += 1
        return found

    def series_with_key(self, key: str) -> Sequence[int]:
        return self._equal(self.keys, key)

    def keys_with_prefix(self, prefix: str, limit: int) -> list[tuple[str, Sequence[int]]]:
        found: dict[str, list[int]] = {}
        index = self._find(self.keys, prefix)
        while index < len(self.keys):
            offset, length, series = self.keys[index]
            key = self._text(offset, length)
            if not key.startswith(prefix):
                break
            if key not in found and len(found) == limit:
                break
            found.setdefault(key, []).append(series)
            index += 1
        return list(found.items())

    def series_with_words(self, words: Iterable[str]) -> dict[int, str]:
        pool = {}
        for word in words:
            for series in self._equal(self.words, word):
                pool[series] = self._text(*self.series[series][2:4])
        return pool

    def all_series(self) -> SeriesList:
        if self._all is None:
            names = bytes(self.fuzzy_names).decode().split("\n")
            self._all = SeriesList(array("I", bytes(self.fuzzy_ids)), names, [len(name) for name in names])
        return self._all

    def series_name(self, series: int) -> str:
        return self._text(*self.series[series][:2])

    def _album(self, position: int) -> IndexedAlbum:
        album_id, tome_off, tome_len, number, kind, title_off, title_len, series = self.albums[position]
        tome = self._text(tome_off, tome_len) or None
        return IndexedAlbum(
            album_id,
            self.series_name(series),
            tome,
            None if number < 0 else number,
            KINDS[kind],
            self._text(title_off, title_len),
        )

    def series_albums(self, series: int) -> list[IndexedAlbum]:
        first, count = self.series[series][4:6]
        return [self._album(position) for position in range(first, first + count)]

    def albums_titled(self, key: str) -> list[IndexedAlbum]:
        albums = [self._album(position) for position in self._equal(self.titles, key)]
        return sorted(albums, key=lambda album: album.album_id)


# ----------------------------------------------------------------------------- measuring


def source_rows(db: BDneXDB) -> list[tuple]:
    return [
        (album_id, series, tome, number, kind, title)
        for album_id, series, tome, number, kind, title, _sitemap in catalogue_index._albums(db)
    ]


def names_for(db: BDneXDB, count: int, seed: int) -> list[str]:
    """Tidy names and issue 21's noisy conventions, for albums of the catalogue (half each)."""
    rng = random.Random(seed)
    rows = db.backend.tuples(
        "SELECT series_slug, tome, title_slug FROM catalogue_albums ORDER BY album_id LIMIT ? OFFSET ?",
        [count * 4, rng.randrange(0, 1000)],
    )
    rng.shuffle(rows)
    names: list[str] = []
    conventions = list(CONVENTIONS)
    for number, (series_slug, tome, title_slug) in enumerate(rows):
        if len(names) >= count:
            break
        series, title = human(series_slug), human(title_slug or "") or None
        if number % 2:
            name = noisy_name(conventions[number % len(conventions)], series, tome, title, rng=rng)
        else:
            name = rng.choice(realistic_names(series, tome, title, rng=rng))
        if name:
            names.append(name)
    return names


def per_name(index, names: list[str]) -> tuple[float, float, list[str]]:
    matcher = Matcher(index, MatchingSettings())
    times, decisions = [], []
    for name in names:
        started = time.perf_counter()
        result = matcher.match(parse_filename(name))
        times.append(time.perf_counter() - started)
        decisions.append(f"{result.decision}:{result.best.album_id if result.best else None}")
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)], decisions


PROBE = """
import sys, time
started = time.perf_counter()
sys.path.insert(0, {root!r})
from benchmarks.index_designs import PackedIndex
from bdnex_core.bedetheque.catalogue_index import PersistedIndex
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.matcher import Matcher
from pathlib import Path
index = (PackedIndex if sys.argv[1] == "packed" else PersistedIndex)(Path(sys.argv[2]))
result = Matcher(index, MatchingSettings()).match(parse_filename(sys.argv[3]))
# VmHWM: this process's own peak (ru_maxrss would count the memory of the parent it was forked from)
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
print(time.perf_counter() - started, int(peak) / 1024)
"""


def process_figures(kind: str, path: Path, name: str, runs: int) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(root=str(Path(__file__).resolve().parents[1])), kind, str(path), name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        walls.append(float(out[0]))
        peaks.append(float(out[1]))
    return statistics.median(walls), max(peaks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="an SQLite database holding a catalogue")
    parser.add_argument("--names", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5, help="processes per design")
    parser.add_argument("--seed", type=int, default=27)
    args = parser.parse_args()
    db = BDneXDB(args.db)
    folder = Path(tempfile.mkdtemp(prefix="bdnex-designs-"))
    rows = source_rows(db)
    print(f"catalogue: {len(rows)} albums ({args.db})")
    names = names_for(db, args.names, args.seed)

    started = time.perf_counter()
    memory_index = CatalogueIndex.build((r[0], "", *r[1:]) for r in rows)
    memory_build = time.perf_counter() - started
    memory_median, memory_p95, memory_decisions = per_name(memory_index, names)
    del memory_index

    sqlite_path = folder / "design-a.sqlite"
    started = time.perf_counter()
    catalogue_index.build(db, sqlite_path)
    sqlite_build = time.perf_counter() - started
    packed_path = folder / "design-b.pack"
    started = time.perf_counter()
    build_packed(rows, packed_path)
    packed_build = time.perf_counter() - started

    results = {}
    for kind, path, opener in (
        ("sqlite", sqlite_path, PersistedIndex),
        ("packed", packed_path, PackedIndex),
    ):
        opens = []
        for _ in range(20):
            started = time.perf_counter()
            index = opener(path)
            opens.append(time.perf_counter() - started)
        median, p95, decisions = per_name(index, names)
        wall, peak = process_figures(kind, path, names[0], args.runs)
        results[kind] = (statistics.median(opens), median, p95, wall, peak, path.stat().st_size, decisions)

    print(f"{'':32} {'A: SQLite tables':>18} {'B: packed mmap':>18} {'in memory':>14}")
    print(f"{'build from the rows (s)':32} {sqlite_build:18.2f} {packed_build:18.2f} {memory_build:14.2f}")
    print(f"{'file size (MB)':32} {results['sqlite'][5] / 1e6:18.1f} {results['packed'][5] / 1e6:18.1f} {'-':>14}")
    print(f"{'open (ms)':32} {results['sqlite'][0] * 1e3:18.2f} {results['packed'][0] * 1e3:18.2f} {'-':>14}")
    print(
        f"{'per name, median (ms)':32} {results['sqlite'][1] * 1e3:18.2f} {results['packed'][1] * 1e3:18.2f}"
        f" {memory_median * 1e3:14.2f}"
    )
    print(
        f"{'per name, 95th percentile (ms)':32} {results['sqlite'][2] * 1e3:18.2f} {results['packed'][2] * 1e3:18.2f}"
        f" {memory_p95 * 1e3:14.2f}"
    )
    print(f"{'process open+1 name (ms)':32} {results['sqlite'][3] * 1e3:18.1f} {results['packed'][3] * 1e3:18.1f}")
    print(f"{'process peak (MB)':32} {results['sqlite'][4]:18.1f} {results['packed'][4]:18.1f}")
    same = sum(a == b for a, b in zip(results["sqlite"][6], memory_decisions, strict=True))
    same_packed = sum(a == b for a, b in zip(results["packed"][6], memory_decisions, strict=True))
    print(f"same decisions as in memory: A {same}/{len(names)}, B {same_packed}/{len(names)}")
    print(f"(files in {folder}; machine load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
