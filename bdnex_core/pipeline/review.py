"""Asking a person about an uncertain match: pick a candidate, skip, or give an id/URL."""

from __future__ import annotations

from typing import Any

import click

from bdnex_core.pipeline.steps import album_id_from_text


def describe_candidates(name: str, reason: str, parsed: dict[str, Any], candidates: list[dict[str, Any]]) -> str:
    lines = [f"\n{name}", f"  {reason}" if reason else ""]
    wanted = " ".join(str(parsed.get(key)) for key in ("series", "tome", "title") if parsed.get(key))
    if wanted:
        lines.append(f"  read from the name: {wanted}")
    if not candidates:
        lines.append("  no candidate in the local catalogue")
    for number, candidate in enumerate(candidates, start=1):
        label = candidate.get("label") or candidate.get("url") or ""
        lines.append(f"  [{number}] album {candidate['album_id']} score {candidate['score']:.2f}  {label}")
        if candidate.get("explain"):
            lines.append(f"      {candidate['explain']}")
    return "\n".join(line for line in lines if line)


def ask(name: str, reason: str, parsed: dict[str, Any], candidates: list[dict[str, Any]]) -> int | str | None:
    """Returns an album id, ``None`` to skip, or ``"quit"``."""
    click.echo(describe_candidates(name, reason, parsed, candidates), err=True)
    while True:
        answer = click.prompt(
            "  choose a number, s(kip), q(uit), or type a Bédéthèque album id or URL",
            default="s",
            show_default=True,
            err=True,
        ).strip()
        if answer.lower() in ("s", "skip", ""):
            return None
        if answer.lower() in ("q", "quit"):
            return "quit"
        if answer.isdigit() and 1 <= int(answer) <= len(candidates) and len(answer) <= 2:
            return int(candidates[int(answer) - 1]["album_id"])
        album_id = album_id_from_text(answer)
        if album_id is not None:
            return album_id
        click.echo("  not understood", err=True)


def terminal_reviewer(outcome: Any) -> int | None:
    """The reviewer used by `tag --interactive`: prompts on the terminal."""
    answer = ask(outcome.item.name, outcome.reason, outcome.parsed, outcome.candidates)
    if answer == "quit":
        raise KeyboardInterrupt
    return answer if isinstance(answer, int) else None
