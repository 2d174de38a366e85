"""Every command starts in a blink: `--help`, `config`, `sessions`, `ls` and `show` import only what they
use (no jsonschema for a valid configuration, no sqlite-utils nor the pandas it would bring for a database
already made, no HTTP stack, no plugin's writers); commands are loaded by name when they run."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest

from bdnex_core.cli import build_cli
from bdnex_core.cli.lazy import CORE_COMMANDS, load_command, short_help
from bdnex_core.config import config_schema, full_schema, surely_valid, with_defaults

# never imported by an ordinary command (each is a tenth of a second or more, or drags one in)
HEAVY = (
    "jsonschema",
    "importlib.metadata",  # and the email package under it: a quarter of --help, for the plugins' entry points
    "sqlite_utils",
    "pandas",
    "numpy",
    "requests",
    "urllib3",
    "psycopg",
    "jinja2",
    "rapidfuzz",
    "bdnex_core.pipeline.runner",
    "bdnex_core.bedetheque.client",
    "bdnex_komga.client",
    "bdnex_komga.writeback",
    "bdnex_komga.source",
    "bdnex_calibre.writeback",
    "bdnex_calibre.calibredb",
    "bdnex_kavita.client",
    "bdnex_kavita.writeback",
    "bdnex_kavita.source",
)
# what --help needs is click and the plugin host; none of the above, nor these
NOT_FOR_HELP = (*HEAVY, "yaml", "sqlite3", "rich", "lxml", "bdnex_core.config", "bdnex_core.db")

DRIVER = """
import json, sys
from bdnex_core.cli import main
try:
    main(sys.argv[1:])
finally:
    print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.fixture
def pandas_trap(tmp_path):
    """A ``pandas`` (and ``numpy``) on the path that leaves a mark when imported, as a pandas installed in the
    same environment would be imported by sqlite-utils."""
    trap = tmp_path / "trap"
    trap.mkdir()
    mark = tmp_path / "pandas-imported"
    for name in ("pandas", "numpy"):
        # marked, then absent: sqlite-utils goes on without it as it would with the real one missing
        (trap / f"{name}.py").write_text(f"open({str(mark)!r}, 'a').write({name!r})\nraise ImportError('a trap')\n")
    return trap, mark


def _modules(args: list[str], *, env: dict[str, str], cwd: Path) -> tuple[set[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES "))
    return set(json.loads(line[len("MODULES ") :])), result.stdout + result.stderr


def test_ordinary_commands_import_only_what_they_use(tmp_path, pandas_trap):
    trap, mark = pandas_trap
    config = tmp_path / "config.yaml"
    database = tmp_path / "bdnex.db"
    config.write_text(f"database: {{path: {database}}}\npipeline: {{workers: 2}}\nkomga: {{page_size: 50}}\n")
    env = {**os.environ, "BDNEX_CONFIG": str(config), "PYTHONPATH": os.pathsep.join([str(trap), *sys.path])}
    # the database made once (a new database is migrated through sqlite-utils: that may cost)
    subprocess.run([sys.executable, "-m", "bdnex_core", "sessions", "list"], env=env, check=True, capture_output=True)
    assert mark.exists(), "the trap works: the migration imported sqlite-utils, which imported 'pandas'"
    mark.unlink()
    comic = tmp_path / "Nains - T01.cbz"
    comic.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    loaded, _ = _modules(["--help"], env=env, cwd=tmp_path)
    assert not loaded & set(NOT_FOR_HELP), sorted(loaded & set(NOT_FOR_HELP))
    assert not any(
        name.startswith(("bdnex_core.cli.", "bdnex_komga.commands", "bdnex_calibre.commands", "bdnex_kavita.commands"))
        for name in loaded - {"bdnex_core.cli.context", "bdnex_core.cli.lazy", "bdnex_core.cli.plugin_commands"}
    ), sorted(name for name in loaded if name.startswith("bdnex_core.cli."))
    for args in (["config", "show"], ["sessions", "list"], ["ls"], ["ls", "nains"], ["show", str(comic)], ["stats"]):
        loaded, output = _modules(args, env=env, cwd=tmp_path)
        assert not loaded & set(HEAVY), (args, sorted(loaded & set(HEAVY)), output[-500:])
    assert not mark.exists(), "a pandas installed beside sqlite-utils was imported by an ordinary command"


# what matching a name needs is the index, the matcher and the database; the rest is for a tag or --explain
NOT_FOR_IDENTIFY = (
    *(name for name in HEAVY if name != "rapidfuzz"),
    "lxml",
    "PIL",
    "rarfile",
    "bdnex_core.archives",
    "bdnex_core.covers.check",
    "bdnex_core.app.review",
)


def test_identify_imports_neither_the_http_stack_nor_the_imaging(tmp_path):
    """A calibre lookup and ComicTagger's talker run one ``identify``-like process per file: it opens the index,
    it builds nothing and fetches nothing (covers, with their client, only for ``--explain``)."""
    from bdnex_core.demo.catalogue_generator import generate_catalogue

    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{path: {tmp_path / 'bdnex.db'}}}\n")
    env = {**os.environ, "BDNEX_CONFIG": str(config)}
    sitemaps = generate_catalogue(500, seed=5).write_sitemaps(tmp_path / "sitemaps")
    subprocess.run(
        [sys.executable, "-m", "bdnex_core", "catalogue", "update", "--from-files", *map(str, sitemaps)],
        env=env,
        check=True,
        capture_output=True,
    )
    loaded, output = _modules(["identify", "Nains - T01 - Redwin de la Forge.cbz"], env=env, cwd=tmp_path)
    assert "Nains - T01 - Redwin de la Forge.cbz: " in output, output[-500:]
    assert "rapidfuzz" in loaded, "the name was matched (the scorer was loaded)"
    assert not loaded & set(NOT_FOR_IDENTIFY), sorted(loaded & set(NOT_FOR_IDENTIFY))


def test_plugin_commands_are_listed_without_importing_them():
    cli = build_cli()
    assert {"komga", "calibre"} <= set(cli.lazy_commands)
    help_text = cli.get_help(click.Context(cli))
    assert "Komga servers: tag their books" in help_text and "calibre libraries: tag them" in help_text


@pytest.mark.parametrize("name", sorted(CORE_COMMANDS))
def test_the_help_listed_for_a_lazy_command_is_its_own(name):
    target, listed = CORE_COMMANDS[name]
    command = load_command(target)
    assert command.name == name
    for width in (30, 45, 60, 200):
        assert short_help(listed, width) == command.get_short_help_str(width), (name, width)


def test_plugin_lazy_commands_list_their_own_help():
    cli = build_cli()
    for name in ("komga", "calibre", "kavita"):
        lazy = cli.lazy_commands[name]
        assert short_help(lazy.help, 45) == load_command(lazy.target).get_short_help_str(45)


# ----------------------------------------------------------------------------- the configuration's fast check


def _random_value(rng: random.Random):
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            1,
            -1,
            2.5,
            1e300,
            math.inf,
            math.nan,
            "",
            "x",
            "sqlite",
            "2.1",
            [],
            ["a"],
            [1],
            {},
            {"a": 1},
        ]
    )


def test_the_fast_check_never_calls_valid_what_jsonschema_refuses():
    """The common case (a valid file) is decided without importing jsonschema; any doubt goes to it."""
    schema = full_schema()
    defaults = with_defaults({}, schema)
    assert surely_valid(defaults, schema)
    rng = random.Random(29)
    validator = jsonschema.Draft202012Validator(schema)
    agreed_valid = 0
    for _ in range(3000):
        data = json.loads(json.dumps(defaults))
        for _change in range(rng.randint(1, 3)):
            section = rng.choice(list(schema["properties"]))
            keys = [*schema["properties"][section].get("properties", {}), "unknown_key"]
            data.setdefault(section, {})[rng.choice(keys)] = _random_value(rng)
        if surely_valid(data, schema):
            assert validator.is_valid(data), data
            agreed_valid += 1
    assert agreed_valid > 100  # the fast check does decide the valid ones


def test_the_core_schema_uses_only_keywords_the_fast_check_knows():
    """A keyword it does not know sends every file to jsonschema: correct, but slow. Add it to surely_valid."""
    assert surely_valid(with_defaults({}, config_schema()), config_schema())
