"""``bdnex-core album``: offline (--html FILE --url URL) and online through the client and the fake site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bdnex_core.bedetheque.client import reset_politeness
from bdnex_core.cli import main
from bdnex_core.errors import BlockedError
from bdnex_testing.shared import fake_bedetheque

NAINS_URL = "https://m.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
DESKTOP = Path(__file__).parent / "fixtures" / "bedetheque_desktop"


@pytest.fixture
def nains_page(bedetheque_fixtures) -> Path:
    return bedetheque_fixtures / "album" / "m-BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"


def test_offline_json_is_the_whole_album(nains_page, capsys):
    assert main(["album", "--html", str(nains_page), "--url", NAINS_URL, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["series"], data["tome"], data["title"], data["album_id"]) == (
        "Nains",
        "1",
        "Redwin de la Forge",
        245127,
    )
    assert data["cover_artists"] == ["Goux, Pierre-Denis", "Saïto, Diogo"]
    assert [edition["album_id"] for edition in data["editions"]] == [245127, 289144, 383861]
    assert data["summary"].count("Redwin, fils d'Ulrog") == 1


def test_offline_desktop_page_json(capsys):
    page = DESKTOP / "BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    assert main(["album", "--html", str(page), "--url", "https://www.bedetheque.com/BD-x-245127.html", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["isbn"] == "978-2-302-04644-3" and data["letterers"] == ["<N&B>"]


def test_offline_readable_summary(nains_page, capsys):
    assert main(["album", "--html", str(nains_page), "--url", NAINS_URL]) == 0
    out = capsys.readouterr().out
    assert "Nains T1 — Redwin de la Forge (album 245127)" in out
    assert "Goux, Pierre-Denis, Saïto, Diogo" in out and "978-2-302-04644-3" in out and "4.25/5 (105 votes)" in out
    assert "Publisher" in out and "Editeur" not in out and "Scénario" not in out  # an English command line


def test_offline_pseudo_author_is_printed_as_text(tmp_path, capsys):
    page = tmp_path / "page.html"
    page.write_text(
        '<html><body><ul id="album-detail"><li><label>Titre :</label>X</li>'
        "<li><label>Couleurs :</label><N&B></li></ul></body></html>",
        "utf-8",
    )
    assert main(["album", "--html", str(page), "--url", "https://m.bedetheque.com/BD-x-5.html"]) == 0
    assert "<N&B>" in capsys.readouterr().out


def test_offline_ban_page_is_one_line_error(tmp_path, capsys):
    page = tmp_path / "ban.html"
    page.write_text("<html><body>Bloquage de l'IP : 198.51.100.4</body></html>", "utf-8")
    assert main(["album", "--html", str(page), "--url", NAINS_URL]) == BlockedError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error:") and "198.51.100.4" in err and NAINS_URL in err and "\n" not in err


def test_album_needs_an_id_or_a_page(capsys):
    assert main(["album"]) != 0


@pytest.fixture
def online(tmp_path, bedetheque_fixtures):
    reset_politeness()
    with fake_bedetheque() as site:
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {
                    "database": {"path": str(tmp_path / "bdnex.db")},
                    "cache": {"dir": str(tmp_path / "cache")},
                    **site.settings_mapping(),
                }
            )
        )
        yield site, config
    reset_politeness()


def test_online_fetches_parses_then_uses_the_cache(online, capsys):
    site, config = online
    assert main(["--config", str(config), "album", "245127", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["title"] == "Redwin de la Forge" and data["writers"] == ["Jarry, Nicolas"]
    fetched = len(site.requests("245127"))
    assert fetched >= 1
    assert main(["--config", str(config), "album", "245127", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["isbn"] == "978-2-302-04644-3"
    assert len(site.requests("245127")) == fetched  # second time from the album cache


def test_online_ban_stops_with_exit_code(online, capsys):
    site, config = online
    site.set_mode("ban")
    assert main(["--config", str(config), "album", "245127"]) == BlockedError.exit_code
    assert "ban" in capsys.readouterr().err.lower()
