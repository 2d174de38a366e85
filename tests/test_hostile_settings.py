"""Hostile settings through the real CLI (issue 29, cases 6 to 8 and the database path of case 9):
numbers no setting can mean, a section given twice, configuration paths that never end, database
paths with a line break, rename templates that would reach into Python objects or build gigabytes.

Each is one line naming the key (or the file, or the field) and the reason, the right exit code,
under a time limit (a hang is a failure), nothing started and nothing moved.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_hostile_inputs import env, good_file, site, tagged_album  # noqa: F401 - env and site: fixtures

TIME_LIMIT = 30


def run_cli(*args: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "bdnex_core", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(environment or {})},
            timeout=TIME_LIMIT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"bdnex-core {' '.join(args)} did not end within {TIME_LIMIT} s: {exc.stderr!r}")


def one_line(result: subprocess.CompletedProcess[str], *fragments: str, code: int) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "lib").mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(f"database: {{path: {tmp_path / 'bdnex.db'}}}\n{text}", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- case 6: numbers


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("catalogue: {timeout_seconds: 1.0e+308}\n", "catalogue.timeout_seconds", "maximum"),
        ("catalogue: {timeout_seconds: .inf}\n", "catalogue.timeout_seconds", "not a finite number"),
        ("catalogue: {min_delay_seconds: .nan}\n", "catalogue.min_delay_seconds", "not a finite number"),
        ("catalogue: {max_retries: 1.0e+20}\n", "catalogue.max_retries", "maximum"),
        (
            "catalogue: {max_requests_per_hour: 100000000000000000000000}\n",
            "catalogue.max_requests_per_hour",
            "maximum",
        ),
        ("cache: {album_ttl_days: 1.0e+300}\n", "cache.album_ttl_days", "maximum"),
        ("matching: {max_candidates: 1.0e+20}\n", "matching.max_candidates", "maximum"),
        ("komga: {idle_timeout_seconds: .inf}\n", "komga.idle_timeout_seconds", "not a finite number"),
        ("komga: {max_attempts: 1.0e+20}\n", "komga.max_attempts", "maximum"),
        ("someplugin: {anything: -.inf}\n", "someplugin.anything", "not a finite number"),
    ],
)
def test_a_number_no_setting_can_mean_is_one_line_naming_its_key(tmp_path, text, key, reason):
    config = write_config(tmp_path, text)
    for command in (["config", "validate"], ["tag", str(tmp_path / "lib"), "--batch"]):
        result = run_cli("--config", str(config), *command)
        one_line(result, str(config), key, reason, code=2)
    assert not (tmp_path / "bdnex.db").exists()  # refused before anything started


def test_a_huge_busy_timeout_is_refused_before_the_database_is_opened(tmp_path):
    config = write_config(tmp_path, "")
    config.write_text(f"database: {{path: {tmp_path / 'bdnex.db'}, busy_timeout_ms: 1.0e+20}}\n")
    result = run_cli("--config", str(config), "stats", "--snapshot")
    one_line(result, "database.busy_timeout_ms", "maximum of 3600000", code=2)
    assert not (tmp_path / "bdnex.db").exists()


def test_an_integral_float_is_given_to_the_code_as_an_integer(tmp_path):
    config = write_config(tmp_path, "catalogue: {max_retries: 2.0}\npipeline: {workers: 1.0}\n")
    assert run_cli("--config", str(config), "config", "validate").returncode == 0
    from bdnex_core.config import load_settings

    settings = load_settings(config)
    assert type(settings.catalogue.max_retries) is int and type(settings.pipeline.workers) is int


def test_every_number_of_the_schema_is_bounded():
    """A new setting cannot slip in without a maximum (the core's sections and the plugins')."""
    from bdnex_core.config import full_schema

    unbounded = []

    def walk(schema: object, where: str) -> None:
        if not isinstance(schema, dict):
            return
        types = schema.get("type")
        types = types if isinstance(types, list) else [types]
        if ("number" in types or "integer" in types) and "maximum" not in schema and "exclusiveMaximum" not in schema:
            unbounded.append(where)
        for name, child in schema.get("properties", {}).items():
            walk(child, f"{where}.{name}" if where else name)
        for keyword in ("anyOf", "oneOf"):
            for child in schema.get(keyword, []):
                walk(child, where)
        walk(schema.get("items"), f"{where}[]")

    walk(full_schema(), "")
    assert unbounded == []


def test_a_section_given_twice_is_an_error_naming_it(tmp_path):
    config = write_config(tmp_path, "pipeline:\n  workers: 2\ncatalogue: {}\npipeline:\n  workers: 8\n")
    result = run_cli("--config", str(config), "config", "validate")
    line = one_line(result, str(config), "'pipeline' is given twice", code=2)
    assert "line 5" in line and "first on line 2" in line
    nested = write_config(tmp_path, "pipeline:\n  workers: 2\n  workers: 3\n")
    one_line(run_cli("--config", str(nested), "config", "validate"), "'workers' is given twice", code=2)
    merged = write_config(tmp_path, "base: &b {workers: 2}\npipeline:\n  <<: *b\n  workers: 3\n")
    assert run_cli("--config", str(merged), "config", "validate").returncode == 0  # a merge may be overridden


# --------------------------------------------------------------------------- case 7: paths that never end


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder", "too large"])
def test_a_configuration_path_that_never_ends_is_refused_at_once(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "config.yaml"
        os.mkfifo(path)
        reason = "a FIFO, not a regular file"
    elif kind == "dev-zero":
        path = tmp_path / "config.yaml"
        path.symlink_to("/dev/zero")
        reason = "a character device, not a regular file"
    elif kind == "folder":
        path = tmp_path / "config.yaml"
        path.mkdir()
        reason = "a folder, not a regular file"
    else:
        path = tmp_path / "config.yaml"
        path.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
        reason = "larger than 1024 KB"
    one_line(run_cli("config", "validate", environment={"BDNEX_CONFIG": str(path)}), str(path), reason, code=2)
    one_line(run_cli("--config", str(path), "config", "validate"), str(path), reason, code=2)


# --------------------------------------------------------------------------- case 9: a database path on two lines


def test_a_database_path_with_a_line_break_is_refused(tmp_path):
    broken = f"{tmp_path}/bd\nnex.db"
    result = run_cli("stats", environment={"BDNEX_DB": broken})
    one_line(result, "BDNEX_DB", "line break", code=2)
    one_line(run_cli("--db", broken, "stats"), "--db", "line break", code=2)
    config = tmp_path / "config.yaml"
    config.write_text('database: {path: "' + str(tmp_path) + '/bd\\nnex.db"}\n')
    one_line(run_cli("--config", str(config), "stats"), "database.path", "on one line", code=2)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.yaml"]  # no such file created


# --------------------------------------------------------------------------- case 8: rename templates


HOSTILE_TEMPLATES = [
    ("{series:>999999999}", "a width above 255"),
    ("{tome:99999999999d}", "a width above 255"),
    ("{title:.999999999}", "a precision above 255"),
    ("{title.__class__.__mro__}", "attribute and index access is not allowed"),
    ("{series[0]}", "attribute and index access is not allowed"),
    ("{series.__init__.__globals__}", "attribute and index access is not allowed"),
    ("{series:{tome}}", "not a format this template understands"),
    ("{}", "name each field"),
    ("{0}", "unknown field {0}"),
    ("{series", "expected '}'"),
]


@pytest.mark.parametrize(("template", "reason"), HOSTILE_TEMPLATES)
def test_a_rename_template_that_would_do_more_than_name_a_file_is_refused(env, site, template, reason):  # noqa: F811
    path = good_file(env.library / "Fichier - T01.cbz", site)
    assert env.tag().returncode == 0 and tagged_album(path)
    for dry in (["--dry-run"], []):
        result = run_cli("--config", str(env.config), "rename", str(env.library), "--template", template, *dry)
        one_line(result, "rename template", reason, code=1)
    assert path.exists() and sorted(env.library.iterdir()) == [path]  # nothing moved


def test_a_template_within_the_bounds_still_pads_and_cuts(env, site):  # noqa: F811
    path = good_file(env.library / "Fichier - T01.cbz", site)
    assert env.tag().returncode == 0
    result = run_cli("--config", str(env.config), "rename", str(env.library), "--template", "{title:.3}-{tome:0>4}")
    assert result.returncode == 0, result.stderr
    moved = [file for file in env.library.rglob("*.cbz")]
    assert len(moved) == 1 and moved[0] != path and moved[0].name.endswith("-0001.cbz"), moved
