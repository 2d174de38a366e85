"""Helpers for the ComicTagger tests (a unique module name: the repository has several conftest.py)."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_testing.pytest_plugin import REPO_ROOT

REQUIRED_BY = "BDNEX_REQUIRE_COMICTAGGER"


def comictagger_executable() -> Path | None:
    named = os.environ.get("BDNEX_COMICTAGGER")
    candidate = Path(named) if named else REPO_ROOT / ".venv-ct" / "bin" / "comictagger"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


class Runner:
    """Runs ``comictagger`` with a private config folder and the bedetheque source on the fake site
    (``database``: the talker's bdnex-core database, by default a new one in ``folder``)."""

    def __init__(self, executable: Path, folder: Path, site: FakeBedetheque, database: Path | None = None):
        self.executable, self.folder, self.site = executable, folder, site
        self.config = folder / "ct-config"
        self.database = database or folder / "bdnex.db"

    def run(self, *arguments: str, source: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.executable), "--config", str(self.config), "--no-gui"]
        if source:
            command += [
                "--source",
                "bedetheque",
                "--bedetheque-url",
                self.site.base_url + "/",
                "--bedetheque-delay",
                "0",
                "--bedetheque-db",
                str(self.database),
            ]
        return subprocess.run([*command, *arguments], capture_output=True, text=True, timeout=timeout)


def make_cbz(path: Path, cover: bytes, pages: int = 3) -> Path:
    """A CBZ whose first page is the site's cover, so ComicTagger's cover matching can work."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("000.jpg", cover)
        for number in range(1, pages):
            archive.writestr(f"{number:03d}.jpg", cover)
    return path


def comicinfo(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("ComicInfo.xml").decode("utf-8")
