"""Test helpers other packages reuse: the stand-in Komga server (:mod:`.standin`), tiny CBZ files
(:mod:`.archives`) and an event-stream recorder (:mod:`.sse`)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # lazy, so ``python -m bdnex_komga.testing.standin`` does not import the module twice
    if name == "KomgaStandIn":
        from bdnex_komga.testing.standin import KomgaStandIn

        return KomgaStandIn
    raise AttributeError(name)


__all__ = ["KomgaStandIn"]
