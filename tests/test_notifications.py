"""Notifications (Apprise): a run's summary, the site's pause and resume, posted to a local receiver;
a receiver that does not answer never fails a run; a bad URL or template fails ``config validate``."""

from __future__ import annotations

import json
import re

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_breakers, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import CatalogueAlbum, build_library
from bdnex_core.errors import BlockedError, ConfigError
from bdnex_core.service import notifications
from bdnex_testing.notify_receiver import NotificationReceiver, closed_port_url
from bdnex_testing.processes import start_cli
from bdnex_testing.shared import fake_bedetheque

pytest.importorskip("apprise", reason="the notify extra (apprise) is not installed")


@pytest.fixture(scope="module")
def site():
    with fake_bedetheque() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_process_state(site):
    """Each test starts as a new process would: no pause said, no breaker tripped, the site well."""
    notifications.site_pause.resume()
    reset_politeness()
    site.set_mode(None)
    yield
    site.set_mode(None)
    notifications.site_pause.resume()
    reset_politeness()


@pytest.fixture
def receiver():
    with NotificationReceiver() as running:
        yield running


def configured(tmp_path, site, urls, **section):
    """Settings and their config file: a database with the catalogue, notifications to ``urls``."""
    mapping = {
        "database": {"path": str(tmp_path / "bdnex.db")},
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs")},
        "notifications": {"urls": list(urls), **section},
        **site.settings_mapping(max_retries=0),
    }
    settings = from_mapping(mapping)
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(mapping))
    return settings, config


def index_catalogue(settings):
    db = BDneXDB(settings=settings)
    Catalogue(db).update_online(BedethequeClient(settings))
    db.close()
    reset_politeness()


def mixed_library(site, folder):
    """5 albums of the catalogue, 2 absent ones (review), 1 broken archive (failed)."""
    pool = [
        entry
        for entries in site.catalogue.series.values()
        if len(entries) >= 3
        for entry in entries
        if entry.tome_kind == "regular" and entry.tome and entry.tome.isdigit()
    ][:5]
    present = [CatalogueAlbum(e.album_id, human(e.series_slug), e.tome, human(e.title_slug) or None) for e in pool]
    absent = [CatalogueAlbum(0, present[0].series, "97", None), CatalogueAlbum(0, present[1].series, "98", None)]
    return build_library(folder, present, absent, broken=1)


def test_a_run_posts_its_counts_the_review_link_and_the_failures(tmp_path, site, receiver):
    settings, config = configured(tmp_path, site, [receiver.url], review_url="http://nas.local:8080")
    index_catalogue(settings)
    mixed_library(site, tmp_path / "library")
    run = start_cli(config, "tag", str(tmp_path / "library"), "--batch", "--json")
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, err  # one broken archive
    summary = json.loads(out)
    (message,) = receiver.wait_for(1)
    assert message["path"] == "/notify"
    assert message["title"] == "bdnex-core: 5 tagged, 2 to review, 1 failed"
    body = message["message"]
    assert f"Session {summary['session_id']} completed: 5 tagged, 2 waiting for review, 1 failed" in body
    assert "Waiting for review: http://nas.local:8080/review" in body
    (failure,) = re.findall(r"^- (.*)$", body, flags=re.MULTILINE)
    assert "Archive abimee 1 - T01.cbz" in failure and failure.split(": ", 1)[1] == summary["failures"][0]["reason"]
    assert "notification" not in err  # nothing to warn about

    # a run with nothing to process says nothing (notifications.empty_runs is off)
    (tmp_path / "library" / "Archive abimee 1 - T01.cbz").unlink()  # the only file a new run would try again
    again = start_cli(config, "tag", str(tmp_path / "library"), "--batch", "--json")
    again.communicate(timeout=300)
    assert len(receiver.received()) == 1


def test_templates_shape_the_message(tmp_path, site, receiver):
    settings, config = configured(
        tmp_path,
        site,
        [receiver.url],
        templates={"run": {"title": "BD {status}", "body": "{tagged}/{failed} on {host}{failures}"}},
    )
    index_catalogue(settings)
    mixed_library(site, tmp_path / "library")
    start_cli(config, "tag", str(tmp_path / "library"), "--batch").communicate(timeout=300)
    (message,) = receiver.wait_for(1)
    assert message["title"] == "BD completed"
    assert re.match(r"5/1 on \S+\nFailed:\n- .*Archive abimee 1", message["message"])


def test_an_unreachable_receiver_never_fails_the_run(tmp_path, site):
    settings, config = configured(tmp_path, site, [closed_port_url()])
    index_catalogue(settings)
    mixed_library(site, tmp_path / "library")
    run = start_cli(config, "tag", str(tmp_path / "library"), "--batch", "--json")
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, err  # the broken archive's exit code, not the notification's
    summary = json.loads(out)
    assert summary["status"] == "completed" and summary["counts"]["tagged"] == 5
    assert re.search(r"notification \(run\) not sent to json://127\.0\.0\.1:\d+", err), err


def test_the_site_pausing_and_answering_again_is_said_once_each(tmp_path, site, receiver):
    settings, _ = configured(tmp_path, site, [receiver.url])
    client = BedethequeClient(settings)
    client.get("/")  # the site answers: nothing to say
    site.set_mode("ban")
    with pytest.raises(BlockedError):
        client.get("/BD-x-Tome-1-x-245127.html")
    with pytest.raises(BlockedError):  # the breaker holds: the same pause, no second message
        client.get("/BD-x-Tome-1-x-245127.html")
    (paused,) = receiver.wait_for(1)
    assert paused["title"] == "bdnex-core paused: Bédéthèque is not usable now"
    assert "banned our IP address" in paused["message"]

    site.set_mode(None)
    reset_breakers()  # what a watcher does after its pause (api.retry_site_now)
    client.get("/BD-x-Tome-1-x-245127.html")
    client.get("/BD-x-Tome-1-x-245127.html")
    messages = receiver.wait_for(2)
    assert [message["title"] for message in messages] == [
        "bdnex-core paused: Bédéthèque is not usable now",
        "bdnex-core resumed: Bédéthèque answers again",
    ]
    assert re.search(r"after \d+ s \(paused for: Bédéthèque banned our IP", messages[1]["message"])


def test_a_site_that_stops_answering_pauses_a_run_and_says_so(tmp_path, site, receiver):
    settings, config = configured(tmp_path, site, [receiver.url])
    index_catalogue(settings)
    mixed_library(site, tmp_path / "library")
    site.set_mode("503")  # album pages and the home page: the site is down
    run = start_cli(config, "tag", str(tmp_path / "library"), "--batch", "--json")
    out, err = run.communicate(timeout=300)
    assert run.returncode == 4, err
    titles = [message["title"] for message in receiver.wait_for(2)]
    assert titles[0] == "bdnex-core paused: Bédéthèque is not usable now"
    assert titles[1].startswith("bdnex-core: 0 tagged")  # the run's summary: it paused (blocked)
    assert json.loads(out)["status"] == "blocked"


def test_config_validate_names_a_bad_url_or_template(tmp_path, site):
    good = json.dumps({"notifications": {"urls": ["json://127.0.0.1:9/x"]}})
    (tmp_path / "good.yaml").write_text(good)
    run = start_cli(tmp_path / "good.yaml", "config", "validate")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err

    bad = {"notifications": {"urls": ["json://127.0.0.1:9/x", "discord://not-a-webhook"]}}
    (tmp_path / "bad.yaml").write_text(json.dumps(bad))
    run = start_cli(tmp_path / "bad.yaml", "config", "validate")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2
    lines = err.strip().splitlines()
    assert lines == [
        f"Error: {tmp_path / 'bad.yaml'}: invalid configuration at notifications.urls[1]: discord://… is not "
        "a notification URL Apprise can use"
    ]
    assert "not-a-webhook" not in err  # a URL's rest may be a token: never shown

    template = {"notifications": {"templates": {"paused": {"body": "{reason} {tagged}"}}}}
    (tmp_path / "template.yaml").write_text(json.dumps(template))
    run = start_cli(tmp_path / "template.yaml", "tag", str(tmp_path))  # any command: checked at start
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2
    assert "notifications.templates.paused.body: unknown field {tagged} (fields: host, reason)" in err


def test_urls_from_a_secret_file_and_the_environment(tmp_path, site, receiver, monkeypatch):
    secret = tmp_path / "urls"
    secret.write_text(f"# one a line\n{receiver.url}\n")
    monkeypatch.setenv(notifications.URLS_VARIABLE, receiver.url.replace("/notify", "/env"))
    settings = from_mapping({"notifications": {"urls_file": str(secret)}})
    assert notifications.send(settings, notifications.PAUSED, {"reason": "test"})
    assert sorted(message["path"] for message in receiver.wait_for(2)) == ["/env", "/notify"]
    missing = {"notifications": {"urls_file": str(tmp_path / "nowhere")}}
    with pytest.raises(ConfigError, match=r"notifications.urls_file: cannot read it"):
        from_mapping(missing)
