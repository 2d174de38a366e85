"""How a name matches the local catalogue, for a plugin: apart from :mod:`.operations` because a calibre lookup
runs it once per lookup, in a process of its own, and needs neither the archive code nor the HTTP stack."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from bdnex_core.matching.decide import AMBIGUOUS_CAP
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.score import TITLE_ONLY_CAP
from bdnex_core.pipeline.catalogue_matcher import load_matcher

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB


def match_name(settings: Settings, db: BDneXDB, name: str) -> dict[str, Any]:
    """How the core matches a file name (``Série - T01 - Titre.cbz``; a folder before it helps, as for
    ``tag``) against the local catalogue index, as ``bdnex-core identify`` prints it: ``decision``
    (``accept``, ``review``, ``none``), ``reason``, the ``accept_threshold`` and ``review_threshold``
    in force, and ``candidates`` best first, each with ``album_id``, ``url``, ``score``, ``confidence``,
    ``caps`` (why it may not be accepted automatically), ``title_only`` (found by its album title
    alone: the name gave no series), ``ambiguous`` (another album is as close), ``hard_caps`` (the
    caps that are neither of those two) and ``explain``.
    No page is fetched."""

    path = PurePath(name)
    result = load_matcher(settings, db).match(parse_filename(path.name, parent=path.parent.name or None))
    return {
        "decision": str(result.decision),
        "reason": result.reason,
        "accept_threshold": settings.matching.accept_threshold,
        "review_threshold": settings.matching.review_threshold,
        "candidates": [
            {
                "album_id": candidate.album_id,
                "url": candidate.url,
                "score": round(candidate.score, 4),
                "confidence": round(candidate.confidence, 4),
                "caps": list(candidate.caps),
                "title_only": any(cap.startswith(TITLE_ONLY_CAP) for cap in candidate.caps),
                "ambiguous": any(cap.startswith(AMBIGUOUS_CAP) for cap in candidate.caps),
                "hard_caps": [cap for cap in candidate.caps if not cap.startswith((TITLE_ONLY_CAP, AMBIGUOUS_CAP))],
                "explain": candidate.explain(),
            }
            for candidate in result.candidates
        ],
    }
