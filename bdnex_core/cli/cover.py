"""``bdnex-core cover FILE [ALBUM_ID]``: the file's cover against an album's, for a person who wants to see why.

Prints which page was taken as the file's cover, both fingerprints, the distances and the verdict.
Without ALBUM_ID the album is the one the file's name matches best (from the local index). The
album's cover comes as a tag's does: the database, the cover cache, else one polite request.
"""

from __future__ import annotations

from pathlib import Path

import click

from bdnex_core.bedetheque.client import BedethequeClient
from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.covers.check import CoverBudget, CoverChecker
from bdnex_core.covers.fingerprint import compare
from bdnex_core.covers.pages import archive_cover
from bdnex_core.errors import BdnexError
from bdnex_core.hashing import sha256_file
from bdnex_core.matching.filename import parse_filename
from bdnex_core.pipeline.catalogue_matcher import load_matcher
from bdnex_core.pipeline.steps import album_id_from_text


@click.command("cover")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("album", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def cover(app: AppContext, file: Path, album: str | None, as_json: bool) -> None:
    """Compare FILE's cover with ALBUM's (an id or a Bédéthèque URL; default: the best match of its name)."""
    if not file.is_file():
        raise BdnexError(f"{file}: no such file", path=file)
    album_id = album_id_from_text(album) if album else _best_match(app, file)
    if album_id is None:
        raise click.UsageError(f"ALBUM: {album!r} is neither an album id nor a Bédéthèque album URL")
    chosen = archive_cover(file)
    if chosen is None:
        raise BdnexError(f"{file}: no image page in the archive", path=file)
    app.db.covers.keep_file_cover(sha256_file(file), chosen.fingerprint.to_text(), f"{chosen.page} ({chosen.why})")
    checker = _checker(app)
    album_cover = checker.album_fingerprint(app.db, album_id)
    if isinstance(album_cover, str):
        raise BdnexError(f"{file}: album {album_id}'s cover cannot be compared: {album_cover}", path=file)
    result = compare(chosen.fingerprint, album_cover)
    data = {
        "file": str(file),
        "page": chosen.page,
        "why": chosen.why,
        "file_fingerprint": chosen.fingerprint.to_text(),
        "album_id": album_id,
        "album_fingerprint": album_cover.to_text(),
        "phash_distance": result.phash_distance,
        "dhash_distance": result.dhash_distance,
        "distance": result.distance,
        "verdict": str(result.verdict),
        "cover_requests": checker.budget.requests,
    }
    if as_json:
        echo_json(data)
        return
    click.echo(f"file:  {file}")
    click.echo(f"       cover page {chosen.page} ({chosen.why})")
    click.echo(f"       fingerprint {data['file_fingerprint']}")
    click.echo(f"album: {album_id}")
    click.echo(f"       fingerprint {data['album_fingerprint']}")
    click.echo(f"cover: {result.describe()}")


def _best_match(app: AppContext, file: Path) -> int:
    result = load_matcher(app.settings, app.db).match(parse_filename(file.name, parent=file.parent.name or None))
    if result.best is None:
        raise BdnexError(f"{file}: its name matches no album of the catalogue; give ALBUM_ID", path=file)
    return result.best.album_id


def cover_lines(app: AppContext, name: str, album_ids: list[int]) -> dict[int, str]:
    """``cover: ...`` per candidate: the file's cover compared with each candidate's, or why not."""
    if not album_ids:
        return {}
    path = Path(name)
    if not path.is_file():
        return {album_id: "cover: not compared (no such file to read its cover)" for album_id in album_ids}

    checker = _checker(app)
    found = checker.file_fingerprint(app.db, path, sha256_file(path))
    if isinstance(found, str):
        return {album_id: f"cover: not compared ({found})" for album_id in album_ids}
    lines = checker.compare(app.db, found[0], album_ids)
    return {album_id: line.text() for album_id, line in lines.items()}


def _checker(app: AppContext) -> CoverChecker:
    """Covers compared whatever the settings say (a person asked), through the polite client and the budget."""
    return CoverChecker(
        BedethequeClient(app.settings, database=app.db), "always", CoverBudget(app.settings.matching.cover_budget)
    )
