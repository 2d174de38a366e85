"""Session logs: one folder per database, so databases sharing ``pipeline.logs_dir`` keep their own files."""

from __future__ import annotations

import json
from contextlib import ExitStack

import pytest
import yaml

from bdnex_core.bedetheque.client import reset_politeness
from bdnex_core.cli import main
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_testing.postgres import fresh_database, server_url
from bdnex_testing.shared import fake_bedetheque


@pytest.fixture(scope="module")
def site():
    with fake_bedetheque() as running:
        yield running


def test_two_databases_sharing_a_logs_folder_keep_their_own_session_logs(site, tmp_path, capsys, database_location):
    # both databases are named bdnex.db (or are two databases of one PostgreSQL server) and both
    # number their first session 1
    cleanup = ExitStack()
    if database_location.startswith("postgresql://"):
        databases = {"first": database_location, "second": cleanup.enter_context(fresh_database(str(server_url())))}
    else:
        databases = {name: str(tmp_path / name / "bdnex.db") for name in ("first", "second")}
    config = tmp_path / "config.yaml"
    mapping = {
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs")},
        **site.settings_mapping(),
    }
    config.write_text(yaml.safe_dump(mapping))
    entry = site.catalogue.albums[245127]
    logs = {}
    with cleanup:
        for name, database in databases.items():
            library = tmp_path / f"library-{name}"
            write_cbz(library / f"{human(entry.series_slug)} - T01.cbz", sample_pages(name, 2, 1))
            reset_politeness()
            assert main(["--config", str(config), "--db", database, "catalogue", "update"]) == 0
            assert main(["--config", str(config), "--db", database, "tag", str(library), "--batch", "--json"]) == 0
            summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
            assert summary["session_id"] == 1
            logs[name] = summary["json_log"]
    assert logs["first"] != logs["second"]
    for name, path in logs.items():
        document = json.loads(open(path, encoding="utf-8").read())
        assert [row["file"] for row in document["files"]] == [
            str(tmp_path / f"library-{name}" / f"{human(entry.series_slug)} - T01.cbz")
        ]
