"""A Komga book queued for review and accepted later is written back exactly as the first run would
have written it: with ``komga.write: [api]``, through the API only, never into the library file."""

from __future__ import annotations

import io
import zipfile

import pytest

from conftest import Env, series_albums

pytestmark = pytest.mark.timeout(90)


def test_a_queued_komga_book_accepted_in_review_is_written_through_the_api_only(env: Env, monkeypatch) -> None:
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    album_id, series, tome = series_albums(env.site, 1)[0]
    # the series and tome are right, the title says otherwise: an uncertain match, queued
    path = write_cbz(
        env.library_folder / series / f"{series} - {tome} - Un titre sans rapport.cbz", sample_pages(series, 3, 7)
    )
    (book_id,) = env.komga.scan(env.library_id)
    assert env.komga.wait_idle(10)
    before = path.read_bytes()
    code, out, err = env.cli("tag", "--source", "komga", "--batch", "--json", f"library:{env.library_id}")
    assert code == 0, out + err
    assert '"waiting": 1' in out, out
    # the album named by its id, shown as a card, then confirmed
    monkeypatch.setattr("sys.stdin", io.StringIO(f"id {album_id}\ny\n"))
    code, out, err = env.cli("review")
    assert code == 0, out + err
    assert "1 tagged" in out, out + err
    with zipfile.ZipFile(path) as archive:
        assert "ComicInfo.xml" not in archive.namelist()
    assert path.read_bytes() == before
    links = env.komga.book(book_id)["metadata"]["links"]
    assert links and links[0]["url"].endswith(f"-{album_id}.html")
