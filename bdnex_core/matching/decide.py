"""From scores to a decision: ``accept``, ``review`` or ``none`` (thresholds from config).

What to *do* with a decision (write, ask, queue) is the pipeline's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bdnex_core.config import MatchingSettings
from bdnex_core.matching.score import Score
from bdnex_core.states import Decision

AMBIGUITY_GAP = 0.04  # two different albums this close: a person must choose
AMBIGUOUS_CAP = "ambiguous"  # the start of the cap decide() gives such a best candidate


@dataclass
class MatchResult:
    decision: Decision  # accept, review or none
    best: Score | None
    candidates: list[Score] = field(default_factory=list)
    reason: str = ""


def decide(candidates: list[Score], settings: MatchingSettings) -> MatchResult:
    ranked = sorted(candidates, key=lambda score: (-score.score, score.album_id))[: settings.max_candidates]
    if not ranked:
        return MatchResult(Decision.NONE, None, [], "no candidate in the catalogue")
    best = ranked[0]
    # a runner-up the name contradicts (another tome, title or edition) is no rival
    rival = next((score for score in ranked[1:] if not score.contradicted), None)
    if rival is not None and best.score - rival.score < AMBIGUITY_GAP and not best.caps:
        best.cap(f"{AMBIGUOUS_CAP}: album {rival.album_id} scores {rival.score:.2f}")
    confidence = best.confidence
    if confidence >= settings.accept_threshold and not best.caps:
        return MatchResult(Decision.ACCEPT, best, ranked, "")
    if confidence >= settings.review_threshold:
        return MatchResult(Decision.REVIEW, best, ranked, "; ".join(best.caps) or "below the accept threshold")
    return MatchResult(Decision.NONE, best, ranked, "; ".join(best.caps) or "below the review threshold")
