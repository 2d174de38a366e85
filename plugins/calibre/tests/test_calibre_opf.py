"""The OPF and series-index rules (no calibre needed), and the plugin zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from bdnex_calibre.build import build_plugin
from bdnex_calibre.calibredb import CalibreLibrary, library_from_settings
from bdnex_calibre.opf import build_opf, merged_identifiers, series_index

FIELDS = {
    "Title": "La Forge",
    "Series": "Redwin de la Forge",
    "Number": "HS2",
    "Writer": "Nicolas Jarry",
    "Penciller": "Pierre-Denis Goux, Nicolas Jarry",
    "Publisher": "Soleil",
    "Genre": "Heroic Fantasy, Aventure",
    "GTIN": "9782302012345",
    "Web": "https://www.bedetheque.com/BD-Redwin-de-la-Forge-1-La-Forge-245127.html",
    "Year": "2016",
    "Month": "3",
    "Summary": "Un forgeron <nain>.\n\nSuite.",
    "CommunityRating": "3.5",
    "LanguageISO": "fr",
}


def test_series_index_rule() -> None:
    assert series_index("12") == 12.0
    assert series_index("1.5") == 1.5
    assert series_index("HS2") == 2.5
    assert series_index("HS") == 0.5
    assert series_index("3b") == 3.2
    assert series_index("intégrale") is None
    assert series_index(None) is None


def test_identifiers_keep_existing_and_add_bedetheque_and_isbn() -> None:
    merged = merged_identifiers({"amazon": "B0001", "isbn": "old"}, FIELDS)
    assert merged == {"amazon": "B0001", "isbn": "9782302012345", "bedetheque": "245127"}


def test_opf_carries_every_field() -> None:
    root = etree.fromstring(build_opf(FIELDS, {"amazon": "B0001"}).encode())
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "opf": "http://www.idpf.org/2007/opf"}
    assert root.findtext(".//dc:title", namespaces=ns) == "La Forge"
    # writer first, artist next, each once
    assert [e.text for e in root.iterfind(".//dc:creator", ns)] == ["Nicolas Jarry", "Pierre-Denis Goux"]
    assert [e.text for e in root.iterfind(".//dc:subject", ns)] == ["Heroic Fantasy", "Aventure"]
    metas = {e.get("name"): e.get("content") for e in root.iterfind(".//opf:meta", ns)}
    assert metas["calibre:series"] == "Redwin de la Forge"
    assert metas["calibre:series_index"] == "2.5"
    assert metas["calibre:rating"] == "7"
    assert "&lt;nain&gt;" in root.findtext(".//dc:description", namespaces=ns)
    assert root.findtext(".//dc:date", namespaces=ns).startswith("2016-03-01")


def test_password_never_in_repr(monkeypatch) -> None:
    monkeypatch.setenv("BDNEX_CALIBRE_PASSWORD", "s3cret")
    library = library_from_settings("http://127.0.0.1:1#lib", {"username": "me"})
    assert library.password == "s3cret" and "s3cret" not in repr(library)
    assert isinstance(library, CalibreLibrary) and library.is_remote


def test_build_plugin_zip(tmp_path: Path) -> None:
    output = build_plugin(tmp_path / "plugin.zip")
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        assert "__init__.py" in names
        assert archive.read("plugin-import-name-bdnex_bedetheque.txt") == b""
        assert b"class BedethequeBdnex(Source)" in archive.read("__init__.py")
