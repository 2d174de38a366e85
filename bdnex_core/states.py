"""The states things can be in, as enums (``StrEnum``: each member is also its string, so rows
written before these enums existed, JSON logs and SQL comparisons keep working).

One vocabulary per concept; translations between them live here, nowhere else.
"""

from __future__ import annotations

from enum import StrEnum


class FileStatus(StrEnum):
    """``processed_files.status``: what the database knows of a file."""

    SUCCESS = "success"  # tagged automatically
    MANUAL = "manual"  # tagged with an album a person chose
    SKIPPED = "skipped"  # left as is (waiting in the review queue, skipped by a person, ...)
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
    QUEUED = "queued"


class Decision(StrEnum):
    """How a file's album was decided (``processed_files.decision``; matching gives the first three)."""

    ACCEPT = "accept"  # good enough to be written automatically
    REVIEW = "review"  # a person must decide
    NONE = "none"  # no usable candidate
    MANUAL = "manual"  # a person chose the album


class OutcomeState(StrEnum):
    """What happened to one item in a run (``Outcome.state``)."""

    DONE = "done"
    QUEUED = "queued"
    SKIPPED = "skipped"
    FAILED = "failed"
    REVIEW = "review"  # transient: a person must decide (the runner asks or queues)


class HistorySource(StrEnum):
    """``metadata_history.source``: who made a change."""

    AUTO = "auto"
    MANUAL = "manual"
    API = "api"
