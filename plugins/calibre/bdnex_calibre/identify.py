"""``bdnex-core calibre identify``: the albums a calibre lookup (title, authors) may apply, ranked as the core would.

calibre applies the first result of a metadata source in bulk downloads, so the source must
return only what bdnex-core would accept, never a merely similar title: "Professeur Korfmann"
by Raoul Cauvin is not "Professeur Infini" by Dufaux and Uderzo. The title is matched against
the catalogue index as ``tag`` matches a file name (:func:`bdnex_core.api.match_name`); then the
authors calibre gives are compared with each candidate album's (fetched politely, from the
cache when fresh): one in common raises the candidate's confidence, none lowers it, and the
explanation says so. A candidate is ``accept`` when its confidence reaches the core's accept
threshold, nothing caps it, and no other candidate is as close as the core's ambiguity gap;
every other one is ``weak``. Two of the core's caps are about missing evidence, and the authors
are evidence: an album found by its title alone (calibre's titles rarely name the series) and
confirmed by an author is no longer capped; ambiguity is judged again after the authors. The
others (a different tome, a title whose numbers differ) stay.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

AUTHOR_MATCH = 0.10
AUTHOR_MISMATCH = 0.25
AMBIGUITY_GAP = 0.04  # the core's: two albums this close need a person
# what calibre writes when it knows no author ("Unknown", and its French translation)
PLACEHOLDER_AUTHORS = {"unknown", "inconnu", "inconnue", "inconnu(e)"}


def _tokens(name: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return {token for token in re.split(r"[^a-z0-9]+", folded) if len(token) > 1}


def real_authors(authors: Sequence[str]) -> list[str]:
    return [author for author in authors if author.strip() and author.strip().lower() not in PLACEHOLDER_AUTHORS]


def author_agreement(wanted: Sequence[str], album_authors: Sequence[str]) -> tuple[float, str]:
    """(change of confidence, why): an author in common raises it, none in common lowers it."""
    wanted = real_authors(wanted)
    if not wanted or not album_authors:
        return 0.0, "authors: nothing to compare"
    for person in wanted:
        mine = _tokens(person)
        for theirs in album_authors:
            other = _tokens(theirs)
            # "Cauvin" and "Raoul Cauvin" agree; so do "Jarry, Nicolas" and "Nicolas Jarry"
            if mine and other and (mine <= other or other <= mine):
                return AUTHOR_MATCH, f"authors: {person} is {theirs} (+{AUTHOR_MATCH:.2f})"
    return (
        -AUTHOR_MISMATCH,
        f"authors: {', '.join(wanted)} not among {', '.join(album_authors)} (-{AUTHOR_MISMATCH:.2f})",
    )


def rank(
    match: Mapping[str, Any], records: Mapping[int, Mapping[str, Any]], authors: Sequence[str]
) -> list[dict[str, Any]]:
    """The candidates of ``match`` (:func:`bdnex_core.api.match_name`) with their album records, ranked by
    confidence after the authors; at most one is ``accept``."""
    results = []
    for candidate in match["candidates"]:
        record = dict(records.get(candidate["album_id"]) or {})
        delta, why = author_agreement(authors, record.get("authors") or []) if record else (0.0, "")
        caps = list(candidate["hard_caps"])
        if candidate["title_only"]:
            if delta > 0:
                why += "; the authors confirm the album title"
            else:
                caps.append("found by its album title only, and no author confirms it")
        # the core's confidence is capped below its accept threshold while a cap holds: start from the score
        confidence = max(0.0, min(1.0, (candidate["score"] if not caps else candidate["confidence"]) + delta))
        results.append(
            {
                **record,
                "album_id": candidate["album_id"],
                "url": record.get("url") or candidate["url"],
                "confidence": round(confidence, 4),
                "caps": caps,
                "explain": "; ".join(part for part in (candidate["explain"], why) if part),
                "decision": "weak",
            }
        )
    results.sort(key=lambda result: (-result["confidence"], result["album_id"]))
    if results:
        best = results[0]
        clear = len(results) == 1 or best["confidence"] - results[1]["confidence"] >= AMBIGUITY_GAP
        if best["confidence"] >= match["accept_threshold"] and not best["caps"] and clear:
            best["decision"] = "accept"
        elif not clear:
            best["explain"] += f"; ambiguous: album {results[1]['album_id']} is as close"
    return results


def could_be_accepted(candidate: Mapping[str, Any], accept_threshold: float) -> bool:
    """Whether the authors could make ``candidate`` accepted (only those albums are fetched)."""
    return not candidate["hard_caps"] and candidate["score"] + AUTHOR_MATCH >= accept_threshold
