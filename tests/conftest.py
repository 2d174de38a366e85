"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("BDNEX_SHARED_DIR", REPO_ROOT.parent / "shared"))


def _require_shared() -> bool:
    return os.environ.get("BDNEX_REQUIRE_SHARED") == "1"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skips without it unless BDNEX_REQUIRE_SHARED=1."""
    if not SHARED_DIR.is_dir():
        if _require_shared():
            pytest.fail(f"BDNEX_REQUIRE_SHARED=1 but {SHARED_DIR} does not exist")
        pytest.skip(f"{SHARED_DIR} not present")
    return SHARED_DIR


@pytest.fixture(scope="session")
def bedetheque_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "bedetheque"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the developer's real config, data or legacy log folders."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in ("BDNEX_CONFIG", "BDNEX_DB", "BDNEX_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
