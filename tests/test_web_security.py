"""The web page's guards, on the real app over a real database and the fake site: a foreign Host is
refused (DNS rebinding), a non-loopback server asks for its token, a POST without the page's CSRF
token changes nothing, and no request can make it read a file by path."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import requests
from starlette.testclient import TestClient

from bdnex_core.web.app import create_app
from bdnex_core.web.security import TOKEN_COOKIE, Guard
from bdnex_testing import review as review_env
from bdnex_testing import web as web_env
from bdnex_testing.review import comicinfo_bytes
from bdnex_testing.web import free_port

site, library = review_env.site, web_env.library  # fixtures: the fake site (per module), a sample library
LOOPBACK = "http://127.0.0.1:8080"


def client(app, base_url=LOOPBACK):
    return TestClient(app, base_url=base_url, follow_redirects=False)


def test_a_foreign_host_header_is_refused(library):
    with client(create_app(library.settings)) as web:
        assert web.get("/review").status_code == 200
        assert web.get("/review", headers={"Host": "localhost:8080"}).status_code == 200
        for host in ("evil.example", "evil.example:8080", "127.0.0.1.evil.example", "", "[::2]:8080"):
            refused = web.get("/review", headers={"Host": host})
            assert refused.status_code == 400, host
            assert "Host" in refused.text
        assert web.get("/cover/entry/1", headers={"Host": "evil.example"}).status_code == 400
        headers = web.get("/review").headers  # and the page itself is never framed nor loads elsewhere
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "default-src 'self'" in headers["content-security-policy"]


def test_a_non_loopback_server_wants_its_token(library):
    guard = Guard.for_bind("192.0.2.10")
    assert guard.token and len(guard.token) >= 24
    with client(create_app(library.settings, guard), base_url="http://192.0.2.10:8080") as web:
        assert web.get("/review").status_code == 401
        assert web.get("/review?token=wrong").status_code == 401
        assert web.get("/review", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert web.get("/review", cookies={TOKEN_COOKIE: guard.token[:-1]}).status_code == 401
        assert web.get("/cover/entry/1").status_code == 401  # images too
        assert web.get("/review", headers={"Authorization": f"Bearer {guard.token}"}).status_code == 200
        first = web.get(f"/review?token={guard.token}")
        assert first.status_code == 303 and "token" not in first.headers["location"]
        assert TOKEN_COOKIE in first.cookies
        assert web.get("/review").status_code == 200  # the cookie carries it from now on
    assert Guard.for_bind("127.0.0.1").token is None and Guard.for_bind("::1").token is None


def test_the_command_prints_a_token_when_not_on_loopback(library):
    port = free_port()
    command = [sys.executable, "-m", "bdnex_core", "--config", str(library.config), "web", "--host", "0.0.0.0"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        line = process.stdout.readline()
        assert "?token=" in line, line
        token = line.split("?token=", 1)[1].split()[0]
        url = f"http://127.0.0.1:{port}/review"
        assert requests.get(url, timeout=30).status_code == 401
        assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
    finally:
        os.kill(process.pid, signal.SIGINT)
        process.wait(60)
        process.stdout.close()


def test_a_post_without_the_csrf_token_changes_nothing(library):
    with client(create_app(library.settings)) as web:
        page = web.get("/review")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        entry_id = int(re.search(r'action="/review/(\d+)/skip"', page.text).group(1))
        entry = web.app.state.web.service.entry(entry_id)
        path = entry.file_path
        before = comicinfo_bytes(path)
        album_id = entry.candidates[0]["album_id"]
        for form in (
            {"album_id": album_id},
            {"album_id": album_id, "csrf": "forged"},
            {"album_id": album_id, "csrf": ""},
        ):
            assert web.post(f"/review/{entry_id}/accept", data=form).status_code == 403
        assert web.post(f"/review/{entry_id}/skip", data={}).status_code == 403
        assert web.post("/review/undo", data={}).status_code == 403
        assert web.post("/file/1/restore", data={"backup_id": 1}).status_code == 403
        assert comicinfo_bytes(path) == before
        assert web.app.state.web.service.entry(entry_id).status == "waiting"
        confirmed = {"album_id": album_id, "csrf": csrf, "confirmed": "1"}  # as the confirmation page posts it
        accepted = web.post(f"/review/{entry_id}/accept", data=confirmed)
        assert accepted.status_code == 303  # the page's own token works
        assert comicinfo_bytes(path) != before


PATH_PROBES = (
    "/cover?path=../../etc/passwd",
    "/cover?path=/etc/passwd",
    "/cover/file?path=/etc/passwd",
    "/cover/file/..%2F..%2Fetc%2Fpasswd",
    "/cover/entry/999999",
    "/cover/file/999999",
    "/cover/passwd/1",
    "/static/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/../../../etc/passwd",
    "/file/999999",
)


def test_no_request_reads_a_file_by_path(library):
    with client(create_app(library.settings)) as web:
        for url in PATH_PROBES:
            answer = web.get(url)
            assert answer.status_code in (400, 404), (url, answer.status_code)
            assert "root:" not in answer.text
            assert not answer.headers.get("content-type", "").startswith("image/")


def test_covers_only_for_albums_the_database_knows(library, site):
    with client(create_app(library.settings)) as web:
        site.clear_log()
        assert web.get("/cover/album/987654321").status_code == 404
        assert site.requests() == []  # an unknown id never reaches the site
        known = library.entries[5].album_id
        answer = web.get(f"/cover/album/{known}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"


HUGE_IDS = (2**63, 2**64, 10**30, int("9" * 400))
ID_ROUTES = (
    "/review/{}",
    "/review/{}/preview?album=1",
    "/sessions/{}",
    "/sessions/{}/progress",
    "/file/{}",
    "/cover/file/{}",
    "/cover/entry/{}",
    "/cover/album/{}",
)


def test_ids_beyond_64_bits_answer_404_not_500(library, site):
    """Issue 29, case 9: a number no row can have is an unknown page (the app re-raises any server
    error here: a 500 would fail the test with its traceback)."""
    with client(create_app(library.settings)) as web:
        site.clear_log()
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/review").text).group(1)
        for number in HUGE_IDS:
            for route in ID_ROUTES:
                answer = web.get(route.format(number))
                assert answer.status_code == 404, (route, number, answer.status_code)
            for action in ("/review/{}/accept", "/review/{}/skip", "/file/{}/restore"):
                answer = web.post(action.format(number), data={"csrf": csrf, "album_id": 1, "backup_id": 1})
                assert answer.status_code == 404, (action, number, answer.status_code)
        for route in ID_ROUTES:  # the largest id is a valid one (a preview of no entry says so on the review page)
            assert web.get(route.format(2**63 - 1)).status_code in (303, 404), route
        site.clear_log()
        entry_id = web.app.state.web.service.entries("waiting")[0].id
        for number in (*HUGE_IDS, "１２", "-1", "²"):  # in a form: refused with the reason
            answer = web.post(f"/review/{entry_id}/accept", data={"csrf": csrf, "album_id": number})
            assert answer.status_code == 400 and "album_id: an id" in answer.text, number
            preview = web.get(f"/review/{entry_id}/preview", params={"album": f"id {number}"}, follow_redirects=True)
            assert preview.status_code == 200 and "neither an album id" in preview.text
        assert site.requests() == []  # none of those numbers reached the site


def test_a_cross_site_preview_link_puts_none_of_its_text_in_a_notice(library):
    """Any page can send the browser to /review/N/preview?album=TEXT: the notice the user then
    reads must not carry words of that page's choosing."""
    planted = "Votre session a expiré, appelez le 01 23 45 67 89"
    with client(create_app(library.settings)) as web:
        entry_id = web.app.state.web.service.entries("waiting")[0].id
        answer = web.get(
            f"/review/{entry_id}/preview",
            params={"album": planted},
            headers={"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"},
        )
        assert answer.status_code == 303
        page = web.get(answer.headers["location"])
        assert "neither an album id" in page.text  # the user still learns the address was wrong
        assert planted not in page.text and "appelez" not in page.text
        assert planted not in web.get("/review").text  # nor later
