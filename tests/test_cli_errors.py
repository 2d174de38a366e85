"""Bad databases and configurations give one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


def run_cli(*args, env=None):
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", *args], capture_output=True, text=True, env=environment, timeout=120
    )


def assert_one_line_error(result, *fragments, code=None):
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_corrupt_database_file(tmp_path):
    corrupt = tmp_path / "bdnex.db"
    corrupt.write_bytes(b"this is not an SQLite database" * 100)
    result = run_cli("--db", str(corrupt), "stats")
    assert_one_line_error(result, str(corrupt), "database", code=3)
    assert corrupt.read_bytes().startswith(b"this is not")  # left as it was


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="root ignores permissions")
def test_unwritable_database_directory():
    base = Path(tempfile.mkdtemp(prefix="bdnex-perm-"))  # outside pytest's 0700 folders, so "nobody" can reach it
    base.chmod(0o755)
    locked = base / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        command = [sys.executable, "-m", "bdnex_core", "--db", str(locked / "sub" / "bdnex.db"), "stats"]
        if os.geteuid() == 0:  # drop to nobody so permissions apply
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": str(base), "XDG_CONFIG_HOME": str(base / "cfg"), "PYTHONDONTWRITEBYTECODE": "1"},
        )
        assert_one_line_error(result, str(locked), code=3)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)
        shutil.rmtree(base)


def test_database_path_under_a_file(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = run_cli("--db", str(blocker / "bdnex.db"), "stats")
    assert_one_line_error(result, str(blocker), "cannot create the database directory", code=3)


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("catalogue:\n  min_delay_seconds: -1\n", ["catalogue.min_delay_seconds", "minimum"]),
        ("database:\n  backend: mysql\n", ["database.backend", "mysql"]),
        ("database:\n  backend: postgresql\n", ["database.url", "required when database.backend is postgresql"]),
        ("matching: {accept_threshold: 2}\n", ["matching.accept_threshold"]),
        ("archives: {cbr: burn}\n", ["archives.cbr"]),
        ("database: {pth: /tmp/x.db}\n", ["database", "unknown key", "pth"]),
        ("catalogue: [1, 2\n", ["not valid YAML"]),
        ("- just\n- a list\n", ["mapping"]),
    ],
)
def test_invalid_config_names_the_key_and_the_problem(tmp_path, content, fragments):
    config = tmp_path / "config.yaml"
    config.write_text(content)
    result = run_cli("--config", str(config), "config", "validate")
    assert_one_line_error(result, str(config), *fragments, code=2)
    via_env = run_cli("stats", env={"BDNEX_CONFIG": str(config), "BDNEX_DB": str(tmp_path / "x.db")})
    assert_one_line_error(via_env, str(config), code=2)


def test_missing_named_config_is_an_error_but_missing_default_is_not(tmp_path):
    result = run_cli("--config", str(tmp_path / "nope.yaml"), "config", "show")
    assert_one_line_error(result, "nope.yaml", "not found", code=2)
    default = run_cli("config", "validate", env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert default.returncode == 0 and "defaults apply" in default.stdout


def test_valid_config_and_db_override(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  path: {tmp_path / 'from-config.db'}\ncache:\n  album_ttl_days: 3\n")
    shown = run_cli("--config", str(config), "config", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert '"album_ttl_days": 3' in shown.stdout and "from-config.db" in shown.stdout
    overridden = run_cli("--config", str(config), "--db", str(tmp_path / "cli.db"), "db", "info", "--json")
    assert overridden.returncode == 0 and "cli.db" in overridden.stdout
    assert (tmp_path / "cli.db").exists() and not (tmp_path / "from-config.db").exists()
    from_env = run_cli("--config", str(config), "db", "info", "--json", env={"BDNEX_DB": str(tmp_path / "env.db")})
    assert "env.db" in from_env.stdout


def test_debug_shows_the_traceback(tmp_path):
    corrupt = tmp_path / "bdnex.db"
    corrupt.write_bytes(b"garbage" * 200)
    result = run_cli("--debug", "--db", str(corrupt), "stats")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_sessions_info_unknown_session(tmp_path):
    result = run_cli("--db", str(tmp_path / "x.db"), "sessions", "info", "42")
    assert_one_line_error(result, "no session 42", code=1)
