"""The "Bédéthèque (bdnex)" metadata source inside the real calibre, against the fake site."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_calibre_identify import _writer_of_245127
from test_calibre_sync import calibre_env, config, site  # noqa: F401 - shared fixtures

from bdnex_core import cli


@pytest.mark.slow
def test_fetch_ebook_metadata_uses_bdnex(tmp_path: Path, config: Path, site) -> None:  # noqa: F811
    from bdnex_core.demo.fakesite import human

    plugin = tmp_path / "bdnex_bedetheque.zip"
    assert cli.main(["calibre", "build-plugin", "--output", str(plugin)]) == 0
    env = {
        **os.environ,
        "BDNEX_CONFIG": str(config),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    installed = subprocess.run(["calibre-customize", "-a", str(plugin)], capture_output=True, text=True, env=env)
    assert installed.returncode == 0, installed.stderr
    entry = site.catalogue.albums[245127]
    writer = _writer_of_245127(config)
    # the album's own title with its author (how calibre users search), and series with tome
    for name, author in (("Redwin de la Forge", writer), (f"{human(entry.series_slug)} - Tome {entry.tome}", None)):
        out = subprocess.run(
            ["fetch-ebook-metadata", "-p", "Bédéthèque (bdnex)", "-t", name, *(["-a", author] if author else []), "-v"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "bedetheque:245127" in out.stdout, name + out.stdout + out.stderr[-3000:]
        assert human(entry.series_slug).casefold() in out.stdout.casefold()
    # another author's album of a similar title is not returned (calibre would apply it in a bulk download)
    out = subprocess.run(
        ["fetch-ebook-metadata", "-p", "Bédéthèque (bdnex)", "-t", "Redwin de la Forge", "-a", "Albert Uderzo", "-v"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "bedetheque:245127" not in out.stdout, out.stdout
    assert "weak match not returned: album 245127" in out.stderr and "Albert Uderzo not among" in out.stderr


@pytest.mark.slow
def test_metadata_source_agrees_with_sync(tmp_path: Path, config: Path, site, shared_dir: Path) -> None:  # noqa: F811
    """Authors as sync writes them ("First Last"), summary line breaks kept,
    and the cover downloaded from the configured site. Needs the recorded real page of Nains T1
    (its authors and its summary's paragraphs): skipped with the reason without ../shared."""
    from lxml import etree

    plugin = tmp_path / "bdnex_bedetheque.zip"
    assert cli.main(["calibre", "build-plugin", "--output", str(plugin)]) == 0
    env = {
        **os.environ,
        "BDNEX_CONFIG": str(config),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    installed = subprocess.run(["calibre-customize", "-a", str(plugin)], capture_output=True, text=True, env=env)
    assert installed.returncode == 0, installed.stderr
    cover = tmp_path / "cover.jpg"
    out = subprocess.run(
        ["fetch-ebook-metadata", "-p", "Bédéthèque (bdnex)", "-I", "bedetheque:245127", "-o", "-c", str(cover)],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    root = etree.fromstring(out.stdout[out.stdout.index(b"<?xml") :])
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "opf": "http://www.idpf.org/2007/opf"}
    # (calibre's identify merge drops a source's author sort and computes "Jarry, Nicolas" itself)
    assert [creator.text for creator in root.findall(".//dc:creator", ns)] == ["Nicolas Jarry", "Pierre-Denis Goux"]
    # the recorded summary has one paragraph per line: calibre keeps them as line breaks
    assert root.findtext(".//dc:description", namespaces=ns).count("<br") >= 3
    assert cover.stat().st_size > 0
    assert any(entry.path.endswith("/Couv_245127.jpg") for entry in site.log)


def test_missing_bdnex_is_a_clear_error(tmp_path: Path) -> None:
    assert shutil.which("calibre-debug")
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys, zipfile, importlib.util\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "from bdnex_calibre.calibre_plugin import BedethequeBdnex, BdnexMissing\n"
        "source = BedethequeBdnex(None)\n"
        "source.prefs['bdnex_command'] = 'no-such-bdnex-core'\n"
        "try:\n    source._command()\nexcept BdnexMissing as err:\n    print('MISSING', err)\n"
    )
    out = subprocess.run(["calibre-debug", str(script)], capture_output=True, text=True, timeout=60)
    assert "MISSING bdnex-core was not found" in out.stdout, out.stdout + out.stderr
