"""The web page in a real browser (Debian's chromium driven by Playwright; no browser download), on a
sample library tagged against the fake site: covers actually load, keys and buttons do what they say,
and nothing is written before a person confirms. Screenshots are kept as artifacts (the folder is
printed); BDNEX_UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/images/review-page.png for the README.

Skipped with the reason when chromium or Playwright is missing, unless BDNEX_REQUIRE_BROWSER=1."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from bdnex_core.web.app import create_app
from bdnex_testing import review as review_env
from bdnex_testing import web as web_env
from bdnex_testing.review import comicinfo_bytes, comicinfo_of
from bdnex_testing.web import Served

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parent.parent
site, library = review_env.site, web_env.library  # fixtures: the fake site (per module), a sample library


def _missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; never `playwright install`)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing_browser()
    if reason:
        if os.environ.get("BDNEX_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BDNEX_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-screenshots")
    print(f"\nweb screenshots in {folder}")
    return folder


@pytest.fixture
def served(library):
    with Served(create_app(library.settings)) as server:
        yield library, server


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert problems == [], f"console errors: {problems}"


def loaded_widths(page, selector):
    """naturalWidth of every image matched, once each has finished loading (0: it failed)."""
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(img => img.complete)", arg=selector, timeout=60_000
    )
    return page.eval_on_selector_all(selector, "images => images.map(img => img.naturalWidth)")


def sql(library, statement, params=()):
    """One statement on the database the server uses, from outside it (as another process would)."""
    conn = sqlite3.connect(library.settings.database.path)
    try:
        with conn:
            return conn.execute(statement, params).fetchone()
    finally:
        conn.close()


def first_pending(library):
    return sql(
        library, "SELECT id, file_path, candidates FROM review_queue WHERE status = 'waiting' ORDER BY id LIMIT 1"
    )


def entry_status(library, entry_id):
    return sql(library, "SELECT status FROM review_queue WHERE id = ?", [entry_id])[0]


def test_review_shows_the_covers_and_accepting_writes_the_file(served, page, artifacts):
    library, server = served
    entry_id, path, candidates = first_pending(library)
    first_album = json.loads(candidates)[0]["album_id"]
    page.goto(f"{server.url}/review")
    file_cover = loaded_widths(page, "img.file-cover")
    assert len(file_cover) == 1 and file_cover[0] > 0, file_cover
    widths = loaded_widths(page, "img.candidate-cover")
    assert len(widths) >= 2 and all(width > 0 for width in widths), widths
    card = page.locator(f'article.card[data-album="{first_album}"]').first
    for label in ("year", "publisher", "authors", "ISBN", "score"):
        assert card.locator("dt", has_text=label).count() == 1
    assert card.locator("table.diff td", has_text="Series").count() == 1  # the field diff against the file
    page.screenshot(path=str(artifacts / "review-page.png"), full_page=False)
    if os.environ.get("BDNEX_UPDATE_DOCS_SCREENSHOT") == "1":
        (REPO / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / "review-page.png", REPO / "docs" / "images" / "review-page.png")
    assert comicinfo_bytes(Path(path)) is None  # nothing written yet
    with page.expect_navigation():
        page.keyboard.press("1")  # the first candidate, by its key
    assert page.locator(".flash").first.inner_text().startswith("tagged")
    written = comicinfo_of(Path(path))
    assert written is not None and written.get("Web") and str(first_album) in written.get("Web")
    assert entry_status(library, entry_id) == "resolved"
    assert page.locator(".queue li", has_text=Path(path).name).count() == 0  # gone from the queue
    page.screenshot(path=str(artifacts / "review-after-accept.png"))


def test_an_album_id_is_previewed_before_anything_is_written(served, page, artifacts):
    library, server = served
    entry_id, path, _ = first_pending(library)
    chosen = library.entries[5]
    before = comicinfo_bytes(Path(path))
    page.goto(f"{server.url}/review/{entry_id}")
    page.fill('input[name="album"]', f"https://www.bedetheque.com/BD-x-Tome-{chosen.tome}-y-{chosen.album_id}.html")
    with page.expect_navigation():
        page.click("form.by-id button")
    assert "preview" in page.url
    card = page.locator(f'article.card[data-album="{chosen.album_id}"]')
    assert card.count() == 1 and chosen.tome in card.locator("h3").inner_text()
    assert card.locator("table.diff td", has_text="Number").count() == 1
    assert all(width > 0 for width in loaded_widths(page, "img.cover"))
    page.screenshot(path=str(artifacts / "preview-page.png"))
    assert comicinfo_bytes(Path(path)) == before  # the preview wrote nothing
    assert entry_status(library, entry_id) == "waiting"
    with page.expect_navigation():
        page.click("form.accept button")
    assert comicinfo_of(Path(path)).get("Number") == chosen.tome
    assert entry_status(library, entry_id) == "resolved"


def test_skip_and_undo_from_the_keyboard(served, page):
    library, server = served
    entry_id, path, _ = first_pending(library)
    page.goto(f"{server.url}/review/{entry_id}")
    with page.expect_navigation():
        page.keyboard.press("s")
    assert entry_status(library, entry_id) == "skipped"
    entry_id, path, _ = first_pending(library)
    before = comicinfo_bytes(Path(path))
    page.goto(f"{server.url}/review/{entry_id}")
    with page.expect_navigation():
        page.keyboard.press("1")
    assert comicinfo_bytes(Path(path)) != before
    with page.expect_navigation():
        page.keyboard.press("u")
    assert "undone" in page.locator(".flash").first.inner_text()
    assert entry_status(library, entry_id) == "waiting"
    assert comicinfo_bytes(Path(path)) == before  # the file is back to how it was
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"


def test_the_library_shows_charts_and_missing_tomes(served, page, artifacts, site):
    library, server = served
    site.clear_log()
    page.goto(f"{server.url}/library")
    page.wait_for_load_state("networkidle")
    chart = page.locator("figure.chart svg").first
    assert chart.locator("rect.bar").count() >= 1
    assert "Albums per publisher" in page.locator("figure.chart figcaption").first.inner_text()
    missing = page.locator(f'figure.tome.missing[data-album="{library.entries[2].album_id}"]')
    assert missing.count() == 1
    series = page.locator("details.series", has=missing)
    assert f": {library.entries[2].tome}," in series.locator("summary").inner_text()  # listed before opening
    assert not missing.is_visible()  # closed: no cover fetched from the site until asked
    assert site.requests("Couv_") == []
    series.locator("summary").click()
    assert missing.is_visible() and "missing" in missing.inner_text()
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert all(width > 0 for width in loaded_widths(page, "details[open] figure.tome img"))
    page.screenshot(path=str(artifacts / "library-page.png"), full_page=True)


def test_a_running_session_is_followed_live(served, page):
    library, server = served
    sql(
        library,
        "UPDATE processing_sessions SET status = 'running', pid = ?, heartbeat = ?, files_processed = 1, "
        "total_files = 4 WHERE id = 1",
        [os.getpid(), time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())],
    )
    page.goto(f"{server.url}/sessions/1")
    assert page.locator('[data-field="display_status"]').inner_text() == "running"
    sql(library, "UPDATE processing_sessions SET files_processed = 3 WHERE id = 1")
    page.wait_for_function(
        "() => document.querySelector('[data-field=files_processed]').textContent === '3'", timeout=30_000
    )
    with page.expect_navigation(timeout=30_000):  # a finished session: the page reloads with the results
        sql(library, "UPDATE processing_sessions SET status = 'completed', files_processed = 4 WHERE id = 1")
    assert page.locator('[data-field="display_status"]').inner_text() == "completed"
    assert page.locator("[data-progress-url]").count() == 0  # no more polling
    page.goto(f"{server.url}/sessions/1?state=waiting")
    rows = page.locator("table.list tr:has(td)")
    assert rows.count() == 2 and all("waiting" in rows.nth(i).inner_text() for i in range(2))
    with page.expect_navigation():
        rows.first.locator("a").click()
    assert "/file/" in page.url and page.locator("h3", has_text="Change history").count() == 1
