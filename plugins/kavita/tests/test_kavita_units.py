"""The adapter's small parts: the token's renewal, path mapping, the hub's records, Kavita's name comparison."""

from __future__ import annotations

import pytest

from bdnex_kavita.client import KavitaClient, jwt_claims
from bdnex_kavita.errors import KavitaAuthError
from bdnex_kavita.hub import RECORD_SEPARATOR, HubProtocolError, parse_record, split_records
from bdnex_kavita.mapping import normalized, release_date, web_links
from bdnex_kavita.paths import map_path
from bdnex_kavita.settings import KavitaSettings, PathMapping
from kavita_standin.server import ADMIN_KEY, KavitaStandIn


def _client(kavita: KavitaStandIn, key: str = ADMIN_KEY) -> KavitaClient:
    return KavitaClient(KavitaSettings(url=kavita.url, api_key=key, timeout_seconds=5))


def test_the_token_is_renewed_before_it_expires_and_when_refused(kavita: KavitaStandIn) -> None:
    client = _client(kavita)
    client.libraries()
    client.libraries()
    assert len(kavita.tokens_issued) == 1, "one token serves while it is valid"
    assert "Admin" in jwt_claims(kavita.tokens_issued[0])["role"]
    kavita.secret = b"restarted with another signing key"  # Kavita refuses every token issued before
    client.libraries()
    assert len(kavita.tokens_issued) == 2, "refused once: renewed from the API key, the request sent again"
    other = _client(kavita)
    other.libraries()
    assert len(kavita.tokens_issued) == 2, "the clients of a process share the token"
    kavita.token_seconds = 60  # shorter than the renewal margin: each request needs a fresh one
    kavita.secret = b"restarted again"
    other.libraries()
    other.libraries()
    assert len(kavita.tokens_issued) == 4
    kavita.token_seconds = -10  # expired as soon as issued: refused, renewed once, refused again
    with pytest.raises(KavitaAuthError, match="refused our token"):
        _client(kavita).libraries()


def test_path_mapping_takes_the_longest_prefix_of_whole_components(tmp_path) -> None:
    mappings = (PathMapping("/comics", str(tmp_path / "a")), PathMapping("/comics/BD", str(tmp_path / "b")))
    assert map_path("/comics/BD/Nains/Nains T01.cbz", mappings).local == tmp_path / "b" / "Nains" / "Nains T01.cbz"
    assert map_path("/comics/BDX/x.cbz", mappings).local == tmp_path / "a" / "BDX" / "x.cbz"
    assert map_path("/elsewhere/x.cbz", mappings).local is None
    assert str(map_path("C:/Comics/x.cbz", (PathMapping("C:/Comics", "/srv"),)).local) == "/srv/x.cbz"


def test_hub_records() -> None:
    records, rest = split_records('{"type":6}\x1e{"type":1,"target":"SeriesAdded","arguments":[{}]}\x1e{"ty')
    assert [parse_record(record)["type"] for record in records] == [6, 1] and rest == '{"ty'
    with pytest.raises(HubProtocolError):
        parse_record("[1, 2]")
    assert RECORD_SEPARATOR == "\x1e"


def test_kavita_compares_names_normalised() -> None:
    assert normalized("Jean Van Hamme") == normalized("jeanvanhamme") == "jeanvanhamme"
    assert normalized("Héroïc-Fantasy") == "héroïcfantasy"
    assert release_date({"Year": "2015", "Month": "2", "Day": "30"}) == "2015-02-28T00:00:00"
    assert release_date({"Year": "0"}) is None
    ours = "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    old = "https://www.bedetheque.com/BD-Nains-Tome-1-x-1.html"
    assert web_links(f"https://example.org/a,{old}", ours) == f"{ours},https://example.org/a"
