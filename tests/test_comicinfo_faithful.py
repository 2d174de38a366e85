"""An existing ComicInfo.xml is read faithfully when it can be, and what we do not set survives a write (issue 20)."""

from __future__ import annotations

import pytest
from lxml import etree

from bdnex_core.comicinfo import ComicInfo, read_comicinfo_safely
from tests.test_comicinfo_model import nains

COMICRACK = """<?xml version="1.0" encoding="utf-8"?>
<ComicInfo xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <Title>Mon titre</Title>
  <Pages>
    <Page Image="1" Bookmark="Début" ImageWidth="1200" ImageHeight="1600"/>
    <Page Image="0" Type="FrontCover" ImageSize="123456" DoublePage="false"/>
    <Page Image="2" Type="Story" Key="k2" ImageWidth="2400" ImageHeight="1600" DoublePage="true"/>
  </Pages>
</ComicInfo>
""".encode()


def pages_of(xml: bytes) -> list[dict[str, str]]:
    return [dict(page.attrib) for page in etree.fromstring(xml).find("Pages")]


@pytest.mark.parametrize("policy", ["replace", "fill_empty", "keep_locked"])
def test_page_attributes_and_order_survive_a_write(policy):
    existing = ComicInfo.from_xml(COMICRACK)
    ours = ComicInfo.from_album(nains(), pages=["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    written = ComicInfo.merge(existing, ours, policy).to_xml()
    assert pages_of(written) == [
        {"Image": "1", "Bookmark": "Début", "ImageWidth": "1200", "ImageHeight": "1600"},
        {"Image": "0", "Type": "FrontCover", "ImageSize": "123456", "DoublePage": "false"},
        {"Image": "2", "Type": "Story", "Key": "k2", "ImageWidth": "2400", "ImageHeight": "1600", "DoublePage": "true"},
        {"Image": "3"},  # a page the file did not list: added, without a cover guess (the file has one)
    ]


def test_our_cover_guess_fills_only_a_file_without_types():
    existing = ComicInfo.from_xml(
        b'<ComicInfo><Pages><Page Image="0" Bookmark="b"/><Page Image="1"/></Pages></ComicInfo>'
    )
    merged = ComicInfo.merge(existing, ComicInfo.from_album(nains(), pages=["a.jpg", "b.jpg"]))
    assert pages_of(merged.to_xml()) == [{"Image": "0", "Type": "FrontCover", "Bookmark": "b"}, {"Image": "1"}]


def test_unknown_things_inside_pages_and_on_the_root_stay_where_they_were():
    data = b"""<ComicInfo xmlns:x="urn:tool" x:version="7"><Pages x:layout="rtl">
        <x:Note>before the pages</x:Note><Page Image="0"/><Page Bookmark="no image number"/>
        <Page Image="1"/><x:Note>after</x:Note></Pages><x:Extra a="1"><x:B/></x:Extra></ComicInfo>"""
    merged = ComicInfo.merge(ComicInfo.from_xml(data), ComicInfo.from_album(nains(), pages=["a.jpg", "b.jpg"]))
    root = etree.fromstring(merged.to_xml())
    assert root.get("{urn:tool}version") == "7"
    pages = root.find("Pages")
    assert pages.get("{urn:tool}layout") == "rtl"
    assert [(etree.QName(child).localname, dict(child.attrib), child.text) for child in pages] == [
        ("Note", {}, "before the pages"),
        ("Page", {"Image": "0", "Type": "FrontCover"}, None),
        ("Page", {"Bookmark": "no image number"}, None),
        ("Page", {"Image": "1"}, None),
        ("Note", {}, "after"),
    ]
    assert root.find("{urn:tool}Extra").get("a") == "1" and root.find("{urn:tool}Extra/{urn:tool}B") is not None


@pytest.mark.parametrize(
    ("data", "title"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE ComicInfo SYSTEM "ComicInfo.dtd"><ComicInfo><Title>T</Title></ComicInfo>',
            "T",
        ),
        (b"<!DOCTYPE ComicInfo><ComicInfo><Title>T</Title></ComicInfo>", "T"),
        (
            '<?xml version="1.0" encoding="ISO-8859-1"?><ComicInfo><Title>Été</Title></ComicInfo>'.encode("latin-1"),
            "Été",
        ),
        (
            "<?xml version='1.0' encoding='windows-1252'?><ComicInfo><Title>Œuvre €</Title></ComicInfo>".encode(
                "cp1252"
            ),
            "Œuvre €",
        ),
        ('<?xml version="1.0" encoding="UTF-16"?><ComicInfo><Title>Été</Title></ComicInfo>'.encode("utf-16"), "Été"),
    ],
)
def test_unusual_but_valid_files_are_read_faithfully(data, title):
    info, problem = read_comicinfo_safely(data)
    assert problem is None and info is not None and info["Title"] == title


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<Book><Title>x</Title></Book>", "root element is <Book>"),
        (b"<ComicInfo><Summary>" + b"x" * (3 * 1024 * 1024) + b"</Summary></ComicInfo>", "3072 KB"),
        (b"\x00\x01PK\x03\x04 not xml at all", "not well-formed"),
        ("<ComicInfo><Title>Été</Title></ComicInfo>".encode("latin-1"), "not valid UTF-8 and declares no other"),
        (b'<?xml version="1.0" encoding="x-unknown-9"?><ComicInfo/>', "not well-formed"),
        (b'<!DOCTYPE c [<!ENTITY % p "x">]><ComicInfo/>', "entities"),
    ],
)
def test_files_we_cannot_read_faithfully_give_the_reason(data, reason):
    info, problem = read_comicinfo_safely(data)
    assert info is None and reason in problem and "\n" not in problem


def test_an_odd_rating_in_the_file_does_not_stop_the_write():
    existing = ComicInfo.from_xml(b"<ComicInfo><CommunityRating>great</CommunityRating></ComicInfo>")
    merged = ComicInfo.merge(existing, ComicInfo.from_album(nains(rating=None)))
    assert b"<CommunityRating>great</CommunityRating>" in merged.to_xml()
