"""Online catalogue update against the fake site: only changed sitemaps, conditional requests."""

from __future__ import annotations

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_testing.pytest_plugin import database_mapping
from bdnex_testing.shared import fake_bedetheque


def test_incremental_update_fetches_only_changed_sitemaps(tmp_path, monkeypatch, database_location):
    reset_politeness()
    with fake_bedetheque() as site:
        settings = from_mapping(
            {
                "database": database_mapping(database_location),
                "cache": {"dir": str(tmp_path / "cache")},
                **site.settings_mapping(),
            }
        )
        db = BDneXDB(settings=settings)
        try:
            client = BedethequeClient(settings)
            catalogue = Catalogue(db)
            names = sorted(site.catalogue.sitemaps)

            first = catalogue.update_online(client)
            assert sorted(first.fetched) == names
            assert catalogue.count() == len(site.catalogue.albums)
            stored = db.catalogue.sitemaps()
            assert all(stored[name]["etag"] for name in names)

            # nothing changed: the index is read, no album sitemap is fetched
            site.clear_log()
            second = catalogue.update_online(client)
            assert second.fetched == [] and sorted(second.unchanged) == names
            assert [r.path for r in site.requests("_map.xml")] == []

            # the index says one sitemap changed but its content did not: one conditional request, a 304
            changed = names[0]
            monkeypatch.setattr(site, "sitemap_lastmod", lambda name: "2026-11-20" if name == changed else "2026-11-01")
            site.clear_log()
            third = catalogue.update_online(client)
            requests = site.requests("_map.xml")
            assert [(r.path.rsplit("/", 1)[-1], r.status) for r in requests] == [(changed, 304)]
            assert third.fetched == [] and catalogue.count() == len(site.catalogue.albums)
            assert db.catalogue.sitemaps()[changed]["lastmod"] == "2026-11-20"
        finally:
            db.close()
