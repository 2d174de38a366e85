"""The states things can be in, as enums (``StrEnum``: each member is also its string, so rows
written before these enums existed, JSON logs and SQL comparisons keep working).

One vocabulary per concept; translations between them live here, nowhere else. A file whose match
needs a person is ``waiting`` wherever it is told (its record, its session, the review queue);
``skipped`` only ever means "left as it was".
"""

from __future__ import annotations

from enum import StrEnum


class FileStatus(StrEnum):
    """``processed_files.status``: what the database knows of a file."""

    SUCCESS = "success"  # tagged automatically
    MANUAL = "manual"  # tagged with an album a person chose
    WAITING = "waiting"  # its match waits for a person (in the review queue)
    SKIPPED = "skipped"  # left as is (no usable candidate, undone, ...)
    FAILED = "failed"


class SessionStatus(StrEnum):
    """``processing_sessions.status``."""

    RUNNING = "running"
    PAUSED = "paused"  # stopped on purpose or because the site was unusable: resumable
    COMPLETED = "completed"
    FAILED = "failed"


class SessionFileState(StrEnum):
    """``session_files.state``: where one file of a session stands."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    WAITING = "waiting"  # its match waits for a person (in the review queue)


class ReviewStatus(StrEnum):
    """``review_queue.status``: where a file's entry in the review queue stands."""

    WAITING = "waiting"  # a person has not decided yet
    SKIPPED = "skipped"  # a person passed it over: listed apart (``review --skipped``), reviewable again
    RESOLVED = "resolved"  # a person chose its album


class Decision(StrEnum):
    """How a file's album was decided (``processed_files.decision``; matching gives the first three)."""

    ACCEPT = "accept"  # good enough to be written automatically
    REVIEW = "review"  # a person must decide
    NONE = "none"  # no usable candidate
    MANUAL = "manual"  # a person chose the album


class OutcomeState(StrEnum):
    """What happened to one item in a run (``Outcome.state``)."""

    DONE = "done"
    WAITING = "waiting"  # left for a person: in the review queue
    SKIPPED = "skipped"
    FAILED = "failed"
    REVIEW = "review"  # transient: a person must decide (the runner asks or queues)


class HistorySource(StrEnum):
    """``metadata_history.source``: who made a change."""

    AUTO = "auto"
    MANUAL = "manual"
    API = "api"


def file_status_for(outcome: OutcomeState, *, manual: bool = False) -> FileStatus:
    """The ``processed_files.status`` an outcome is recorded with (``manual``: a person chose)."""
    if outcome == OutcomeState.DONE:
        return FileStatus.MANUAL if manual else FileStatus.SUCCESS
    if outcome == OutcomeState.FAILED:
        return FileStatus.FAILED
    if outcome == OutcomeState.WAITING:
        return FileStatus.WAITING
    return FileStatus.SKIPPED


def session_state_for(outcome: OutcomeState) -> SessionFileState:
    """The ``session_files.state`` of an outcome (``review`` is decided before it is recorded)."""
    if outcome == OutcomeState.REVIEW:
        raise ValueError("a review outcome is asked or queued before it is recorded")
    return SessionFileState(str(outcome))


#: the reason of a file skipped because it was processed before and has not changed since (a run's table
#: counts these as unchanged)
ALREADY_PROCESSED = "already processed, unchanged"
