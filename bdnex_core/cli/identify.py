"""``bdnex-core identify NAME...``: which album a file name matches, from the local index only.

With ``--explain``, a NAME that is a comic file also has its cover compared with each candidate's
(``covers/check.py``: the covers come through the polite client, its cache and the database, within
``matching.cover_budget``), one ``cover:`` line per candidate."""

from __future__ import annotations

import sys
from pathlib import PurePath

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.score import readable_explain
from bdnex_core.pipeline.catalogue_matcher import load_matcher


@click.command("identify")
@click.argument("names", nargs=-1)
@click.option("--stdin", "from_stdin", is_flag=True, help="Read names from standard input, one per line.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--explain",
    is_flag=True,
    help="For a NAME that is a comic file, compare its cover with each candidate's (fetches their covers).",
)
@pass_app
def identify(app: AppContext, names: tuple[str, ...], from_stdin: bool, as_json: bool, explain: bool) -> None:
    """Match file names against the catalogue index, without fetching any page (but covers with --explain)."""
    wanted = list(names) + ([line.strip() for line in sys.stdin if line.strip()] if from_stdin else [])
    if not wanted:
        raise click.UsageError("give at least one NAME (or --stdin)")
    if explain:
        # lazy: the HTTP stack and the imaging only for --explain (identify alone starts in a blink)
        from bdnex_core.cli.cover import cover_lines
    matcher = load_matcher(app.settings, app.db)
    for name in wanted:
        path = PurePath(name)
        result = matcher.match(parse_filename(path.name, parent=path.parent.name or None))
        best = result.best if result.decision == "accept" else None
        covers = cover_lines(app, name, [c.album_id for c in result.candidates]) if explain else {}
        if as_json:
            echo_json(
                {
                    "name": name,
                    "album_id": best.album_id if best else None,
                    "url": best.url if best else None,
                    "confidence": round(result.best.confidence, 4) if result.best else 0.0,
                    "decision": result.decision,
                    "candidates": [
                        {
                            "album_id": c.album_id,
                            "url": c.url,
                            "score": round(c.score, 4),
                            "explain": c.explain(),
                            "editions": list(c.editions),
                            **({"cover": covers[c.album_id]} if c.album_id in covers else {}),
                        }
                        for c in result.candidates
                    ],
                }
            )
            continue
        # one number per candidate: the confidence the decision used (the score, held below the accept
        # threshold when something forbids an automatic match)
        click.echo(f"{name}: {result.decision}" + (f" (score {result.best.confidence:.2f})" if result.best else ""))
        for candidate in result.candidates:
            click.echo(f"  {candidate.album_id} {candidate.confidence:.2f} {candidate.url or ''}")
            click.echo(f"      {readable_explain(candidate.explain())}")
            if candidate.editions:  # the same album under other ids: the edition is chosen when tagging
                click.echo(f"      other editions of this album: {', '.join(map(str, candidate.editions))}")
            if candidate.album_id in covers:
                click.echo(f"      {covers[candidate.album_id]}")
