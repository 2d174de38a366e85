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
    for archive in sorted(path for path in folder.rglob("*") if path.suffix.lower() == ".cbz"):
        with zipfile.ZipFile(archive) as comic:
            found[str(archive.relative_to(folder))] = {
                name: hashlib.sha256(comic.read(name)).hexdigest()
                for name in comic.namelist()
                if name != "ComicInfo.xml"
            }
    return found


def check(folder: Path, before: dict[str, dict[str, str]], tagged: int) -> None:
    now = pages(folder)
    if set(now) != set(before):
        sys.exit(f"archives added or gone: {sorted(set(now) ^ set(before))}")
    changed = [name for name in before if now[name] != before[name]]
    if changed:
        sys.exit(f"pages changed in {changed}")
    with_comicinfo = 0
    for name in now:
        with zipfile.ZipFile(folder / name) as comic:
            with_comicinfo += "ComicInfo.xml" in comic.namelist()
    if with_comicinfo != tagged:
        sys.exit(f"{with_comicinfo} archives hold a ComicInfo.xml, the database says {tagged} were tagged")
    print(f"{len(now)} archives: pages byte for byte as before; {with_comicinfo} tagged, each with its ComicInfo.xml")


def make(folder: Path, count: int) -> None:
    from bdnex_core.cli.demo import pick_albums
    from bdnex_core.demo.fakesite import FakeBedetheque
    from bdnex_core.demo.samplelib import build_library

    present, _ = pick_albums(FakeBedetheque(), count, 0)
    for sample in build_library(folder, present, broken=0):
        path = sample.path
        if path.suffix.lower() != ".cbz" and not path.with_suffix(".cbz").exists():
            # a zip named .cbr would be converted to a CBZ beside it: this library checks writes in place
            path = path.rename(path.with_suffix(".cbz"))
        print(path)


if __name__ == "__main__":
    if sys.argv[1] == "--pages":
        print(json.dumps(pages(Path(sys.argv[2]))))
    elif sys.argv[1] == "--check":
        check(Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text()), int(sys.argv[4]))
    else:
        make(Path(sys.argv[1]), int(sys.argv[2]))
