"""calibre sync when Bédéthèque does not answer: the run stops (exit 4) and says how to resume it,
no book is marked failed for it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bdnex_core import cli
from bdnex_testing.pytest_plugin import skip_or_fail

REQUIRED_BY = "BDNEX_REQUIRE_CALIBRE"


@pytest.fixture(autouse=True)
def calibre_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("calibredb") is None:
        skip_or_fail("calibre is not installed (calibredb not on PATH)", required_by=REQUIRED_BY)
    monkeypatch.setenv("CALIBRE_CONFIG_DIRECTORY", str(tmp_path / "calibre-config"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


def test_sync_with_the_site_gone_stops_with_the_resume_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from bdnex_core.bedetheque.catalogue import Catalogue
    from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
    from bdnex_core.config import from_mapping
    from bdnex_core.db import BDneXDB
    from bdnex_core.demo.fakesite import FakeBedetheque, human
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    site = FakeBedetheque().start()
    try:
        mapping = {
            "database": {"path": str(tmp_path / "bdnex.db")},
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": 2},
            **site.settings_mapping(),
        }
        reset_politeness()
        db = BDneXDB(settings=from_mapping(mapping))
        Catalogue(db).update_online(BedethequeClient(from_mapping(mapping)))
        db.close()
        folder = tmp_path / "Calibre Library"
        folder.mkdir()
        entries = [
            e for e in site.catalogue.albums.values() if e.tome_kind == "regular" and e.tome and e.tome.isdigit()
        ]
        for entry in entries[:3]:
            name = f"{human(entry.series_slug)} T{int(entry.tome):02d}.cbz"
            cbz = write_cbz(tmp_path / "in" / name, sample_pages(name, 2, entry.album_id))
            added = subprocess.run(
                ["calibredb", "add", "--with-library", str(folder), str(cbz)], capture_output=True, text=True
            )
            assert added.returncode == 0, added.stderr
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(mapping))
    finally:
        site.stop()  # the site is gone before the sync starts
    reset_politeness()
    code = cli.main(["--config", str(config), "calibre", "sync", "--library", str(folder)])
    out = capsys.readouterr().out
    assert code == 4, out
    session_id = BDneXDB(tmp_path / "bdnex.db").list_sessions(limit=1)[0]["id"]
    assert f"bdnex-core tag --resume {session_id}" in out and "not usable now" in out
    db = BDneXDB(tmp_path / "bdnex.db")
    assert db.get_session(session_id)["status"] == "paused"
    assert db.db.execute("SELECT COUNT(*) FROM processed_files WHERE status = 'failed'").fetchone()[0] == 0
    db.close()
