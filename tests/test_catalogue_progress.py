"""`catalogue update` as a person sees it: on a terminal a bar over the sitemaps with the albums stored and
the time left (the real first update reads some 60 sitemaps of ~2 MB at the site's pace); in a pipe no
bar at all; and a site that cannot be reached is said with what to check (the network, then the
cookies file or FlareSolverr), at once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pexpect

from bdnex_core.bedetheque.client import reset_politeness
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.pipeline.progress import CatalogueProgress


def config_for(tmp_path, catalogue: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(
        json.dumps(
            {"database": {"path": str(tmp_path / "bdnex.db")}, "cache": {"dir": str(tmp_path / "cache")}, **catalogue}
        )
    )
    return str(path)


def test_a_terminal_shows_sitemaps_albums_and_the_time_left(tmp_path):
    reset_politeness()
    with FakeBedetheque() as site:
        # a little pace, as the real site wants (2 s there): the bar has time to be drawn
        config = config_for(tmp_path, site.settings_mapping(min_delay_seconds=0.3))
        child = pexpect.spawn(
            sys.executable,
            ["-m", "bdnex_core", "--config", config, "catalogue", "update"],
            env=dict(os.environ, COLUMNS="120", NO_COLOR="1"),  # the words, without colour codes between them
            encoding="utf-8",
            timeout=120,
            dimensions=(30, 120),
        )
        child.expect(r"catalogue")
        child.expect(r"(\d+)/(\d+) sitemaps · ([\d,]+) albums · ETA")
        total = int(child.match.group(2))
        child.expect(r"(\d+) albums in the index")
        stored = int(child.match.group(1))
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert total == len(site.catalogue.sitemaps) and stored == len(site.catalogue.albums)


def test_a_pipe_gets_the_result_lines_and_no_bar(tmp_path):
    reset_politeness()
    with FakeBedetheque() as site:
        config = config_for(tmp_path, site.settings_mapping())
        done = subprocess.run(
            [sys.executable, "-m", "bdnex_core", "--config", config, "catalogue", "update"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert "albums in the index" in done.stdout
    assert "sitemaps ·" not in done.stdout + done.stderr and "\x1b[" not in done.stdout + done.stderr


def test_an_unreachable_site_names_the_network_cookies_and_flaresolverr(tmp_path):
    with socket.socket() as closed:  # a port nobody listens on: what an offline machine sees
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    catalogue = {"base_url": base, "mobile_base_url": base, "min_delay_seconds": 0, "max_retries": 1}
    config = config_for(tmp_path, {"catalogue": catalogue})
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", config, "catalogue", "update"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1, done.stderr  # one line
    said = lines[0]
    assert "Is this machine online" in said and "catalogue.cookies_file" in said, said
    assert "catalogue.flaresolverr_url" in said and "unexpected" not in said, said
    assert time.monotonic() - started < 60


def test_the_bar_counts_fetched_and_unchanged_sitemaps():
    from io import StringIO

    from rich.console import Console

    console = Console(file=StringIO(), force_terminal=True, width=120)
    progress = CatalogueProgress("www.bedetheque.com", console=console)
    with progress:
        progress.index_read(3)
        progress.sitemap_done("albums_1_10000_map.xml", 5200, fetched=True)
        progress.sitemap_done("albums_10001_20000_map.xml", 0, fetched=False)
        task = progress._progress.tasks[0]
        assert (task.completed, task.total, task.fields["albums"]) == (2, 3, "5,200")
