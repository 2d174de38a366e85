"""Pytest fixtures shared by the core's and the plugins' test suites.

Loaded by the repository's root ``conftest.py``. Test code only: this package is not
part of any wheel (runtime code, such as the demo's fake site, lives in ``bdnex_core.demo``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bdnex_testing.shared import REPO_ROOT, SHARED_DIR

__all__ = ["REPO_ROOT", "SHARED_DIR", "require_shared", "skip_or_fail"]


def require_shared() -> bool:
    return os.environ.get("BDNEX_REQUIRE_SHARED") == "1"


def skip_or_fail(reason: str, *, required_by: str) -> None:
    """Skip a test whose external need is missing, or fail when CI requires it (``required_by`` env var)."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{required_by}=1 but {reason}")
    pytest.skip(reason)


# words of a test module (or of a conftest above it) that reaches ../shared or the PostgreSQL server
ENVIRONMENT_WORDS = (
    "shared_dir",
    "SHARED_DIR",
    "mark.shared",
    "bdnex_testing.shared",
    "bedetheque_fixtures",
    "postgres_url",
    "bdnex_testing.postgres",
    "POSTGRES",
)


def pytest_configure(config: pytest.Config) -> None:
    # the processes tests start print every thread's Python stack if they die of a signal (abort, segfault):
    # a crash met once under load is then a lead, not a bare "free(): invalid pointer"
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs the shared fixtures, so ``-m "not shared"`` selects the self-contained ones.

    With ``BDNEX_ALONE_SUBSET=1`` (CI's run "as in a clone with nothing beside it"), keep only the tests
    whose module or conftest reaches ../shared or PostgreSQL, or that run on PostgreSQL: the others
    do the same thing with or without them, and the whole suite has just run them."""
    for item in items:
        if "shared_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared)
    # xdist hands out whole modules (--dist loadfile --no-loadscope-reorder, see the Makefile) in this order:
    # the modules that hold slow tests first, so that the long ones start at once and the short ones fill
    # the end of the run on both workers, then the others, those with most tests first (xdist's own order,
    # which alone put a 4-minute module of 4 tests near the end, to run alone for its 4 minutes)
    with_slow_tests = {item.path for item in items if item.get_closest_marker("slow")}
    tests_in = Counter(item.path for item in items)
    items.sort(key=lambda item: (0, 0) if item.path in with_slow_tests else (1, -tests_in[item.path]))  # stable
    if os.environ.get("BDNEX_ALONE_SUBSET") != "1":
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (kept if _reaches_the_environment(item) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def _reaches_the_environment(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & {"shared_dir", "bedetheque_fixtures", "postgres_url"} or "postgresql" in item.name:
        return True
    module, conftests = _texts_around(Path(str(item.path)))
    return any(word in module for word in ENVIRONMENT_WORDS) or any(
        word in text for text in conftests for word in CONFTEST_WORDS
    )


# what a conftest's fixture does with ../shared (re-exporting its path is nothing)
CONFTEST_WORDS = ("fake_bedetheque", "real_sitemaps", "shared_dir", "postgres_url", "bdnex_testing.postgres")
_module_texts: dict[Path, tuple[str, list[str]]] = {}


def _texts_around(module: Path) -> tuple[str, list[str]]:
    """The module's text, and every conftest's between it and the repository's root."""
    if module not in _module_texts:
        conftests = [
            (folder / "conftest.py").read_text(encoding="utf-8", errors="replace")
            for folder in module.parents
            if REPO_ROOT in folder.parents and (folder / "conftest.py").is_file()
        ]
        _module_texts[module] = (module.read_text(encoding="utf-8", errors="replace"), conftests)
    return _module_texts[module]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What a test recorded as its ``summary`` (``record_property``), printed after the run: figures a
    test measures (the fault-injection counts) reach the terminal from xdist workers too."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", ()):
                if name == "summary" and report.when == "call":
                    terminalreporter.write_line(f"{report.nodeid} ({outcome}):\n{value}")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skips without it unless BDNEX_REQUIRE_SHARED=1."""
    if not SHARED_DIR.is_dir():
        skip_or_fail(
            f"needs the recorded real data of ../shared, and {SHARED_DIR} does not exist (BDNEX_SHARED_DIR)",
            required_by="BDNEX_REQUIRE_SHARED",
        )
    return SHARED_DIR


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped after the test) on $BDNEX_TEST_POSTGRES_URL's server.

    Skips without the variable or without psycopg, unless BDNEX_REQUIRE_POSTGRES=1.
    """
    from bdnex_testing.postgres import REQUIRED_VARIABLE, SERVER_VARIABLE, fresh_database, server_url

    url = server_url()
    if url is None:
        skip_or_fail(f"{SERVER_VARIABLE} is not set (.ci/postgres start DIR gives one)", required_by=REQUIRED_VARIABLE)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install -e '.[postgresql]')", required_by=REQUIRED_VARIABLE)
    with fresh_database(str(url)) as database_url:
        yield database_url


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def database_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database, once per backend: an SQLite file in ``tmp_path``, then a fresh PostgreSQL
    database (see ``postgres_url``: skips without a server unless BDNEX_REQUIRE_POSTGRES=1)."""
    if request.param == "sqlite":
        return str(tmp_path / "bdnex.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def new_database(database_location: str) -> Iterator[Callable[[Path], str]]:
    """More new databases of ``database_location``'s backend, for tests that need one per attempt:
    ``new_database(folder)`` is an SQLite file in ``folder``, or another fresh PostgreSQL database
    (the first time, ``database_location`` itself), dropped after the test."""
    made: list[str] = []
    with ExitStack() as dropped:

        def make(folder: Path) -> str:
            if not database_location.startswith(("postgresql://", "postgres://")):
                return str(folder / "bdnex.db")
            if made:
                from bdnex_testing.postgres import fresh_database, server_url

                made.append(dropped.enter_context(fresh_database(str(server_url()))))
            else:
                made.append(database_location)
            return made[-1]

        yield make


def database_mapping(location: str) -> dict[str, object]:
    """The ``database`` section of a configuration for ``location`` (a path or a PostgreSQL URL)."""
    if location.startswith(("postgresql://", "postgres://")):
        return {"backend": "postgresql", "url": location}
    return {"path": location}


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
    for name in (
        "BDNEX_CONFIG",
        "BDNEX_DB",
        "BDNEX_LOAD_PLUGINS",
        "BDNEX_HOME",
        "BDNEX_HEALTH_FILE",
        "BDNEX_NOTIFY_URLS",
        "BDNEX_WEB_TOKEN",
        "BDNEX_WEB_TOKEN_FILE",
        "BDNEX_DATABASE_URL_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
