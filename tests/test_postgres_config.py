"""Configuring PostgreSQL: the URL and its password (never shown), connection failures as one line
(exit 3), for `db copy` and for the commands that read and write the database."""

from __future__ import annotations

import socket

import psycopg
import pytest

from bdnex_testing.postgres import with_database
from tests.test_cli_errors import assert_one_line_error, run_cli

SECRET = "pw-SECRET-9"


def _config(tmp_path, url):
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  backend: postgresql\n  url: '{url}'\n")
    return path


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sqlite_database(tmp_path):
    path = tmp_path / "library.db"
    assert run_cli("--db", str(path), "stats").returncode == 0
    return path


COMMANDS = [["stats"], ["sessions", "list"], ["review", "--json"], ["db", "info"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_run_on_postgresql(tmp_path, postgres_url, command):
    result = run_cli("--config", str(_config(tmp_path, postgres_url)), *command)
    assert result.returncode == 0, result.stderr
    info = psycopg.conninfo.conninfo_to_dict(postgres_url)
    assert info["password"] not in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_on_a_server_that_does_not_answer_are_one_line_and_exit_3(tmp_path, command):
    pytest.importorskip("psycopg")
    config = _config(tmp_path, f"postgresql://bdnex:{SECRET}@127.0.0.1:{_free_port()}/bdnex")
    result = run_cli("--config", str(config), *command)
    assert_one_line_error(result, "cannot connect to PostgreSQL", "bdnex:********@127.0.0.1", code=3)
    assert SECRET not in result.stderr


def test_config_show_masks_the_database_url_password_from_the_file_or_the_environment(tmp_path):
    config = _config(tmp_path, f"postgresql://bdnex:{SECRET}@db.example:5432/bdnex")
    for env in ({}, {"BDNEX_DATABASE_URL": f"postgresql://other:{SECRET}-env@db2.example/bdnex"}):
        shown = run_cli("--config", str(config), "config", "show", env=env)
        assert shown.returncode == 0, shown.stderr
        assert SECRET not in shown.stdout + shown.stderr
        expected = "other:********@db2.example/bdnex" if env else "bdnex:********@db.example:5432/bdnex"
        assert f"url: postgresql://{expected}" in shown.stdout
    assert run_cli("--config", str(config), "config", "validate").returncode == 0


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("database: {backend: postgresql}\n", ["database.url", "BDNEX_DATABASE_URL"]),
        ("database: {backend: postgresql, url: 'mysql://x@y/z'}\n", ["database.url", "a PostgreSQL URL"]),
    ],
)
def test_a_missing_or_wrong_url_is_a_configuration_error(tmp_path, content, fragments):
    config = tmp_path / "config.yaml"
    config.write_text(content)
    assert_one_line_error(run_cli("--config", str(config), "config", "validate"), str(config), *fragments, code=2)


def test_a_server_that_does_not_answer_is_one_line_and_exit_3(tmp_path):
    pytest.importorskip("psycopg")
    url = f"postgresql://bdnex:{SECRET}@127.0.0.1:{_free_port()}/bdnex"
    result = run_cli("db", "copy", "--from", str(_sqlite_database(tmp_path)), "--to", url)
    assert_one_line_error(result, "cannot connect to PostgreSQL", "bdnex:********@127.0.0.1", code=3)
    assert SECRET not in result.stderr


def test_wrong_credentials_and_a_missing_database_are_one_line_and_exit_3(tmp_path, postgres_url):
    source = str(_sqlite_database(tmp_path))
    info = psycopg.conninfo.conninfo_to_dict(postgres_url)
    wrong_password = postgres_url.replace(f":{info['password']}@", f":{SECRET}@")
    result = run_cli("db", "copy", "--from", source, "--to", wrong_password)
    assert_one_line_error(result, "cannot connect to PostgreSQL", "password authentication failed", code=3)
    assert SECRET not in result.stderr

    missing = run_cli("db", "copy", "--from", source, "--to", with_database(postgres_url, "no_such_database"))
    assert_one_line_error(missing, "cannot connect to PostgreSQL", "no_such_database", "does not exist", code=3)
    assert info["password"] not in missing.stderr


def test_the_password_from_pgpassword_and_the_configured_database_as_the_source(tmp_path, postgres_url):
    info = psycopg.conninfo.conninfo_to_dict(postgres_url)
    without_password = postgres_url.replace(f":{info['password']}@", "@")
    assert run_cli("db", "copy", "--from", str(_sqlite_database(tmp_path)), "--to", postgres_url).returncode == 0
    config = _config(tmp_path, without_password)
    back = tmp_path / "back.db"
    result = run_cli("--config", str(config), "db", "copy", "--to", str(back), env={"PGPASSWORD": info["password"]})
    assert result.returncode == 0, result.stderr
    assert f"from {without_password} to {back}" in result.stdout and back.is_file()
