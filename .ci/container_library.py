"""A sample library for .ci/container, and the check that its archives came through intact.

python container_library.py DIR COUNT            (in the image) COUNT albums of the fake site's catalogue
python container_library.py --pages DIR          (anywhere) each archive's members and their SHA-256, as JSON
python container_library.py --check DIR PAGES    every archive has the same pages and a ComicInfo.xml now
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path


def pages(folder: Path) -> dict[str, dict[str, str]]:
    found = {}
    for archive in sorted(folder.rglob("*.cbz")):
        with zipfile.ZipFile(archive) as comic:
            found[str(archive.relative_to(folder))] = {
                name: hashlib.sha256(comic.read(name)).hexdigest()
                for name in comic.namelist()
                if name != "ComicInfo.xml"
            }
    return found


def check(folder: Path, before: dict[str, dict[str, str]]) -> None:
    now = pages(folder)
    if set(now) != set(before):
        sys.exit(f"archives added or gone: {sorted(set(now) ^ set(before))}")
    changed = [name for name in before if now[name] != before[name]]
    if changed:
        sys.exit(f"pages changed in {changed}")
    untagged = []
    for name in now:
        with zipfile.ZipFile(folder / name) as comic:
            if "ComicInfo.xml" not in comic.namelist():
                untagged.append(name)
    if untagged:
        sys.exit(f"not tagged: {untagged}")
    print(f"{len(now)} archives: pages byte for byte as before, each with its ComicInfo.xml")


def make(folder: Path, count: int) -> None:
    from bdnex_core.cli.demo import pick_albums
    from bdnex_core.demo.fakesite import FakeBedetheque
    from bdnex_core.demo.samplelib import build_library

    present, _ = pick_albums(FakeBedetheque(), count, 0)
    for sample in build_library(folder, present, broken=0):
        print(sample.path)


if __name__ == "__main__":
    if sys.argv[1] == "--pages":
        print(json.dumps(pages(Path(sys.argv[2]))))
    elif sys.argv[1] == "--check":
        check(Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text()))
    else:
        make(Path(sys.argv[1]), int(sys.argv[2]))
