"""ComicInfo: BD mapping, schema validity (v2.0 and v2.1), safe reading, merging."""

from __future__ import annotations

import pytest
from lxml import etree

from bdnex_core.bedetheque.album import Album
from bdnex_core.comicinfo import V20_ORDER, V21_ORDER, ComicInfo, diff, read_comicinfo_safely
from bdnex_core.errors import MetadataError


def nains(**changes):
    values = dict(
        album_id=245127,
        url="https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
        title="Redwin de la Forge",
        series="Nains",
        tome="1",
        writers=["Jarry, Nicolas"],
        pencillers=["Goux, Pierre-Denis"],
        colorists=["Digikore Studios"],
        cover_artists=["Goux, Pierre-Denis", "Saïto, Diogo"],
        translators=["Durand, Anne"],
        publisher="Soleil Productions",
        collection="Terres d'Arran",
        genre="Fantasy",
        isbn="978-2-302-04644-3",
        legal_deposit="2015-06",
        release_date="2015-06-03",
        rating=4.25,
        votes=105,
        planches=56,
        summary="Redwin, fils d'Ulrog <forgeron> & héros…",
        series_album_count=26,
        format="Grand format",
    )
    values.update(changes)
    return Album(**values)


KINDS = {
    "full album": nains(),
    "one-shot": nains(tome=None, series=None, title="Quelque part entre les ombres", series_album_count=None),
    "hors-série": nains(tome="HS1", title="Le Bestiaire"),
    "intégrale": nains(tome="INT2", title="Intégrale 2", isbn=None),
}


@pytest.fixture(scope="module")
def schemas(shared_dir):
    folder = shared_dir / "reference" / "comicinfo"
    return {
        "2.0": etree.XMLSchema(etree.parse(str(folder / "v2.0" / "ComicInfo.xsd"))),
        "2.1": etree.XMLSchema(etree.parse(str(folder / "v2.1-draft" / "ComicInfo.xsd"))),
    }


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_generated_comicinfo_validates(schemas, kind, version):
    xml = ComicInfo.from_album(KINDS[kind], pages=["p1.jpg", "p2.jpg", "p3.jpg"], version=version).to_xml(version)
    document = etree.fromstring(xml)
    assert schemas[version].validate(document), schemas[version].error_log
    names = [element.tag for element in document]
    order = V21_ORDER if version == "2.1" else V20_ORDER
    assert names == sorted(names, key=order.index)
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_bd_mapping():
    info = ComicInfo.from_album(nains(), pages=[f"{n}.jpg" for n in range(5)], cover_index=0)
    fields = info.fields
    assert (fields["Series"], fields["Number"], fields["Title"]) == ("Nains", "1", "Redwin de la Forge")
    assert fields["Writer"] == "Nicolas Jarry" and fields["Penciller"] == "Pierre-Denis Goux"
    assert fields["CoverArtist"] == "Pierre-Denis Goux, Diogo Saïto" and fields["Translator"] == "Anne Durand"
    assert (fields["Publisher"], fields["Imprint"], fields["Genre"]) == (
        "Soleil Productions",
        "Terres d'Arran",
        "Fantasy",
    )
    assert (fields["Year"], fields["Month"], fields["Day"]) == ("2015", "6", "3")
    assert fields["GTIN"] == "9782302046443" and fields["LanguageISO"] == "fr" and fields["Count"] == "26"
    assert fields["PageCount"] == "5"  # pages of the archive, not the 56 printed planches
    assert fields["CommunityRating"] == "4.3"  # v2.1 allows one decimal
    assert fields["Web"].endswith("-245127.html")
    assert info.front_cover_index() == 0 and len(info.pages) == 5
    assert ComicInfo.from_album(nains(tome="1a")).fields["Number"] == "1a"


def test_version_20_moves_the_isbn_to_notes():
    xml = ComicInfo.from_album(nains(), version="2.0").to_xml("2.0")
    assert b"<GTIN>" not in xml and b"ISBN 978-2-302-04644-3" in xml and b"<Translator>" not in xml
    assert b"<CommunityRating>4.25</CommunityRating>" in xml


def test_round_trip_and_diff():
    original = ComicInfo.from_album(nains(), pages=["a.jpg", "b.jpg"])
    back = ComicInfo.from_xml(original.to_xml())
    assert back.fields == original.fields and back.pages == original.pages
    assert diff(back, original) == {}
    changed = ComicInfo.from_album(nains(title="Autre"), pages=["a.jpg", "b.jpg"])
    assert diff(back, changed) == {"Title": ("Redwin de la Forge", "Autre")}


EXISTING = """<?xml version="1.0"?>
<ComicInfo><Title>Mon titre</Title><Series>Nains</Series><Summary>Mon résumé</Summary>
<Tags>lu, favori</Tags><CustomTool><Rating>5</Rating></CustomTool></ComicInfo>""".encode()


@pytest.mark.parametrize(
    ("policy", "locked", "title", "summary"),
    [
        ("replace", (), "Redwin de la Forge", "Redwin, fils d'Ulrog <forgeron> & héros…"),
        ("fill_empty", (), "Mon titre", "Mon résumé"),
        ("keep_locked", ("Summary",), "Redwin de la Forge", "Mon résumé"),
    ],
)
def test_merge_policies_keep_unknown_elements(policy, locked, title, summary):
    merged = ComicInfo.merge(ComicInfo.from_xml(EXISTING), ComicInfo.from_album(nains()), policy, locked)
    assert merged.fields["Title"] == title and merged.fields["Summary"] == summary
    assert merged.fields["Tags"] == "lu, favori"  # not ours: kept
    xml = merged.to_xml()
    custom = etree.fromstring(xml).find("CustomTool")
    assert custom is not None and custom.findtext("Rating") == "5"
    assert merged.fields["Writer"] == "Nicolas Jarry"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<ComicInfo><Title>&lol9;</Title></ComicInfo>"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ComicInfo><Title>&e;</Title></ComicInfo>',
            "DOCTYPE",
        ),
        (b"<ComicInfo><Title>" + b"x" * (50 * 1024 * 1024) + b"</Title></ComicInfo>", "KB"),
        (b"<ComicInfo><Title>\xff\xfe\xfa</Title></ComicInfo>", "UTF-8"),
        (
            b"<!--"
            + b"x" * 8000
            + b'--><!DOCTYPE ComicInfo [<!ENTITY t "t">]><ComicInfo><Title>&t;</Title></ComicInfo>'.upper(),
            "DOCTYPE",
        ),
        (b"<ComicInfo><Title>unclosed</ComicInfo>", "well-formed"),
        (b"<Book><Title>x</Title></Book>", "root element"),
    ],
)
def test_unsafe_or_broken_xml_is_refused_with_a_reason(data, reason):
    with pytest.raises(MetadataError, match=reason):
        ComicInfo.from_xml(data)
    info, problem = read_comicinfo_safely(data)
    assert info is None and reason in problem and "\n" not in problem


def test_a_comicrack_file_stays_valid_after_our_write(schemas):
    from tests.test_comicinfo_faithful import COMICRACK

    merged = ComicInfo.merge(ComicInfo.from_xml(COMICRACK), ComicInfo.from_album(nains(), pages=["a", "b", "c"]))
    for version, schema in schemas.items():
        document = etree.fromstring(merged.to_xml(version))
        assert schema.validate(document), (version, schema.error_log)
