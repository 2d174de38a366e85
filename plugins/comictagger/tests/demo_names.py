"""How many of ``bdnex-core demo``'s file names the real ComicTagger + our talker tag right.

Not collected by pytest (no ``test_`` prefix): ``test_comictagger_names.py`` uses it, and it runs
alone to print the figures (the demo's fake site and catalogue, on 127.0.0.1):

    BDNEX_SHARED_DIR=../shared .venv/bin/python plugins/comictagger/tests/demo_names.py [OPTIONS...]

(no OPTIONS: the README's passes; else one pass with those ComicTagger options)

The names are the demo's own (its album pick and name generator, same seed); each file's pages
are the site's cover of its album, as a real scan's first page would be, so ComicTagger's cover
check can confirm the match. A name counts when ComicTagger wrote the expected album's page.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from comictagger_harness import Runner, comictagger_executable, make_cbz

from bdnex_core.demo.fakesite import FakeBedetheque

# What the README recommends for French names (plugins/comictagger/README.md): passes, each over the
# files still untagged; "{folder}" stands for the file's folder (one folder per series)
RECOMMENDED: tuple[tuple[str, ...], ...] = (
    ("--filename-parser", "complicated"),
    ("--filename-parser", "comicfn2dict"),
    ("--filename-parser", "comicfn2dict", "-m", "series: '{folder}'"),
    ("--filename-parser", "complicated", "-m", "series: '{folder}'"),
    ("--filename-parser", "original", "-m", "series: '{folder}'"),
)
WEB_ALBUM_ID = re.compile(r"<Web>[^<]*-(\d+)\.html</Web>")


@dataclass
class NameResult:
    name: str
    album_id: int
    tagged_as: int | None

    @property
    def right(self) -> bool:
        return self.tagged_as == self.album_id


def demo_names(site: FakeBedetheque, files: int = 30) -> list[tuple[str, int]]:
    """(path in the library, album id) of the demo's present albums, as ``bdnex-core demo --files N``
    names them (one folder per series; ComicTagger itself reads only the file name)."""
    from bdnex_core.cli.demo import pick_albums
    from bdnex_core.demo.samplelib import build_library

    present, absent = pick_albums(site, files - 4, 3)
    with tempfile.TemporaryDirectory() as folder:
        samples = build_library(Path(folder), present, absent, broken=0, pages_per_file=1)
        return [
            (str(sample.path.relative_to(folder)), sample.expected_album_id)
            for sample in samples
            if sample.expected_album_id
        ]


def measure(runner: Runner, folder: Path, passes: tuple[tuple[str, ...], ...] = RECOMMENDED) -> list[NameResult]:
    """Tag each demo name with ComicTagger, pass after pass; what each file's ComicInfo says it is."""
    site = runner.site
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[tuple[Path, str, int]] = []
    for number, (name, album_id) in enumerate(demo_names(site)):
        cover = site.cover(album_id)
        assert cover is not None
        path = folder / f"{number:02d}" / name  # the same name may come twice
        path.parent.mkdir(parents=True)
        paths.append((make_cbz(path, cover, pages=2), name, album_id))
    for options in passes:
        for path, _name, _album_id in paths:
            if not _comicinfo(path):
                # one run per file: after a file without a match, ComicTagger 1.6.0b9 stops the batch
                # with an AssertionError (and exit status 0)
                arguments = [option.replace("{folder}", path.parent.name) for option in options]
                runner.run(*arguments, "-s", "-o", "-f", "--tags-write", "cr", "-t", "cr", str(path), timeout=300)
    results = []
    for path, name, album_id in paths:
        found = WEB_ALBUM_ID.search(_comicinfo(path))
        results.append(NameResult(name, album_id, int(found.group(1)) if found else None))
    return results


def _comicinfo(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("ComicInfo.xml").decode() if "ComicInfo.xml" in archive.namelist() else ""


def main(arguments: list[str]) -> int:
    executable = comictagger_executable()
    if executable is None:
        print("ComicTagger is not installed (make comictagger)", file=sys.stderr)
        return 2
    passes = (tuple(arguments),) if arguments else RECOMMENDED
    folder = Path(tempfile.mkdtemp(prefix="bdnex-ct-names-"))
    try:
        with FakeBedetheque() as site:
            results = measure(Runner(executable, folder, site), folder / "files", passes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for result in results:
        mark = "ok " if result.right else ("BAD" if result.tagged_as else "-- ")
        print(f"{mark} {result.name}  (album {result.album_id}, tagged as {result.tagged_as})")
    right = sum(result.right for result in results)
    how = " then ".join(" ".join(options) or "(defaults)" for options in passes)
    print(
        f"{right}/{len(results)} demo names tagged right ({sum(bool(r.tagged_as) for r in results)} tagged) with {how}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
