"""`tag` against a strict site (issue 38): the site refuses (429 + Retry-After) every request arriving
closer than its minimum gap to another, and its cookie expires. With 1, 2 and 4 workers, and two
processes sharing one database (SQLite and PostgreSQL): the run completes with every file, after at
most 3 refusals (the ones that teach the pace) and none after; every gap measured at the site then
keeps the learned pace; the cookie is renewed each time it expires, no run stops; the next run starts
at the learned pace with no refusal; the summary and ``stats`` say the pace. (A 429 with
``Retry-After: 60``: test_site_pace.py.)

Numbers are the real ones divided by four, ratios kept: our configuration 0.5 s + up to 0.25 s of
jitter (2 s + 1 s by default), a site wanting 0.75 s (3 s), a cookie of 5 s (20 s); a refusal doubles
our pace to 1.0 s, above the site's gap as 4 s is above 3 s."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bdnex_core.cli.demo import pick_albums
from bdnex_core.demo.fakesite import StrictRules
from bdnex_core.demo.samplelib import build_library
from bdnex_testing.pytest_plugin import database_mapping
from tests.test_shared_database_processes import SCHEDULING_SLACK, index_catalogue
from tests.test_shared_database_processes import site as site  # the processes tests' fake site, one per module

MIN_DELAY, JITTER = 0.5, 0.25
SITE_GAP = 0.75
COOKIE_LIFE = 5
LEARNED = 1.0
NOTICE = f"the site asked us to slow down: {LEARNED:.1f} s between requests"

pytestmark = pytest.mark.slow


def configs_for(site, tmp_path: Path, location: str, processes: int, files: tuple[int, int], workers: int):
    """Per process: a config (its own cache and logs, the shared database) and two libraries of albums
    of its own, one for the first run and one for the next; the catalogue indexed (the site not strict yet)."""
    database = database_mapping(location)
    index_catalogue(site, {"database": database, "cache": {"dir": str(tmp_path / "index-cache")}})
    first, following = files
    present, _ = pick_albums(site, processes * (first + following), 0, seed=38)
    configs = []
    for process in range(processes):
        folder = tmp_path / f"process{process}"
        albums = present[process * (first + following) : (process + 1) * (first + following)]
        build_library(folder / "first", albums[:first], broken=0, pages_per_file=1)
        build_library(folder / "next", albums[first:], broken=0, pages_per_file=1)
        config = folder / "config.yaml"
        config.write_text(
            json.dumps(
                {
                    "database": database,
                    "cache": {"dir": str(folder / "cache")},
                    "pipeline": {"logs_dir": str(folder / "logs"), "workers": workers},
                    **site.settings_mapping(min_delay_seconds=MIN_DELAY, jitter_seconds=JITTER, max_retries=4),
                }
            )
        )
        configs.append(config)
    return configs


def tag_all(configs: list[Path], library: str, workers: int, files: int) -> list[str]:
    """Every process tags its ``library`` (of ``files`` albums) at once; each must complete, every file tagged."""
    arguments = ["--batch", "--workers", str(workers)]
    results = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bdnex_core",
                "--config",
                str(config),
                "tag",
                str(config.parent / library),
                *arguments,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for config in configs
    ]
    outputs = [(run.wait(timeout=300), run.communicate()[0]) for run in results]
    for code, output in outputs:
        assert code == 0, output
        assert re.search(rf"tagged\s*│\s*{files}\s*│", output), output
    return [output for _, output in outputs]


def in_order(site) -> list:
    return sorted((entry for entry in site.requests() if not entry.path.startswith("/_fake")), key=lambda e: e.arrived)


def check_cookies(logged: list) -> None:
    """The cookie was renewed each time it expired: no page refused for its cookie, one visit of the home
    page per cookie life at least (the first one included)."""
    assert [entry.path for entry in logged if entry.status == 403] == []
    homes = [entry for entry in logged if entry.path == "/" and entry.status == 200]
    duration = logged[-1].arrived - logged[0].arrived
    assert len(homes) >= duration // COOKIE_LIFE, (len(homes), duration)


def first_run_then_next(site, configs: list[Path], workers: int, files: tuple[int, int]) -> dict[str, float]:
    """The first run learns the pace from the site; the next one starts at it. Returns the figures."""
    site.set_strict(StrictRules(min_gap=SITE_GAP, cookie_lifetime=COOKIE_LIFE))
    site.clear_log()
    try:
        outputs = tag_all(configs, "first", workers, files[0])
        first = in_order(site)
        statuses = [entry.status for entry in first]
        refusals = statuses.count(429)
        assert 1 <= refusals <= 3, statuses  # the first gaps (0.5-0.75 s) are too close: the site teaches
        last_refusal = max(position for position, status in enumerate(statuses) if status == 429)
        after = [later.arrived - earlier.arrived for earlier, later in itertools.pairwise(first[last_refusal:])]
        assert min(after) >= LEARNED - SCHEDULING_SLACK, sorted(after)[:3]
        check_cookies(first)
        assert all(NOTICE in output for output in outputs), outputs

        site.clear_log()
        outputs = tag_all(configs, "next", workers, files[1])
        following = in_order(site)
        assert [entry.status for entry in following if entry.status == 429] == []
        gaps = [later.arrived - earlier.arrived for earlier, later in itertools.pairwise(following)]
        assert min(gaps) >= LEARNED - SCHEDULING_SLACK, sorted(gaps)[:3]
        check_cookies(following)
    finally:
        site.set_strict(None)
    stats = subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(configs[0]), "stats"], capture_output=True, text=True
    )
    assert f"request pace:          {LEARNED:.1f} s between requests, as Bédéthèque asked" in stats.stdout
    return {
        "refusals": refusals,
        "cookie_visits": sum(1 for entry in first if entry.path == "/"),
        "min_gap_after_learning": min(after),
        "min_gap_next_run": min(gaps),
        "run_seconds": first[-1].arrived - first[0].arrived,
        "next_run_seconds": following[-1].arrived - following[0].arrived,
    }


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_a_strict_site_teaches_every_worker_one_pace_kept_for_the_next_run(site, tmp_path, workers):
    configs = configs_for(site, tmp_path, str(tmp_path / "bdnex.db"), 1, (8, 4), workers)
    figures = first_run_then_next(site, configs, workers, (8, 4))
    print(f"{workers} workers: {figures}")


def test_two_processes_sharing_a_database_learn_one_pace_from_a_strict_site(site, tmp_path, database_location):
    configs = configs_for(site, tmp_path, database_location, 2, (4, 2), 2)
    figures = first_run_then_next(site, configs, 2, (4, 2))
    print(f"2 processes: {figures}")
