"""The Bédéthèque talker inside the real ComicTagger CLI, against the fake site."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

from comictagger_harness import Runner, comicinfo, make_cbz

NAINS_T1 = 245127
TUNIQUES_BLEUES_T59 = 253364


def test_list_plugins_shows_bedetheque(runner: Runner) -> None:
    result = runner.run("--list-plugins", source=False)
    assert result.returncode == 0, result.stderr
    assert "bedetheque" in result.stdout and "Bédéthèque" in result.stdout


def test_key_option_is_hidden_and_settings_are_registered(runner: Runner) -> None:
    result = runner.run("--help", source=False)
    assert result.returncode == 0, result.stderr
    assert "--bedetheque-url" in result.stdout
    assert "--bedetheque-delay" in result.stdout and "--bedetheque-db" in result.stdout
    assert "--bedetheque-key" not in result.stdout


def autotag(runner: Runner, path: Path, *extra: str, tags: str = "cix") -> None:
    result = runner.run("-s", "-o", "-f", *extra, "--tags-write", tags, "-t", tags, str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successful matches" in result.stdout and "No matches" not in result.stdout, result.stdout


def test_autotag_french_names_and_cache(runner: Runner, tmp_path: Path) -> None:
    site = runner.site
    nains = make_cbz(tmp_path / "Nains - T01 - Redwin de la Forge.cbz", site.cover(NAINS_T1))
    tuniques = make_cbz(tmp_path / "Les Tuniques Bleues 59.cbz", site.cover(TUNIQUES_BLEUES_T59))

    # ComicTagger's filename parsers do not read "T01" as a number: the tome is given with -m;
    # the talker still finds the series inside "Nains - T01 - Redwin de la Forge"
    autotag(runner, nains, "-m", "issue: '1'")
    autotag(runner, tuniques)

    info = comicinfo(nains)
    for expected in (
        "<Series>Nains</Series>",
        "<Number>1</Number>",
        "<Title>Redwin de la Forge</Title>",
        "<Publisher>Soleil Productions</Publisher>",
        "<Writer>Nicolas Jarry</Writer>",
        "<Year>2015</Year>",
        "<GTIN>9782302046443</GTIN>",
        "<LanguageISO>fr</LanguageISO>",
        "<Penciller>Pierre-Denis Goux</Penciller>",
        "<Genre>Fantasy</Genre>",
        "BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html</Web>",
        "<CommunityRating>4.25</CommunityRating>",
    ):
        assert expected in info, expected
    info = comicinfo(tuniques)
    assert "<Series>Tuniques Bleues</Series>" in info and "<Number>59</Number>" in info
    assert "<Title>Les quatre evangelistes</Title>" in info
    # one catalogue build and one page per album; covers for matching came from the site
    assert len(site.requests("_map.xml")) == 2
    assert len(site.requests(f"-{NAINS_T1}.html")) == 1 and len(site.requests(f"-{TUNIQUES_BLEUES_T59}.html")) == 1

    before = len(site.requests())
    autotag(runner, nains, "-m", "issue: '1'")
    autotag(runner, tuniques)
    assert [entry.path for entry in site.requests()[before:]] == []


def test_id_option_tags_that_album(runner: Runner, tmp_path: Path) -> None:
    site = runner.site
    path = make_cbz(tmp_path / "sans nom.cbz", site.cover(NAINS_T1))
    result = runner.run("-s", "-o", "--id", str(NAINS_T1), "--tags-write", "cr", "-t", "cr", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    info = comicinfo(path)
    for expected in (
        "<Series>Nains</Series>",
        "<Number>1</Number>",
        "<Title>Redwin de la Forge</Title>",
        "<Publisher>Soleil Productions</Publisher>",
        "<Writer>Nicolas Jarry</Writer>",
        "<Year>2015</Year>",
    ):
        assert expected in info, expected
    # an --id lookup needs the album page only, not the catalogue
    assert site.requests("_map.xml") == []


def test_ban_page_fails_fast_after_one_request(runner: Runner, tmp_path: Path) -> None:
    site = runner.site
    path = make_cbz(tmp_path / "Nains 01.cbz", site.cover(NAINS_T1))
    site.clear_log()
    site.set_mode("ban")
    result = runner.run("-s", "-o", "--id", str(NAINS_T1), "--tags-write", "cr", "-t", "cr", str(path), timeout=60)
    output = result.stdout + result.stderr
    assert "Bédéthèque is blocking requests" in output and "banned our IP address" in output, output
    assert len(site.requests()) == 1
    site.set_mode(None)
    with zipfile.ZipFile(path) as archive:
        assert "ComicInfo.xml" not in archive.namelist()


def probe(runner: Runner, phase: str) -> dict:
    """The talker driven directly in ComicTagger's Python (tests/talker_probe.py)."""
    python = runner.executable.parent / "python"
    result = subprocess.run(
        [
            str(python),
            str(Path(__file__).with_name("talker_probe.py")),
            str(runner.folder),
            runner.site.base_url,
            phase,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_talker_methods_directly(runner: Runner) -> None:
    site = runner.site
    found = probe(runner, "main")
    assert found["tomes"] == {
        "T01": "1",
        "01": "1",
        "Tome 1": "1",
        "HS 2": "HS2",
        "Hors-série 2": "HS2",
        "INT02": "INT2",
        "Int. 2": "INT2",
        "1A": "1a",
    }
    # article-moved forms reach the same series, and become aliases ComicTagger's 90% filter accepts
    for query in ("Les Tuniques Bleues", "Tuniques Bleues (Les)", "Tuniques bleues"):
        first = found[f"search:{query}"][0]
        assert first["id"] == "Tuniques-Bleues" and query in first["aliases"] + [first["name"]]
    nains = found["search:Nains - T01 - Redwin de la Forge"]
    assert [series["id"] for series in nains] == ["Nains"] and nains[0]["count"] == 2
    assert [issue["issue"] for issue in found["nains_issues"]] == ["1", "2"]
    assert all(
        issue["series_id"] == "Nains" and issue["cover"].startswith(site.base_url) for issue in found["nains_issues"]
    )
    assert found["issue:Abe-Sapien-2008:INT 2:None"] == ["241948"]
    assert found["issue:Abe-Sapien-2008:Int. 3:None"] == ["241949"]
    assert found["issue:4-as:HS 1:None"] == ["243979"]
    assert found["issue:Nains:T01:2015"] == ["245127"]
    assert found["year_filter"] == {"2015": ["245127"], "1990": []}
    metadata = found["metadata"]
    assert metadata | {"credits": None, "web": None, "cover": None} == {
        "series": "Nains",
        "issue": "1",
        "title": "Redwin de la Forge",
        "publisher": "Soleil Productions",
        "imprint": None,
        "year": 2015,
        "month": 6,
        "day": 3,
        "language": "fr",
        "gtin": "9782302046443",
        "genres": ["Fantasy"],
        "rating": 4.25,
        "description": True,
        "series_id": "Nains",
        "credits": None,
        "web": None,
        "cover": None,
    }
    assert "Writer:Nicolas Jarry" in metadata["credits"] and "Penciller:Pierre-Denis Goux" in metadata["credits"]
    assert "Cover:Diogo Saïto" in metadata["credits"] and "Colorist:Digikore Studios" in metadata["credits"]
    assert metadata["web"] == ["https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"]
    assert metadata["cover"] == f"{site.base_url}/media/Couvertures/Couv_245127.jpg"
    assert found["status_ok"] == ["The Bédéthèque site answers.", True]

    before = len(site.requests())
    assert probe(runner, "again") == {"issues": ["245127"]}
    assert len(site.requests()) == before  # a new process: catalogue and album come from the database

    site.set_mode("ban")
    before = len(site.requests())
    banned = probe(runner, "ban")
    assert banned["ban"]["sub_code"] == banned["ban"]["blocked_code"] == 6
    assert "blocking requests" in banned["ban"]["message"] and "Wait a few hours" in banned["ban"]["message"]
    assert banned["ban_again"] and banned["status_banned"][1] is False
    assert len(site.requests()) - before == 1


def _sources_probe(runner: Runner, *logo: str) -> dict:
    python = runner.executable.parent / "python"
    probe = Path(__file__).with_name("sources_probe.py")
    result = subprocess.run(
        [str(python), str(probe), str(runner.folder / "probe-config"), runner.site.base_url + "/", *logo],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_listing_the_sources_reaches_no_host_but_the_configured_site(runner: Runner) -> None:
    """The logo ships in the package (issue 31, item 7): ComicTagger loads it outside our polite client."""
    probed = _sources_probe(runner)
    assert probed["listed"]
    assert probed["logo_url"].startswith("file://") and probed["logo_url"].endswith("/bdnex_comictagger/logo.png")
    assert probed["logo_format"] == "PNG" and probed["logo_bytes"] > 0
    allowed = {"127.0.0.1", "localhost"}
    assert set(probed["contacted"]) <= allowed, probed["contacted"]
    # the probe has teeth: the public favicon the talker used to name is caught
    old = _sources_probe(runner, "https://www.bedetheque.com/favicon.ico")
    assert "www.bedetheque.com" in old["contacted"] and old["logo_bytes"] == 0
