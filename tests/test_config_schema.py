"""The configuration is validated in one pass against the core's and the plugins' schemas.

Typos and wrong types anywhere (core or plugin sections) are one line naming the key and
exit 2; secrets are masked by ``config show`` and never quoted in errors; YAML that
expands hugely through aliases is refused.
"""

from __future__ import annotations

import json

import pytest

from tests.test_cli_errors import assert_one_line_error, run_cli


def _config(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("pipline: {workers: 3}\n", ["pipline: unknown section (did you mean 'pipeline'?)"]),
        ("komga: {idle_timout_seconds: 3}\n", ["komga.idle_timout_seconds: unknown key", "'idle_timeout_seconds'"]),
        ("komga: {page_size: lots}\n", ["komga.page_size", "'lots' is not of type 'integer'"]),
        ("komga: {url: 'localhost:25600'}\n", ["komga.url: expected an http(s) URL"]),
        ("komga: {write: [api, xml]}\n", ["komga.write.1", "'xml'"]),
        ("komga: {series_thumbnails: maybe}\n", ["komga.series_thumbnails"]),
        ("calibre: {tags: sometimes}\n", ["calibre.tags", "'sometimes'"]),
        ("calibre: {tagz: merge}\n", ["calibre.tagz: unknown key (did you mean 'tags'?)"]),
        ("matching: {review_threshold: 0.9, accept_threshold: 0.8}\n", ["review_threshold", "above"]),
        ("database: {backend: null}\n", ["database.backend"]),
    ],
)
def test_typos_and_wrong_types_are_config_errors_naming_the_key(tmp_path, content, fragments):
    config = _config(tmp_path, content)
    result = run_cli("--config", str(config), "config", "validate")
    assert_one_line_error(result, str(config), *fragments, code=2)


def test_all_problems_are_reported_in_one_pass(tmp_path):
    config = _config(tmp_path, "pipline: {}\nkomga: {page_size: lots}\ncatalogue: {max_retries: -1}\n")
    result = run_cli("--config", str(config), "config", "validate")
    assert_one_line_error(result, "pipline", "komga.page_size", "catalogue.max_retries", code=2)


@pytest.mark.parametrize(
    ("komga", "env", "where"),
    [
        ('api_key: "ab-SECRET-1\\nX-Injected: 1"', {}, "komga.api_key"),
        ('webhook_token: "tok SECRET-1"', {}, "komga.webhook_token"),
        ('email: a@b.c\n  password: "пароль-SECRET-1"', {}, "komga.password"),
        ("api_key: fine", {"BDNEX_KOMGA_API_KEY": "env-SECRET-1\r\nX: y"}, "BDNEX_KOMGA_API_KEY"),
        ("url: 'http://localhost:99999'", {}, "komga.url"),
        ("url: 'http://[::1'", {}, "komga.url"),
    ],
)
def test_bad_secrets_and_urls_are_config_errors_that_do_not_quote_the_secret(tmp_path, komga, env, where):
    config = _config(tmp_path, f"komga:\n  {komga}\n")
    result = run_cli(
        "--config",
        str(config),
        "--db",
        str(tmp_path / "x.db"),
        "komga",
        "check",
        env={**env, "BDNEX_LOAD_PLUGINS": "komga"},
    )
    assert_one_line_error(result, where, code=2)
    assert "SECRET" not in result.stderr + result.stdout


def test_plugin_sections_get_their_schema_defaults(tmp_path):
    result = run_cli("--config", str(_config(tmp_path, "komga: {url: 'http://k:25600'}\n")), "config", "show", "--json")
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["komga"]["series_thumbnails"] is True and settings["komga"]["page_size"] == 500
    assert settings["calibre"]["tags"] == "merge"
    assert settings["database"]["backend"] == "sqlite"


def test_defaults_live_in_the_schema_only():
    from bdnex_calibre.settings import SCHEMA as CALIBRE_SCHEMA
    from bdnex_calibre.settings import CalibreSettings
    from bdnex_core.config import Settings, config_schema, from_mapping
    from bdnex_komga.settings import SCHEMA as KOMGA_SCHEMA
    from bdnex_komga.settings import KomgaSettings

    assert config_schema()["properties"]["database"]["required"] == ["backend"]
    built, plain = from_mapping({}), Settings()
    for name in ("catalogue", "matching", "archives", "comicinfo", "database", "cache", "pipeline"):
        assert getattr(built, name) == getattr(plain, name)
        for key, prop in config_schema()["properties"][name]["properties"].items():
            if prop.get("default") is not None:
                value = getattr(plain, name).__dict__[key]
                assert (list(value) if isinstance(value, tuple) else value) == prop["default"], (name, key)
    for dataclass_, schema in ((KomgaSettings, KOMGA_SCHEMA), (CalibreSettings, CALIBRE_SCHEMA)):
        instance = dataclass_()
        for key, prop in schema["properties"].items():
            if hasattr(instance, key) and prop.get("default") not in (None, []):
                value = getattr(instance, key)
                assert (list(value) if isinstance(value, tuple) else value) == prop["default"], key


def test_config_show_masks_secrets_and_url_passwords(tmp_path):
    config = _config(
        tmp_path,
        "komga:\n  url: http://localhost:25600\n  api_key: key-SECRET-1\n  password: pw-SECRET-2\n"
        "  webhook_token: tok-SECRET-3\ncalibre: {password: cal-SECRET-4}\n"
        "elsewhere: {url: 'postgresql://bdnex:db-SECRET-5@localhost/bdnex', client_secret: cs-SECRET-6}\n",
    )
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = run_cli("--config", str(config), *args)
        assert result.returncode == 0, result.stderr
        assert "SECRET" not in result.stdout + result.stderr
        assert "********" in result.stdout and "postgresql://bdnex:********@localhost/bdnex" in result.stdout


def test_errors_never_quote_a_password_in_a_url(tmp_path):
    config = _config(tmp_path, "catalogue: {base_url: ['postgresql://bdnex:db-SECRET-7@localhost/bdnex']}\n")
    result = run_cli("--config", str(config), "config", "validate")
    assert_one_line_error(result, "catalogue.base_url", "bdnex:********@localhost", code=2)
    assert "SECRET" not in result.stderr


def test_yaml_alias_bomb_is_refused(tmp_path):
    lines = ["  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"  {name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    config = _config(tmp_path, "elsewhere:\n" + "\n".join(lines) + "\n")
    assert config.stat().st_size < 2000
    result = run_cli("--config", str(config), "config", "show", "--json")
    assert_one_line_error(result, "aliases", "refused", code=2)
    assert len(result.stdout) < 1000


def test_recursive_alias_is_refused(tmp_path):
    config = _config(tmp_path, "elsewhere: &x\n  self: *x\n")
    result = run_cli("--config", str(config), "config", "show", "--json")
    assert_one_line_error(result, "refused", code=2)
