"""No secret is ever printed: every output of a suite of CLI runs is searched for the test secrets.

The runs go through the real CLI (subprocesses, ``-vv`` debug logging) against the stand-in
Komga and the fake Bédéthèque, with an API key, a password, a webhook token, a calibre
password and a database-style URL password configured; their stdout, stderr, the session
logs and the database must hold none of them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from conftest import Env, series_albums

API_KEY = "apikey-S3CR3T-7f2c9e"
PASSWORD = "passwd-S3CR3T-41"
WEBHOOK_TOKEN = "hooktoken-S3CR3T-88"
CALIBRE_PASSWORD = "calibre-S3CR3T-19"
URL_PASSWORD = "dbpw-S3CR3T-23"
SECRETS = (API_KEY, PASSWORD, WEBHOOK_TOKEN, CALIBRE_PASSWORD, URL_PASSWORD)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BDNEX_KOMGA_")}
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_no_output_of_the_cli_contains_a_secret(env: Env) -> None:
    env.komga.add_user("secret-admin@example.org", PASSWORD, api_key=API_KEY)
    env.add_albums(series_albums(env.site, 1))
    env.komga.scan(env.library_id)
    assert env.komga.wait_idle(10)

    def write_config(name: str, **komga: Any) -> Path:
        mapping = env.mapping()
        mapping["komga"] = {**env.komga_section, "api_key": API_KEY, "webhook_token": WEBHOOK_TOKEN, **komga}
        mapping["calibre"] = {"username": "me", "password": CALIBRE_PASSWORD}
        mapping["elsewhere"] = {"url": f"postgresql://bdnex:{URL_PASSWORD}@localhost/bdnex"}
        path = env.tmp_path / name
        path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
        return path

    with_key = write_config("key.yaml")
    with_password = write_config("password.yaml", api_key=None, email="secret-admin@example.org", password=PASSWORD)
    closed_port = write_config("closed.yaml", url=f"http://127.0.0.1:{_free_port()}", timeout_seconds=2)
    broken_key = write_config("broken.yaml", api_key=f"{API_KEY}\nX-Injected: 1")
    runs = [
        _run(with_key, "config", "show"),
        _run(with_key, "config", "show", "--json"),
        _run(with_key, "-vv", "config", "validate"),
        _run(with_key, "-vv", "plugins"),
        _run(with_key, "-vv", "komga", "check"),
        _run(with_password, "-vv", "komga", "check", "--json"),
        _run(with_key, "-vv", "komga", "sync", "--library", env.library_id, "--dry-run"),
        _run(with_key, "-vv", "komga", "sync", "--library", env.library_id),
        _run(with_key, "-vv", "komga", "serve", "--listen", f"127.0.0.1:{_free_port()}", "--exit-after", "1"),
        _run(closed_port, "-vv", "--debug", "komga", "check"),
        _run(broken_key, "-vv", "komga", "check"),
        _run(broken_key, "--debug", "config", "show"),
        _run(with_key, "-vv", "sessions", "list"),
    ]
    assert [run.returncode for run in runs[:9]] == [0] * 9, [run.stderr[-500:] for run in runs[:9]]
    assert runs[10].returncode == 2 and "komga.api_key" in runs[10].stderr
    outputs = [run.stdout + run.stderr for run in runs]
    logs = [path for path in (env.tmp_path / "logs").rglob("*") if path.is_file()]
    assert logs, "the sync runs wrote no session log"
    outputs += [path.read_text("utf-8", errors="replace") for path in logs]
    database = env.db_path.read_bytes()
    for secret in SECRETS:
        leaks = [index for index, output in enumerate(outputs) if secret in output]
        assert not leaks, f"{secret!r} printed by output(s) {leaks}"
        assert secret.encode() not in database
