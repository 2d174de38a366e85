"""No secret is ever printed: the API key and the tokens Kavita issued are searched for in every output
of real CLI runs (subprocesses, ``-vv`` debug logging: urllib3 logs request lines with their query
string, and the API key travels in one), the session logs and the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from kavita_env import Env, series_albums

API_KEY = "kavita-S3CR3T-key-5d1e"


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BDNEX_KAVITA_")}
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_no_output_of_the_cli_contains_a_secret(env: Env) -> None:
    from kavita_standin.model import User

    env.kavita.users.append(User(3, "secret-admin", API_KEY, ("Admin",)))
    env.add_albums(series_albums(env.site, 1))
    env.kavita.scan_library(env.library_id)

    def write_config(name: str, **kavita: Any) -> Path:
        mapping = env.mapping()
        mapping["kavita"] = {**env.kavita_section, "api_key": API_KEY, **kavita}
        path = env.tmp_path / name
        path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
        return path

    config = write_config("key.yaml")
    broken = write_config("broken.yaml", api_key=f"{API_KEY}\nX-Injected: 1")
    runs = [
        _run(config, "config", "show"),
        _run(config, "config", "show", "--json"),
        _run(config, "-vv", "kavita", "check"),
        _run(config, "-vv", "kavita", "check", "--json"),
        _run(config, "-vv", "kavita", "sync", "--dry-run", "--batch"),
        _run(config, "-vv", "kavita", "sync", "--batch"),
        _run(config, "-vv", "kavita", "watch", "--exit-after", "1.5"),
        _run(broken, "-vv", "kavita", "check"),
        _run(broken, "--debug", "config", "show"),
    ]
    assert [run.returncode for run in runs[:7]] == [0] * 7, [run.stderr[-800:] for run in runs[:7]]
    assert runs[7].returncode == 2 and "kavita.api_key" in runs[7].stderr
    assert "apiKey=***" in runs[2].stderr, "the debug log shows the request, its key masked"
    outputs = [run.stdout + run.stderr for run in runs]
    outputs += [
        path.read_text("utf-8", errors="replace") for path in (env.tmp_path / "logs").rglob("*") if path.is_file()
    ]
    database = env.db_path.read_bytes()
    secrets = [API_KEY, *env.kavita.tokens_issued]
    assert len(secrets) > 3
    for secret in secrets:
        leaks = [index for index, output in enumerate(outputs) if secret in output]
        assert not leaks, f"{secret[:12]}… printed by output(s) {leaks}"
        assert secret.encode() not in database
