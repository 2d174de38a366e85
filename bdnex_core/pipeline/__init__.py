"""The tagging pipeline: sessions, workers, one writer, resume, review."""

from bdnex_core.pipeline.options import TagOptions
from bdnex_core.pipeline.runner import RunSummary, TagRun, collect_items, resume_tagging, run_tagging, tag_locations
from bdnex_core.pipeline.steps import Outcome

__all__ = [
    "Outcome",
    "RunSummary",
    "TagOptions",
    "TagRun",
    "collect_items",
    "resume_tagging",
    "run_tagging",
    "tag_locations",
]
