"""The calibre metadata source uses the authors and returns only what bdnex-core would accept (issue 31, item 6),
and ``calibre sync`` matches the stored file's name, not calibre's title alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_calibre_sync import calibre_env, calibredb, config, site  # noqa: F401 - shared fixtures

from bdnex_calibre.identify import AUTHOR_MATCH, author_agreement, rank
from bdnex_core import cli


def _identify(config: Path, capsys: pytest.CaptureFixture[str], title: str, *authors: str) -> list[dict]:  # noqa: F811
    args = ["--config", str(config), "calibre", "identify", "--title", title]
    for author in authors:
        args += ["--author", author]
    capsys.readouterr()
    assert cli.main(args) == 0
    return json.loads(capsys.readouterr().out)["results"]


def _writer_of_245127(config: Path) -> str:  # noqa: F811
    from bdnex_core.api import fetch_album, person_name
    from bdnex_core.config import load_settings
    from bdnex_core.db import BDneXDB

    settings = load_settings(config)
    db = BDneXDB(settings=settings)
    try:
        return str(person_name(fetch_album(settings, db, 245127).writers[0]))
    finally:
        db.close()


def test_a_lookup_with_the_right_and_a_wrong_author(config: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    writer = _writer_of_245127(config)
    right = _identify(config, capsys, "Redwin de la Forge", writer)
    assert right[0]["album_id"] == 245127 and right[0]["decision"] == "accept"
    assert f"authors: {writer} is" in right[0]["explain"] and right[0]["authors"]
    assert [result["decision"] for result in right].count("accept") == 1
    wrong = _identify(config, capsys, "Redwin de la Forge", "Albert Uderzo")
    assert all(result["decision"] == "weak" for result in wrong)
    assert "Albert Uderzo not among" in next(r for r in wrong if r["album_id"] == 245127)["explain"]
    # calibre's "no author" placeholder neither raises nor lowers
    unknown = _identify(config, capsys, "Redwin de la Forge", "Unknown")
    assert unknown[0]["album_id"] == 245127 and "nothing to compare" in unknown[0]["explain"]


def _match(*candidates: tuple[int, float, list[str]]) -> dict:
    """A ``match_name`` answer: caps named "ambiguous…" or "title only…" are the core's soft ones."""
    return {
        "accept_threshold": 0.85,
        "candidates": [
            {
                "album_id": album_id,
                "url": f"u{album_id}",
                "score": score,
                "confidence": min(score, 0.84) if caps else score,
                "caps": caps,
                "hard_caps": [cap for cap in caps if not cap.startswith(("ambiguous", "title only"))],
                "title_only": any(cap.startswith("title only") for cap in caps),
                "ambiguous": any(cap.startswith("ambiguous") for cap in caps),
                "explain": "title",
            }
            for album_id, score, caps in candidates
        ],
    }


def test_authors_raise_lower_and_settle_ambiguity() -> None:
    infini = {"authors": ["Jean Dufaux", "Albert Uderzo"], "title": "Professeur Infini"}
    korfmann = {"authors": ["Raoul Cauvin", "Louis-Michel Carpentier"], "title": "Professeur Korfmann"}
    # two titles alike: ambiguous on the title alone; the author settles it
    match = _match((1, 0.82, ["ambiguous: album 2 scores 0.81"]), (2, 0.81, []))
    ranked = rank(match, {1: infini, 2: korfmann}, ["Raoul Cauvin"])
    assert [(r["album_id"], r["decision"]) for r in ranked] == [(2, "accept"), (1, "weak")]
    assert ranked[0]["confidence"] == pytest.approx(0.81 + AUTHOR_MATCH)
    assert "Raoul Cauvin not among Jean Dufaux, Albert Uderzo" in ranked[1]["explain"]
    # a review-level title is not accepted without authors, nor with the wrong ones
    assert [r["decision"] for r in rank(_match((1, 0.82, [])), {1: infini}, [])] == ["weak"]
    assert [r["decision"] for r in rank(_match((1, 0.90, [])), {1: infini}, ["Raoul Cauvin"])] == ["weak"]
    assert [r["decision"] for r in rank(_match((1, 0.90, [])), {1: infini}, ["Uderzo"])] == ["accept"]
    # a cap of the core (a different tome) is never lifted by an author; "title only" is, by a matching one
    assert [r["decision"] for r in rank(_match((1, 0.90, ["tome differs"])), {1: korfmann}, ["Cauvin"])] == ["weak"]
    assert [r["decision"] for r in rank(_match((1, 1.0, ["title only"])), {1: korfmann}, ["Cauvin"])] == ["accept"]
    assert [r["decision"] for r in rank(_match((1, 1.0, ["title only"])), {1: korfmann}, [])] == ["weak"]
    assert author_agreement(["Jarry, Nicolas"], ["Nicolas Jarry"])[0] == AUTHOR_MATCH


def test_sync_reads_the_stored_file_name(tmp_path: Path, config: Path, site) -> None:  # noqa: F811
    """calibre splits "Nains - 1" at " - ": the title "Nains" (which alone only goes to review: which
    tome?) and the author "1". The stored file keeps the whole name, and that is what is matched."""
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    folder = tmp_path / "Calibre Library"
    folder.mkdir()
    cbz = write_cbz(tmp_path / "in" / "Nains - 1.cbz", sample_pages("Nains", 3, 245127))
    book_id = int(calibredb("add", "--with-library", str(folder), str(cbz)).strip().rsplit(":", 1)[-1].split(",")[0])
    row = json.loads(calibredb("list", "--for-machine", "--with-library", str(folder), "--fields", "title,authors"))[0]
    assert (row["title"], row["authors"]) == ("Nains", "1"), row
    assert cli.main(["--config", str(config), "calibre", "sync", "--library", str(folder)]) == 0
    row = json.loads(calibredb("list", "--for-machine", "--with-library", str(folder), "--fields", "identifiers"))[0]
    assert row["id"] == book_id and row["identifiers"].get("bedetheque") == "245127", row


# a calibre lookup is one bdnex-core process, and calibre looks for its answer every 0.2 s: what the process
# loads decides whether it answers at the first look. A cached album needs neither the HTTP stack, nor the page
# parser, nor the archive code.
NOT_FOR_A_LOOKUP = (
    "requests",
    "urllib3",
    "urllib.request",
    "lxml",
    "PIL",
    "importlib.metadata",
    "bdnex_core.archives",
    "bdnex_core.bedetheque.client",
    "bdnex_core.bedetheque.parse",
    "bdnex_core.app.operations",
)
MODULES_AT_EXIT = """
import json, sys
from bdnex_core.cli import main
try:
    main(sys.argv[1:])
finally:
    print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_a_lookup_of_cached_albums_loads_neither_the_http_stack_nor_the_archive_code(config: Path) -> None:  # noqa: F811
    import subprocess
    import sys

    writer = _writer_of_245127(config)  # the album is in the cache from now on
    lookup = ["calibre", "identify", "--title", "Redwin de la Forge", "--author", writer]
    result = subprocess.run(
        [sys.executable, "-c", MODULES_AT_EXIT, "--config", str(config), *lookup],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["results"][0]["decision"] == "accept"
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES "))
    loaded = set(json.loads(line[len("MODULES ") :]))
    assert "rapidfuzz" in loaded, "the title was matched"
    assert not loaded & set(NOT_FOR_A_LOOKUP), sorted(loaded & set(NOT_FOR_A_LOOKUP))
