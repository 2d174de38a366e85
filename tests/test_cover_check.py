"""The cover in the decision, end to end against the fake site: the edition chosen by its cover, a
mislabelled file stopped (``cover_check: always``), a name in doubt accepted, the requests it costs,
and the real Nains pair of ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.bedetheque.sitemaps import parse_album_url
from bdnex_core.config import from_mapping
from bdnex_core.covers.check import CoverLine, cover_decision
from bdnex_core.covers.fingerprint import CoverComparison
from bdnex_core.db import BDneXDB
from bdnex_core.demo.catalogue_generator import sitemap_xml
from bdnex_core.demo.covers import jpeg, scan_of, scan_recipe
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.matching.decide import MatchResult
from bdnex_core.matching.score import Score
from bdnex_core.pipeline import TagOptions, collect_items, run_tagging
from bdnex_core.states import Decision
from bdnex_testing.pytest_plugin import database_mapping

SITE = "https://www.bedetheque.com/"
# Nains tome 1 in three editions: the reprint keeps the original's art (fakesite.cover_seeds), the
# limited edition has art of its own; tome 2 has one edition
ORIGINAL, REPRINT, LIMITED, TOME2, TOME3 = 245127, 289144, 383861, 253769, 272757
URLS = (
    f"{SITE}BD-Nains-Tome-1-Redwin-de-la-Forge-{ORIGINAL}.html",
    f"{SITE}BD-Nains-Tome-1a2016-Redwin-de-la-Forge-{REPRINT}.html",
    f"{SITE}BD-Nains-Tome-1TL-Redwin-de-la-Forge-{LIMITED}.html",
    f"{SITE}BD-Nains-Tome-2-Ordo-du-Talion-{TOME2}.html",
    f"{SITE}BD-Nains-Tome-3-Aral-du-temple-{TOME3}.html",
    f"{SITE}BD-Tokyo-tribe-2-Tome-5-259508.html",
)
NAME = "Nains - T01 - Redwin de la Forge.cbz"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cover-sitemaps")
    sitemap = folder / "albums_240001_250000_map.xml"
    sitemap.write_text(sitemap_xml([parse_album_url(url) for url in URLS]))
    reset_politeness()
    with FakeBedetheque([sitemap]) as running:
        yield running


def tag_file(site, tmp_path: Path, database_location: str, name: str, first_page: bytes, **matching):
    """Tag one CBZ whose first page is ``first_page``; the outcome, and the cover requests the site saw."""
    reset_politeness()
    settings = from_mapping(
        {
            "database": database_mapping(database_location),
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs")},
            "matching": matching,
            **site.settings_mapping(),
        }
    )
    db = BDneXDB(settings=settings)
    client = BedethequeClient(settings)
    Catalogue(db).update_online(client)
    (tmp_path / "config.yaml").write_text(json.dumps(dict(settings.raw.items())))
    path = write_cbz(tmp_path / "lib" / name, [first_page, *sample_pages("inside", 2, 3)])
    site.clear_log()
    options = TagOptions(locations=(str(path.parent),), workers=1)
    try:
        summary = run_tagging(
            settings, db, collect_items(settings, "folder", options.locations), options, client=client
        )
        (outcome,) = summary.outcomes
        covers = [request.path for request in site.requests("/media/Couvertures/")]
        assert summary.cover_requests == len(set(covers)), [r.path for r in site.requests()]  # retries aside
        kept = db.covers.album_cover(ORIGINAL)
    finally:
        db.close()
    return outcome, covers, kept


def scanned(site, album_id: int, seed: int = 5) -> bytes:
    """A scan of the site's cover of ``album_id``, as a file's first page."""
    from bdnex_core.covers.fingerprint import open_image

    cover = open_image(site.cover(album_id), draft_side=10_000)
    recipe = scan_recipe(seed)
    return jpeg(scan_of(cover, recipe, seed), recipe.quality)


def test_the_edition_is_chosen_by_its_cover_before_the_policy(site, tmp_path, database_location) -> None:
    """Three editions, two covers alike: the limited edition's own cover picks it; the art the
    original and the reprint share picks between those two by the policy."""
    outcome, covers, _kept = tag_file(site, tmp_path / "a", database_location, NAME, scanned(site, LIMITED))
    assert outcome.state == "done" and outcome.album.album_id == LIMITED, (outcome.reason, outcome.edition)
    assert outcome.edition == "the edition whose cover is the file's"
    assert f"album {LIMITED}: cover: same" in outcome.cover
    assert len(covers) == len(set(covers)) == 3  # one request per edition compared, each once
    outcome, _covers, _kept = tag_file(
        site, tmp_path / "b", database_location, NAME, scanned(site, REPRINT), edition="latest"
    )
    assert outcome.album.album_id == REPRINT and "cover" in outcome.edition
    outcome, _covers, _kept = tag_file(site, tmp_path / "c", database_location, NAME, scanned(site, REPRINT))
    assert outcome.album.album_id == ORIGINAL and "cover" in outcome.edition


def test_a_name_alone_decides_costs_no_cover_request(site, tmp_path, database_location) -> None:
    outcome, covers, kept = tag_file(
        site, tmp_path, database_location, "Nains - T02 - Ordo du Talion.cbz", scanned(site, TOME3)
    )
    assert outcome.state == "done" and outcome.album.album_id == TOME2
    assert covers == [] and outcome.cover == "" and kept is None


def test_always_stops_a_mislabelled_file_and_never_applies_it(site, tmp_path, database_location) -> None:
    name = "Nains - T02 - Ordo du Talion.cbz"
    outcome, covers, _kept = tag_file(
        site, tmp_path / "a", database_location, name, scanned(site, TOME3), cover_check="always"
    )
    assert outcome.state == "waiting" and outcome.album is None
    assert "the file's cover is not its cover" in outcome.reason and "cover: different" in outcome.reason
    assert covers == [f"/media/Couvertures/Couv_{TOME2}.jpg"]
    outcome, covers, _kept = tag_file(
        site, tmp_path / "b", database_location, name, scanned(site, TOME2), cover_check="always"
    )
    assert outcome.state == "done" and outcome.album.album_id == TOME2 and "cover: same" in outcome.cover
    outcome, covers, _kept = tag_file(
        site, tmp_path / "c", database_location, name, scanned(site, TOME3), cover_check="never"
    )
    assert outcome.state == "done" and outcome.album.album_id == TOME2 and covers == []


def test_a_cover_budget_spent_compares_nothing_and_says_so(site, tmp_path, database_location) -> None:
    name = "Nains - T02 - Ordo du Talion.cbz"
    outcome, covers, _kept = tag_file(
        site, tmp_path, database_location, name, scanned(site, TOME3), cover_check="always", cover_budget=0
    )
    assert outcome.state == "done" and covers == []
    assert "cover: not compared (the run's cover budget of 0 requests is spent" in outcome.cover


def _score(album_id: int, score: float, *caps: str, contradicted: bool = False) -> Score:
    candidate = Score(album_id)
    candidate.add("series", score, "test")
    for cap in caps:
        candidate.cap(cap, contradiction=contradicted)
    return candidate


def test_what_the_covers_decide_never_against_the_name() -> None:
    same, different = CoverComparison(4, 5), CoverComparison(27, 28)
    first, second = _score(1, 0.9, "ambiguous: album 2 scores 0.89"), _score(2, 0.89)
    doubt = MatchResult(Decision.REVIEW, first, [first, second], "ambiguous")
    lines = {1: CoverLine(1, different), 2: CoverLine(2, same)}
    assert cover_decision(doubt, lines).accept == 2  # the rival the name left open, by its cover
    assert cover_decision(doubt, {1: CoverLine(1, same), 2: CoverLine(2, same)}).accept is None  # both alike
    other_tome = _score(3, 0.7, "tome number differs", contradicted=True)
    named = MatchResult(Decision.REVIEW, first, [first, other_tome], "ambiguous")
    assert cover_decision(named, {1: CoverLine(1, different), 3: CoverLine(3, same)}).accept is None
    accepted = MatchResult(Decision.ACCEPT, _score(1, 0.95), [], "")
    assert cover_decision(accepted, {1: CoverLine(1, different)}).block == ""  # doubt: editions only
    assert "not its cover" in cover_decision(accepted, {1: CoverLine(1, different)}, confirm=True).block


# ------------------------------------------------------------------ the real pair, on the real catalogue


@pytest.fixture(scope="module")
def real_site(shared_dir):
    from bdnex_testing.shared import fake_bedetheque

    reset_politeness()
    with fake_bedetheque() as running:
        yield running


def test_nains_tome_1_by_its_real_cover(real_site, shared_dir, tmp_path, database_location) -> None:
    """The issue's case: `Nains - T01 - Redwin de la Forge.cbz` whose first page is the real scan is
    tagged 245127 with "cover: same"; the same name with tome 3's cover waits for review with the
    cover as the reason; with `never` it is applied (the cover made the difference)."""
    covers = shared_dir / "fixtures" / "bedetheque" / "covers"
    scan, tome3 = (covers / "archive-page-Nains-1-00a.jpg").read_bytes(), (covers / "Couv_272757.jpg").read_bytes()
    outcome, requests, kept = tag_file(real_site, tmp_path / "a", database_location, NAME, scan, cover_check="always")
    assert outcome.state == "done" and outcome.album.album_id == ORIGINAL
    assert f"album {ORIGINAL}: cover: same (distance " in outcome.cover and kept is not None
    assert requests == [f"/media/Couvertures/Couv_{ORIGINAL}.jpg"]
    outcome, _requests, _kept = tag_file(
        real_site, tmp_path / "b", database_location, NAME, tome3, cover_check="always"
    )
    assert outcome.state == "waiting" and "the file's cover is not its cover (cover: different" in outcome.reason
    outcome, requests, _kept = tag_file(real_site, tmp_path / "c", database_location, NAME, tome3, cover_check="never")
    assert outcome.state == "done" and outcome.album.album_id == ORIGINAL and requests == []


def test_a_name_in_doubt_is_accepted_by_its_cover(site, tmp_path, database_location) -> None:
    """`Nains.cbz` names no tome: the name alone waits for review; the cover of tome 2 decides, at one
    request per candidate compared; a cover that is none of them leaves it in review."""
    outcome, covers, _kept = tag_file(site, tmp_path / "a", database_location, "Nains.cbz", scanned(site, TOME2))
    assert outcome.state == "done" and outcome.album.album_id == TOME2, outcome.reason
    assert outcome.reason.startswith("accepted by its cover (cover: same")
    assert len(covers) == len(set(covers)) <= 3
    stranger = jpeg(scan_of(open_generated(99, 9901), scan_recipe(2), 2), 80)
    outcome, _covers, _kept = tag_file(site, tmp_path / "b", database_location, "Nains.cbz", stranger)
    assert outcome.state == "waiting" and "cover: different" in outcome.cover


def open_generated(series_seed: int, album_seed: int):
    from bdnex_core.demo.covers import cover_image

    return cover_image(series_seed, album_seed)


def test_the_prompt_and_the_web_page_show_the_cover_reason(site, tmp_path, database_location) -> None:
    import re

    from starlette.testclient import TestClient

    from bdnex_core.web.app import create_app
    from bdnex_testing.review import spawn_cli

    name = "Nains - T02 - Ordo du Talion.cbz"
    outcome, _covers, _kept = tag_file(
        site, tmp_path, database_location, name, scanned(site, TOME3), cover_check="always"
    )
    assert outcome.state == "waiting"
    config = tmp_path / "config.yaml"
    settings = from_mapping(json.loads(config.read_text()))
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8080", follow_redirects=False) as web:
        page = web.get("/review").text
        assert "different (distance " in page
        drawn = re.search(r'<meter class="cover-distance"[^>]*value="(\d+)"', page)
        assert drawn is not None and int(drawn.group(1)) >= 14, page[-3000:]
    child = spawn_cli(config, "review")
    child.expect(r"for help > ")
    shown = child.before
    assert "cover: different (distance" in shown, shown
    child.sendline("q")
    child.close()


def test_cover_command_and_identify_explain(site, tmp_path, database_location, capsys) -> None:
    from bdnex_core.cli import main

    name = "Nains - T02 - Ordo du Talion.cbz"
    tag_file(site, tmp_path, database_location, name, scanned(site, TOME3), cover_check="never")
    config, path = str(tmp_path / "config.yaml"), str(tmp_path / "lib" / name)
    capsys.readouterr()
    site.clear_log()
    assert main(["--config", config, "cover", path, str(TOME3), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["verdict"] == "same" and shown["album_id"] == TOME3 and shown["cover_requests"] == 1
    assert shown["file_fingerprint"].startswith("c1:") and shown["page"] == "page001.jpg"
    assert main(["--config", config, "cover", path]) == 0  # the name's album: tome 2, another cover
    out = capsys.readouterr().out
    assert f"album: {TOME2}" in out and "cover: different (distance " in out
    assert main(["--config", config, "cover", path, str(TOME3)]) == 0  # kept: no second request
    assert len(site.requests("/media/Couvertures/")) == 2
    assert main(["--config", config, "identify", "--explain", path]) == 0
    out = capsys.readouterr().out
    assert f"{TOME2} " in out and "cover: different (distance" in out
    assert main(["--config", config, "cover", str(tmp_path / "missing.cbz"), "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.cbz: no such file" in err[0]


def test_covers_the_site_cannot_serve_are_not_compared_and_said(site, tmp_path, database_location) -> None:
    """The covers' host not answering (Cloudflare's 522): the name decides, and the line says why."""
    name = "Nains - T02 - Ordo du Talion.cbz"
    site.set_mode("522", paths="/media/Couvertures/")
    try:
        outcome, _covers, _kept = tag_file(
            site, tmp_path, database_location, name, scanned(site, TOME3), cover_check="always"
        )
    finally:
        site.set_mode(None)
    assert outcome.state == "done" and outcome.album.album_id == TOME2
    assert f"album {TOME2}: cover: not compared (" in outcome.cover, outcome.cover


def test_the_tag_summary_counts_cover_requests(site, tmp_path, database_location, capsys) -> None:
    from bdnex_core.cli import main

    name = "Nains - T02 - Ordo du Talion.cbz"
    tag_file(site, tmp_path, database_location, "Nains - T03 - Aral du temple.cbz", scanned(site, TOME3))
    config = json.loads((tmp_path / "config.yaml").read_text())
    config["matching"] = {"cover_check": "always"}
    (tmp_path / "always.yaml").write_text(json.dumps(config))
    library = tmp_path / "lib2"
    write_cbz(library / name, [scanned(site, TOME2), *sample_pages("inside", 2, 3)])
    capsys.readouterr()
    site.clear_log()
    code = main(["--config", str(tmp_path / "always.yaml"), "tag", "-v", str(library)])
    out = capsys.readouterr().out
    assert code == 0 and "covers compared: 1 cover requests to the site" in out, out
    assert f"album {TOME2}: cover: same (distance " in out and len(site.requests("/media/Couvertures/")) == 1
    # another file compared with the same album: its cover's fingerprint is kept, no request
    write_cbz(library / "again" / name, [scanned(site, TOME2, seed=9), *sample_pages("inside", 2, 4)])
    assert main(["--config", str(tmp_path / "always.yaml"), "tag", str(library / "again"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["cover_requests"] == 0 and shown["files"][0]["cover"].startswith(f"album {TOME2}: cover: same")
    assert len(site.requests("/media/Couvertures/")) == 1
