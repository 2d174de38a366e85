"""Test code of the Komga plugin, not shipped in its wheel: the stand-in Komga server (:mod:`.standin`), tiny CBZ files
(:mod:`.archives`) and an event-stream recorder (:mod:`.sse`)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # lazy, so ``python -m komga_standin.standin`` does not import the module twice
    if name == "KomgaStandIn":
        from komga_standin.standin import KomgaStandIn

        return KomgaStandIn
    raise AttributeError(name)


__all__ = ["KomgaStandIn"]
