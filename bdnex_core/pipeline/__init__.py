"""The tagging pipeline: sessions, workers, one writer, resume, review.

The names below are imported from their modules on first use (PEP 562): importing one module of the
pipeline (``pipeline.options``) never loads the runner, the database and the archive code with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bdnex_core.pipeline.options import TagOptions
    from bdnex_core.pipeline.runner import (
        RunSummary,
        TagRun,
        collect_items,
        resume_tagging,
        run_tagging,
        tag_locations,
    )
    from bdnex_core.pipeline.steps import Outcome

_MODULE_OF = {
    "Outcome": "steps",
    "RunSummary": "runner",
    "TagOptions": "options",
    "TagRun": "runner",
    "collect_items": "runner",
    "resume_tagging": "runner",
    "run_tagging": "runner",
    "tag_locations": "runner",
}
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


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
