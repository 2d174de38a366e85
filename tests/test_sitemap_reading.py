"""Reading album sitemaps fast without reading them wrong: the site's own layout is read by one scan of
the bytes once the XML is known well-formed; every other document gives what the streaming parser gives."""

from __future__ import annotations

import io

import pytest
from lxml import etree

from bdnex_core.bedetheque.catalogue import _rows, sitemap_rows
from bdnex_core.bedetheque.sitemaps import _in_site_layout, _stream_locations, iter_album_entries, iter_locations
from bdnex_core.demo.fakesite import synthetic_sitemap

HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
URLSET = '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">'


def _url(path: str, lastmod: str = "2021-10-20", *, extra: str = "") -> str:
    return (
        f"<url>\n<loc>https://www.bedetheque.com/{path}</loc>\n<lastmod>{lastmod}</lastmod>\n"
        "<changefreq>monthly</changefreq>\n<priority>0.8</priority>\n"
        f'<xhtml:link rel="alternate" media="only screen" href="https://m.bedetheque.com/{path}" />{extra}\n</url>\n'
    )


SITE = (
    HEAD
    + URLSET
    + _url("BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html")
    + _url("BD-Touch-Love-240003.html")
    + "</urlset>"
)


def _both(text: str | bytes) -> tuple[list, list]:
    data = text.encode() if isinstance(text, str) else text
    return list(iter_locations(io.BytesIO(data))), list(_stream_locations(io.BytesIO(data)))


def test_the_sites_layout_is_read_by_the_scan_and_gives_what_the_parser_gives():
    assert _in_site_layout(SITE.encode()) is not None
    fast, parsed = _both(SITE)
    assert (
        fast
        == parsed
        == [
            ("https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html", "2021-10-20"),
            ("https://www.bedetheque.com/BD-Touch-Love-240003.html", "2021-10-20"),
        ]
    )


@pytest.mark.parametrize(
    "variant",
    [
        # an entity in a URL, a comment holding a <loc>, a CDATA section
        SITE.replace("Touch-Love", "Touch-&amp;-Love"),
        SITE.replace("</urlset>", "<!-- <url><loc>https://x/BD-Ghost-1.html</loc></url> --></urlset>"),
        SITE.replace(
            "<loc>https://www.bedetheque.com/BD-Touch", "<loc><![CDATA[https://www.bedetheque.com/BD-Touch"
        ).replace("240003.html</loc>", "240003.html]]></loc>"),
        # a <url> without lastmod, the lastmod first, an attribute, another element, a nested <url>
        SITE.replace("<lastmod>2021-10-20</lastmod>\n<changefreq>", "<changefreq>", 1),
        SITE.replace(
            "<loc>https://www.bedetheque.com/BD-Touch-Love-240003.html</loc>\n<lastmod>2021-10-20</lastmod>",
            "<lastmod>2021-10-20</lastmod>\n<loc>https://www.bedetheque.com/BD-Touch-Love-240003.html</loc>",
        ),
        SITE.replace("<loc>https://www.bedetheque.com/BD-Touch", '<loc id="2">https://www.bedetheque.com/BD-Touch'),
        SITE.replace(
            "</urlset>",
            '<image xmlns="http://example.org/i"><url><loc>https://x/BD-Y-1.html</loc>'
            "<lastmod>2020</lastmod></url></image></urlset>",
        ),
        # the default namespace elsewhere, no namespace at all, another encoding declared
        SITE.replace(URLSET, URLSET.replace("http://www.sitemaps.org/schemas/sitemap/0.9", "http://example.org/other")),
        SITE.replace(URLSET, '<urlset xmlns:xhtml="http://www.w3.org/1999/xhtml">'),
        SITE.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("Nains", "Nains\xe9").encode("latin-1"),
        # blank space inside <loc>, an empty <loc>
        SITE.replace("<loc>https://www.bedetheque.com/BD-Touch", "<loc>  https://www.bedetheque.com/BD-Touch"),
        SITE.replace("<loc>https://www.bedetheque.com/BD-Touch-Love-240003.html</loc>", "<loc></loc>"),
    ],
)
def test_any_other_document_gives_what_the_streaming_parser_gives(variant):
    fast, parsed = _both(variant)
    assert fast == parsed


@pytest.mark.parametrize("cut", [50, 400, len(SITE) - 5])
def test_a_document_that_is_not_well_formed_is_refused_as_before(cut):
    with pytest.raises(etree.XMLSyntaxError):
        list(iter_locations(io.BytesIO(SITE[:cut].encode())))


def test_the_rows_of_an_import_are_those_of_the_entries(bedetheque_fixtures):
    """sitemap_rows reads the <loc> straight into rows: the same rows as the entries give."""
    sources = [synthetic_sitemap(800)] + [
        path.read_bytes() for path in sorted((bedetheque_fixtures / "sitemaps").glob("albums_*_map.xml"))
    ]
    for data in sources:
        assert list(sitemap_rows(io.BytesIO(data), "s.xml")) == list(
            _rows(iter_album_entries(io.BytesIO(data)), "s.xml")
        )
        assert _in_site_layout(data) is not None  # the real files are read by the scan
