"""The OPF and series-index rules (no calibre needed), and the plugin zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from bdnex_calibre.build import build_plugin
from bdnex_calibre.calibredb import CalibreLibrary, library_from_settings
from bdnex_calibre.opf import author_sort_of, build_opf, merged_identifiers, merged_tags, series_index
from bdnex_calibre.source_record import on_site

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
    assert series_index("3b") == 3.2
    assert series_index("10VC") == 10.0
    assert series_index(None) is None
    # hors-séries after every tome, intégrales after them; letters and edition codes as for tomes
    assert series_index("HS2") == series_index("Hors-série 2") == 1002.0
    assert series_index("HS") == 1000.0
    assert series_index("INT12") == series_index("Intégrale 12") == 2012.0
    assert series_index("intégrale") == 2000.0
    assert series_index("INT2a") == 2002.1
    assert series_index("INT1HC") == 2001.0
    ordered = ["1", "2", "3b", "120", "HS", "HS1", "HS2", "INT", "INT1", "INT12"]
    assert sorted(ordered, key=series_index) == ordered


def test_tags_policies() -> None:
    mine, ours = ["à lire", "Fantasy"], ["fantasy", "Aventure"]
    assert merged_tags(mine, ours, "merge") == ["à lire", "Fantasy", "Aventure"]
    assert merged_tags(mine, ours, "replace") == ["fantasy", "Aventure"]
    assert merged_tags(mine, ours, "keep") == ["à lire", "Fantasy"]


def test_author_sort_prefers_bedetheque_form() -> None:
    authors = ["Jean Van Hamme", "Grzegorz Rosinski"]
    assert author_sort_of(authors, {"Jean Van Hamme": "Van Hamme, Jean"}) == "Van Hamme, Jean & Rosinski, Grzegorz"
    assert author_sort_of(["Hergé"]) == "Hergé"


def test_links_are_on_the_configured_site() -> None:
    recorded = "https://www.bedetheque.com/media/Couvertures/Couv_245127.jpg"
    assert on_site("http://127.0.0.1:8000/", recorded, "x") == "http://127.0.0.1:8000/media/Couvertures/Couv_245127.jpg"
    assert (
        on_site("http://mirror.test", None, "media/Couvertures/Couv_1.jpg")
        == "http://mirror.test/media/Couvertures/Couv_1.jpg"
    )


def test_identifiers_keep_existing_and_add_bedetheque_and_isbn() -> None:
    merged = merged_identifiers({"amazon": "B0001", "isbn": "old"}, FIELDS)
    assert merged == {"amazon": "B0001", "isbn": "9782302012345", "bedetheque": "245127"}


def test_opf_carries_every_field() -> None:
    root = etree.fromstring(build_opf(FIELDS, {"amazon": "B0001"}).encode())
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "opf": "http://www.idpf.org/2007/opf"}
    assert root.findtext(".//dc:title", namespaces=ns) == "La Forge"
    # writer first, artist next, each once
    assert [e.text for e in root.iterfind(".//dc:creator", ns)] == ["Nicolas Jarry", "Pierre-Denis Goux"]
    file_as = root.find(".//dc:creator", ns).get("{http://www.idpf.org/2007/opf}file-as")
    assert file_as == "Jarry, Nicolas & Goux, Pierre-Denis"
    assert [e.text for e in root.iterfind(".//dc:subject", ns)] == ["Heroic Fantasy", "Aventure"]
    metas = {e.get("name"): e.get("content") for e in root.iterfind(".//opf:meta", ns)}
    assert metas["calibre:series"] == "Redwin de la Forge"
    assert metas["calibre:series_index"] == "1002.0"
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
