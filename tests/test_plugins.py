"""The plugin host: defaults listed, registered plugins called, broken plugins isolated, hooks documented."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from bdnex_core import hookimpl, hookspecs
from bdnex_core.cli import main
from bdnex_core.config import Settings
from bdnex_core.library import LibraryItem, WriteResult
from bdnex_core.plugins import get_plugin_manager, library_sources, metadata_writers, notify, reset_plugin_host
from tests.conftest import REPO_ROOT

HOOK_NAMES = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "bdnex_core_spec"))


class RecordingPlugin:
    """A throw-away plugin implementing every hook."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def register_commands(self, cli):
        @cli.command("test-hello")
        def hello():
            print("hello from the test plugin")

    @hookimpl
    def register_config_schema(self, register):
        register(
            "testplugin",
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {"colour": {"type": "string", "enum": ["red", "blue"], "default": "red"}},
            },
        )

    @hookimpl
    def register_library_sources(self, register, settings):
        class Source:
            name = "test-source"

            def iter_items(self, settings, locations):
                yield LibraryItem(source="test-source", name="book", external_id="42")

        register(Source())

    @hookimpl
    def register_metadata_writers(self, register, settings):
        class Writer:
            name = "test-writer"

            def can_write(self, item, settings):
                return True

            def write(self, item, metadata, settings, *, dry_run=False):
                return WriteResult("test-writer", written=not dry_run)

        register(Writer())

    @hookimpl
    def file_tagged(self, item, album, decision, session_id):
        self.calls.append(("file_tagged", item.name, album["series"], decision, session_id))

    @hookimpl
    def session_finished(self, session_id, status, stats):
        self.calls.append(("session_finished", session_id, status, stats["total_files"]))


@pytest.fixture
def test_plugin():
    reset_plugin_host()
    plugin = RecordingPlugin()
    get_plugin_manager().register(plugin, name="test-plugin")
    yield plugin
    get_plugin_manager().unregister(name="test-plugin")
    reset_plugin_host()


def test_default_plugins_are_listed(capsys):
    reset_plugin_host()
    assert main(["plugins", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["bdnex_core.default_plugins.folder_source"]["hooks"] == ["register_library_sources"]
    assert listed["bdnex_core.default_plugins.cbz_writer"]["hooks"] == ["register_metadata_writers"]
    assert all(entry["default"] for entry in listed.values() if entry["name"].startswith("bdnex_core."))


def test_registered_plugin_is_listed_and_every_hook_is_called(test_plugin, capsys):
    assert main(["plugins", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["test-plugin"]["hooks"] == HOOK_NAMES
    from bdnex_core.config import from_mapping
    from bdnex_core.errors import ConfigError

    assert from_mapping({}).section("testplugin") == {"colour": "red"}  # the plugin's default, filled in
    assert from_mapping({"testplugin": {"colour": "blue"}}).section("testplugin") == {"colour": "blue"}
    with pytest.raises(ConfigError, match=r"testplugin\.color: unknown key \(did you mean 'colour'\?\)"):
        from_mapping({"testplugin": {"color": "blue"}})
    settings = Settings()
    sources = library_sources(settings)
    assert set(sources) >= {"folder", "test-source"}
    assert [item.external_id for item in sources["test-source"].iter_items(settings, [])] == ["42"]
    writers = [writer.name for writer in metadata_writers(settings)]
    assert writers.index("test-writer") < writers.index("comicinfo")  # defaults run last
    item = LibraryItem(source="folder", name="Nains - T01.cbz")
    notify("file_tagged", item=item, album={"series": "Nains"}, decision="accept", session_id=7)
    notify("session_finished", session_id=7, status="completed", stats={"total_files": 3})
    assert test_plugin.calls == [
        ("file_tagged", "Nains - T01.cbz", "Nains", "accept", 7),
        ("session_finished", 7, "completed", 3),
    ]
    import click
    from click.testing import CliRunner

    group = click.Group("bdnex-core")
    get_plugin_manager().hook.register_commands(cli=group)
    result = CliRunner().invoke(group, ["test-hello"])
    assert "hello from the test plugin" in result.output


def test_a_notification_that_raises_does_not_stop_the_caller(caplog):
    reset_plugin_host()

    class Broken:
        @hookimpl
        def file_tagged(self, item, album, decision, session_id):
            raise RuntimeError("boom")

    get_plugin_manager().register(Broken(), name="broken")
    try:
        notify("file_tagged", item=LibraryItem(source="folder", name="x"), album={}, decision="accept", session_id=None)
        assert "broken failed in file_tagged: RuntimeError: boom" in caplog.text
    finally:
        reset_plugin_host()


def _install_fake_distribution(folder, name, module_source):
    (folder / f"{name}.py").write_text(textwrap.dedent(module_source))
    dist = folder / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[bdnex_core]\n{name} = {name}\n")


def test_entry_points_are_read_as_importlib_metadata_reads_them(tmp_path, monkeypatch):
    """The plugins' entry points are read from the distributions' entry_points.txt (importing
    importlib.metadata costs every command a quarter of its start): the same ones, the first of a
    distribution on sys.path winning, other groups and comments ignored."""
    import importlib.metadata

    from bdnex_core.plugins import installed_entry_points

    def ours(group):
        return sorted((found.name, found.value) for found in installed_entry_points(group))

    for group in ("bdnex_core", "console_scripts"):
        theirs = sorted((found.name, found.value) for found in importlib.metadata.entry_points(group=group))
        assert ours(group) == theirs, group
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, value in ((first, "first_module:Plugin"), (second, "second_module")):
        dist = folder / "bdnex_twice-1.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bdnex-twice\nVersion: 1.0\n\nName: not this\n")
        (dist / "entry_points.txt").write_text(
            f"# a comment\n[console_scripts]\ntwice = elsewhere:main\n\n[bdnex_core]\n# another\ntwice = {value}\n"
        )
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), str(second), *sys.path])
    found = [entry for entry in installed_entry_points("bdnex_core") if entry.name == "twice"]
    assert [entry.value for entry in found] == ["first_module:Plugin"]
    assert found[0].distribution() == {"name": "bdnex-twice", "version": "1.0"}
    assert sorted((found.name, found.value) for found in importlib.metadata.entry_points(group="bdnex_core")) == ours(
        "bdnex_core"
    )
    extras = tmp_path / "extras" / "bdnex_extras-2.0.dist-info"
    extras.mkdir(parents=True)
    (extras / "entry_points.txt").write_text("[bdnex_core]\nwith_extras = extras_module:Plugin [fast, small]\n")
    monkeypatch.setattr(sys, "path", [str(extras.parent), *sys.path])
    theirs = next(found for found in importlib.metadata.entry_points(group="bdnex_core") if found.name == "with_extras")
    mine = next(found for found in installed_entry_points("bdnex_core") if found.name == "with_extras")
    assert (mine.value, mine.distribution()) == ("extras_module:Plugin", {"name": "bdnex_extras", "version": "2.0"})
    assert (theirs.module, theirs.attr) == ("extras_module", "Plugin")


def _run_cli(args, pythonpath, **env):
    environment = {**os.environ, "PYTHONPATH": str(pythonpath), **env}
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", *args], capture_output=True, text=True, env=environment, timeout=120
    )


def test_plugin_that_raises_on_import_does_not_stop_the_cli(tmp_path):
    _install_fake_distribution(tmp_path, "bdnex_broken", "raise ImportError('missing dependency xyz')\n")
    _install_fake_distribution(
        tmp_path,
        "bdnex_working",
        """
        from bdnex_core import hookimpl

        @hookimpl
        def session_finished(session_id, status, stats):
            pass
        """,
    )
    _install_fake_distribution(
        tmp_path,
        "bdnex_misspelled",
        """
        from bdnex_core import hookimpl

        @hookimpl
        def file_taged(item):
            pass
        """,
    )
    result = _run_cli(["plugins", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert listed["bdnex_working"]["hooks"] == ["session_finished"]
    assert listed["bdnex_working"]["distribution"] == {"name": "bdnex_working", "version": "0.1"}
    assert "missing dependency xyz" in listed["bdnex_broken"]["error"]
    assert "file_taged" in listed["bdnex_misspelled"]["error"]
    assert "plugin bdnex_broken failed to load" in result.stderr
    only = _run_cli(["plugins", "--json"], tmp_path, BDNEX_LOAD_PLUGINS="bdnex_working")
    assert {entry["name"] for entry in json.loads(only.stdout)} == {
        "bdnex_working",
        "bdnex_core.default_plugins.folder_source",
        "bdnex_core.default_plugins.cbz_writer",
    }
    none = _run_cli(["plugins", "--json"], tmp_path, BDNEX_LOAD_PLUGINS="")
    assert all(entry["name"].startswith("bdnex_core.") for entry in json.loads(none.stdout))


def test_every_hook_is_documented():
    text = (REPO_ROOT / "docs" / "plugin_hooks.md").read_text("utf-8")
    documented = set(re.findall(r"^## (\w+)$", text, flags=re.MULTILINE))
    missing = [name for name in HOOK_NAMES if name not in documented]
    assert not missing, f"hooks without a section in docs/plugin_hooks.md: {missing}"
    assert HOOK_NAMES, "no hook specs found"


def test_hookimpl_is_importable_from_the_package_root():
    import bdnex_core

    assert bdnex_core.hookimpl is hookspecs.hookimpl


def test_plugin_whose_register_commands_raises_is_reported_once_and_every_command_works(tmp_path):
    _install_fake_distribution(
        tmp_path,
        "bdnex_badcommands",
        """
        from bdnex_core import hookimpl

        @hookimpl
        def register_commands(cli):
            raise RuntimeError("cannot build my commands")
        """,
    )
    _install_fake_distribution(
        tmp_path,
        "bdnex_goodcommands",
        """
        import click
        from bdnex_core import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command("good-hello")
            def hello():
                click.echo("hello from a good plugin")
        """,
    )
    env = {"BDNEX_CONFIG": str(tmp_path / "none.yaml"), "BDNEX_DB": str(tmp_path / "db.sqlite")}
    (tmp_path / "none.yaml").write_text("{}\n")
    for args in (["plugins", "--json"], ["config", "show"], ["good-hello"], ["sessions", "list"]):
        result = _run_cli(args, tmp_path, **env)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr
        failures = [line for line in result.stderr.splitlines() if "bdnex_badcommands" in line]
        assert len(failures) == 1, result.stderr
        assert "failed in register_commands: RuntimeError: cannot build my commands" in failures[0]
    assert "hello from a good plugin" in _run_cli(["good-hello"], tmp_path, **env).stdout
    listed = {entry["name"]: entry for entry in json.loads(_run_cli(["plugins", "--json"], tmp_path, **env).stdout)}
    assert listed["bdnex_badcommands"]["failed_hooks"] == ["register_commands"]
    assert listed["bdnex_goodcommands"]["failed_hooks"] == []


def test_hook_wrappers_run_through_pluggy_and_a_failing_one_steps_aside(caplog):
    reset_plugin_host()
    seen = []

    class NewStyleWrapper:
        @hookimpl(wrapper=True)
        def register_metadata_writers(self, register, settings):
            seen.append("new-before")
            result = yield
            seen.append("new-after")
            return result

    class OldStyleWrapper:
        @hookimpl(hookwrapper=True)
        def register_library_sources(self, register, settings):
            seen.append("old-before")
            outcome = yield
            outcome.get_result()
            seen.append("old-after")

    class BrokenWrapper:
        @hookimpl(wrapper=True)
        def register_library_sources(self, register, settings):
            raise RuntimeError("wrapper broke")
            yield  # a generator that fails before yielding

    class BrokenAfterYield:
        @hookimpl(wrapper=True)
        def register_metadata_writers(self, register, settings):
            yield
            raise RuntimeError("teardown broke")

    class BrokenImpl:
        @hookimpl
        def session_finished(self, session_id, status, stats):
            raise ValueError("always")

    pm = get_plugin_manager()
    for name, plugin in [
        ("new", NewStyleWrapper()),
        ("old", OldStyleWrapper()),
        ("broken-wrapper", BrokenWrapper()),
        ("broken-teardown", BrokenAfterYield()),
        ("broken-impl", BrokenImpl()),
    ]:
        pm.register(plugin, name=name)
    try:
        settings = Settings()
        assert "folder" in library_sources(settings)
        assert "comicinfo" in [writer.name for writer in metadata_writers(settings)]
        assert seen == ["old-before", "old-after", "new-before", "new-after"]
        for _ in range(3):
            notify("session_finished", session_id=1, status="completed", stats={})
        assert "broken-wrapper failed in register_library_sources: RuntimeError: wrapper broke" in caplog.text
        assert "broken-teardown failed in register_metadata_writers: RuntimeError: teardown broke" in caplog.text
        assert caplog.text.count("broken-impl failed in session_finished: ValueError: always") == 1
    finally:
        reset_plugin_host()
