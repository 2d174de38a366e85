"""ComicTagger 1.6.0b9, the reference tagger, reads back the ComicInfo.xml we write."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from bdnex_core.archives import write_comicinfo
from bdnex_core.bedetheque.parse import parse_album_page
from bdnex_core.comicinfo import ComicInfo
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_testing.archives import build_cbz
from bdnex_testing.pytest_plugin import REPO_ROOT, skip_or_fail


def comictagger_executable() -> str:
    candidates = [
        os.environ.get("BDNEX_COMICTAGGER"),
        shutil.which("comictagger"),
        str(REPO_ROOT / ".venv-ct" / "bin" / "comictagger"),
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    skip_or_fail("ComicTagger is not installed (make comictagger)", required_by="BDNEX_REQUIRE_COMICTAGGER")
    raise AssertionError("unreachable")


@pytest.mark.parametrize("version", ["2.0", "2.1"])
@pytest.mark.parametrize("old_comicinfo", ["none", "first member"])
def test_comictagger_reads_our_comicinfo(bedetheque_fixtures, tmp_path, version, old_comicinfo):
    executable = comictagger_executable()
    page = bedetheque_fixtures / "album" / "m-BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    album = parse_album_page(
        page.read_bytes(), "https://m.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    )
    if old_comicinfo == "none":
        path = write_cbz(tmp_path / "Nains - T01.cbz", sample_pages("p", 3, 1))
    else:  # ours then takes its place, with a padding extra field in its local header
        path = build_cbz(
            tmp_path / "Nains - T01.cbz",
            pages=3,
            comicinfo=b"<ComicInfo><Series>old</Series></ComicInfo>",
            comicinfo_at=0,
        )
    write_comicinfo(path, ComicInfo.from_album(album, pages=["1", "2", "3"], version=version).to_xml(version))
    result = subprocess.run(
        [executable, "--config", str(tmp_path / "ct-config"), "-p", "-j", "-t", "CR", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        },
    )
    assert result.returncode == 0, result.stderr
    metadata = json.loads(result.stdout)["md"]
    assert metadata["series"] == "Nains"
    assert metadata["issue"] == "1"
    assert metadata["title"] == "Redwin de la Forge"
    assert metadata["publisher"] == "Soleil Productions"
    assert metadata["year"] == 2015
    writers = [credit["person"] for credit in metadata["credits"] if credit["role"].lower() == "writer"]
    assert writers == ["Nicolas Jarry"]
