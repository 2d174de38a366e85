"""Fixtures of the Kavita adapter's tests: the fake Bédéthèque, the stand-in Kavita, a library of albums.

The stand-in checks every request against Kavita's OpenAPI description when ``../shared`` has it
(``KAVITA_OPENAPI``); without it, it still applies Kavita's rules but checks no schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bdnex_testing.pytest_plugin import SHARED_DIR
from kavita_env import Env

KAVITA_OPENAPI = SHARED_DIR / "reference" / "kavita" / "openapi.json"


@pytest.fixture(autouse=True)
def _no_kavita_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from bdnex_kavita.writeback import series_choices

    for name in ("BDNEX_KAVITA_API_KEY", "BDNEX_KAVITA_URL"):
        monkeypatch.delenv(name, raising=False)
    series_choices.clear()
    yield
    series_choices.clear()


@pytest.fixture(scope="session")
def site() -> Iterator[Any]:
    from bdnex_testing.shared import fake_bedetheque

    with fake_bedetheque() as fake:
        yield fake


@pytest.fixture(scope="session")
def catalogue_db(tmp_path_factory: pytest.TempPathFactory, site: Any) -> Path:
    """A database with the fake site's catalogue index, built once and copied per test."""
    from bdnex_core.bedetheque.catalogue import Catalogue
    from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
    from bdnex_core.config import from_mapping
    from bdnex_core.db import BDneXDB

    folder = tmp_path_factory.mktemp("catalogue")
    mapping = {
        "database": {"path": str(folder / "bdnex.db")},
        "cache": {"dir": str(folder / "cache")},
        **site.settings_mapping(min_delay_seconds=0.0, jitter_seconds=0.0),
    }
    reset_politeness()
    db = BDneXDB(settings=from_mapping(mapping))
    Catalogue(db).update_online(BedethequeClient(from_mapping(mapping)))
    db.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return folder / "bdnex.db"


def openapi_path() -> Path | None:
    return KAVITA_OPENAPI if KAVITA_OPENAPI.is_file() else None


@pytest.fixture
def kavita() -> Iterator[Any]:
    from kavita_standin.server import KavitaStandIn

    with KavitaStandIn(openapi=openapi_path(), ping_seconds=0.5, client_timeout_seconds=5) as server:
        yield server
    assert not server.violations, "requests Kavita's OpenAPI description does not allow:\n" + "\n".join(
        server.violations
    )
    assert not server.hub.violations, "hub protocol violations:\n" + "\n".join(server.hub.violations)


@pytest.fixture
def env(request: pytest.FixtureRequest, tmp_path: Path, site: Any, kavita: Any, catalogue_db: Path) -> Env:
    """On SQLite; on PostgreSQL for a test marked ``@pytest.mark.parametrize("env", [...], indirect=True)``."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return Env(tmp_path, site, kavita, catalogue_db, request.getfixturevalue("postgres_url"))
    return Env(tmp_path, site, kavita, catalogue_db)
