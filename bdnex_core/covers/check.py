"""The covers a tag compares, politely: which candidates, at what cost, and what the comparison decides.

Each album cover costs a request to the site, so ``matching.cover_check`` says when covers are worth it:

- ``doubt`` (default): only where a cover can change the decision: an accepted album with several
  editions the name does not tell apart (no ISBN, no year), and a name left between the review and the
  accept thresholds (its candidates that the name does not contradict, a few at most);
- ``always``: also every accepted album (a library whose names may lie);
- ``never``.

What a comparison decides (:func:`cover_decision`, pure): with ``always``, an accept whose every
compared cover is clearly different waits for review with that reason (with ``doubt`` the editions'
covers only choose the edition: a library of scans with odd first pages is not sent to review); a review whose one candidate has clearly the
same cover, when no other compared candidate's is, is accepted, but only where the name leaves the
choice open (below the threshold, ambiguous, or no tome or title in it): a cover never turns the tome,
title or series the name gives into another automatically. Among editions, those whose cover is the
file's go to the edition rule (before ``original``/``latest``).

Covers come through the polite client and its disk cache (``<cache dir>/covers/``), from the URL the
album cache holds (the series page's thumbnails or the album page) else the site's usual path, within
a per-run budget (``matching.cover_budget`` requests); fingerprints are kept in the database, so a
cover is fetched and decoded once. A site that cannot be reached, a budget spent, or a run that must
stop: not compared, and the line says why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bdnex_core.bedetheque.service import write_to_cache
from bdnex_core.covers.fingerprint import CoverFingerprint, CoverImageError, Verdict, compare, fingerprint_bytes
from bdnex_core.covers.pages import archive_cover
from bdnex_core.errors import BdnexError
from bdnex_core.states import Decision

if TYPE_CHECKING:
    from bdnex_core.covers.fingerprint import CoverComparison, CoverFingerprint
    from bdnex_core.db import BDneXDB

MAX_EDITIONS_COMPARED = 6  # an album with more editions: its first ones (by id) are compared
MAX_CANDIDATES_COMPARED = 3  # a name in doubt: its best candidates the name does not contradict
# caps a cover may lift: the name leaves the choice open (never a contradiction of the name)
OPEN_CAPS = ("ambiguous", "no tome or title in the name")


@dataclass
class CoverLine:
    """One candidate's comparison, or why there was none."""

    album_id: int
    comparison: CoverComparison | None = None
    not_compared: str = ""

    @property
    def verdict(self) -> str:
        return str(self.comparison.verdict) if self.comparison is not None else "not compared"

    def text(self) -> str:
        if self.comparison is not None:
            return f"cover: {self.comparison.describe()}"
        return f"cover: not compared ({self.not_compared})"


@dataclass
class CoverDecision:
    """What the covers say about one file's match."""

    lines: dict[int, CoverLine] = field(default_factory=dict)
    file_cover: str = ""  # which page was taken as the file's cover, and why
    accept: int | None = None  # a candidate the cover accepts (the name left it in doubt)
    block: str = ""  # an accepted match the cover contradicts: waits for review with this reason
    same_cover: frozenset[int] = frozenset()  # editions whose cover is the file's

    def line(self, album_id: int) -> str | None:
        found = self.lines.get(album_id)
        return found.text() if found is not None else None


class CoverBudget:
    """Cover requests of one run, across its worker threads."""

    def __init__(self, limit: int):
        self.limit = limit
        self.requests = 0
        self.cached = 0  # covers found in the disk cache (no request)
        self.refused = 0  # covers not fetched: the budget was spent
        self.stopped = ""  # why no more covers are fetched in this run (the site cannot be reached...)
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.requests >= self.limit:
                self.refused += 1
                return False
            self.requests += 1
            return True


class CoverChecker:
    """The comparisons of one run (shared by its workers; each passes its own database connection)."""

    def __init__(self, client: Any, mode: str, budget: CoverBudget, *, review_threshold: float = 0.5):
        self.client, self.mode, self.budget = client, mode, budget
        self.review_threshold = review_threshold

    # ------------------------------------------------------------------ fingerprints

    def file_fingerprint(self, db: BDneXDB, path: Path, file_hash: str | None) -> tuple[CoverFingerprint, str] | str:
        """The file's cover fingerprint (kept per content hash), or why there is none."""
        if file_hash:
            kept = db.covers.file_cover(file_hash)
            known = CoverFingerprint.from_text(kept) if kept else None
            if known is not None:
                return known, "kept from an earlier run"
        try:
            cover = archive_cover(path)
        except CoverImageError as exc:
            return f"the file's cover page is {exc}"
        except (BdnexError, OSError) as exc:
            return f"the file's pages cannot be read ({exc})"
        if cover is None:
            return "the file has no image page"
        if file_hash:
            db.covers.keep_file_cover(file_hash, cover.fingerprint.to_text(), f"{cover.page} ({cover.why})")
        return cover.fingerprint, f"{cover.page} ({cover.why})"

    def album_fingerprint(self, db: BDneXDB, album_id: int) -> CoverFingerprint | str:
        """The album's cover fingerprint (kept per album), fetched politely when unknown; or why not."""
        kept = db.covers.album_cover(album_id)
        known = CoverFingerprint.from_text(kept) if kept else None
        if known is not None:
            return known
        cached = db.albums.latest(album_id) or {}
        url = cached.get("cover_url") or None
        disk = self.client.data_dir / "covers" / f"{album_id}.jpg"
        if disk.is_file():
            data = disk.read_bytes()
            self.budget.cached += 1
        else:
            if self.budget.stopped:
                return self.budget.stopped
            if not self.budget.take():
                return f"the run's cover budget of {self.budget.limit} requests is spent (matching.cover_budget)"
            try:
                # the URL's path on the configured site (the cache may hold the public host's URL)
                data = self.client.get_cover(self.client.absolute(urlparse(url).path.lstrip("/")) if url else album_id)
            except BdnexError as exc:
                if exc.stops_run:  # blocked, or the hourly cap: no more covers this run (the name decides)
                    self.budget.stopped = f"the site cannot be asked now: {exc}"
                    return self.budget.stopped
                return f"the cover could not be fetched: {exc}"
            write_to_cache(disk, data)
        try:
            fingerprint = fingerprint_bytes(data, reference=True)
        except CoverImageError as exc:
            return f"the site's cover is {exc}"
        db.covers.keep_album_cover(album_id, fingerprint.to_text(), url)
        return fingerprint

    def compare(self, db: BDneXDB, file_cover: CoverFingerprint, album_ids: list[int]) -> dict[int, CoverLine]:
        lines = {}
        for album_id in album_ids:
            album = self.album_fingerprint(db, album_id)
            if isinstance(album, str):
                lines[album_id] = CoverLine(album_id, not_compared=album)
            else:
                lines[album_id] = CoverLine(album_id, compare(file_cover, album))
        return lines

    # ------------------------------------------------------------------ one file

    def wanted(self, result: Any, *, edition_said: bool) -> list[int]:
        """The albums whose covers can change this match's decision, by ``matching.cover_check``."""
        best = result.best
        if self.mode == "never" or best is None:
            return []
        if result.decision == Decision.ACCEPT:
            group = [best.album_id, *sorted(best.editions)][:MAX_EDITIONS_COMPARED]
            if self.mode == "always" or (len(group) > 1 and not edition_said):
                return group
            return []
        if result.decision == Decision.REVIEW:
            open_ones = [candidate for candidate in result.candidates if not candidate.contradicted]
            return [candidate.album_id for candidate in open_ones[:MAX_CANDIDATES_COMPARED]]
        return []

    def check(
        self, db: BDneXDB, path: Path | None, file_hash: str | None, result: Any, *, edition_said: bool
    ) -> CoverDecision | None:
        """Compare the covers this match needs (``None``: none needed) and say what they decide."""
        wanted = self.wanted(result, edition_said=edition_said)
        if not wanted:
            return None
        if path is None:
            lines = {album_id: CoverLine(album_id, not_compared="no local file to read") for album_id in wanted}
            return CoverDecision(lines)
        file_cover = self.file_fingerprint(db, path, file_hash)
        if isinstance(file_cover, str):
            return CoverDecision({album_id: CoverLine(album_id, not_compared=file_cover) for album_id in wanted})
        fingerprint, why = file_cover
        lines = self.compare(db, fingerprint, wanted)
        decision = cover_decision(result, lines, self.review_threshold, confirm=self.mode == "always")
        decision.file_cover = why
        return decision


def cover_decision(
    result: Any, lines: dict[int, CoverLine], review_threshold: float = 0.5, *, confirm: bool = False
) -> CoverDecision:
    """What the compared covers decide (see the module docstring); pure."""
    decision = CoverDecision(lines)
    best = result.best
    verdicts = {album_id: line.comparison.verdict for album_id, line in lines.items() if line.comparison is not None}
    if result.decision == Decision.ACCEPT and best is not None:
        decision.same_cover = frozenset(album_id for album_id, verdict in verdicts.items() if verdict == Verdict.SAME)
        if confirm and verdicts and all(verdict == Verdict.DIFFERENT for verdict in verdicts.values()):
            closest = min(
                (line for line in lines.values() if line.comparison is not None),
                key=lambda line: line.comparison.distance if line.comparison is not None else 0,
            )
            decision.block = (
                f"the name says album {best.album_id}, but the file's cover is not its cover "
                f"({closest.text()}, album {closest.album_id})"
            )
        return decision
    if result.decision == Decision.REVIEW:
        same = [album_id for album_id, verdict in verdicts.items() if verdict == Verdict.SAME]
        if len(same) != 1:
            return decision
        chosen = next((candidate for candidate in result.candidates if candidate.album_id == same[0]), None)
        if chosen is None or chosen.contradicted or chosen.score < review_threshold:
            return decision
        if all(cap.startswith(OPEN_CAPS) for cap in chosen.caps):
            decision.accept = chosen.album_id
    return decision
