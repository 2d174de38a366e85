"""Where the developers' shared fixtures are (``../shared`` beside the checkout, or ``BDNEX_SHARED_DIR``).

Test code only (no pytest here, so benchmarks can use it too). A clone without that folder runs
every test that does not need real recorded data: the fake site falls back to its generated catalogue.
"""

from __future__ import annotations

import os
from pathlib import Path

from bdnex_core.demo.fakesite import FakeBedetheque

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("BDNEX_SHARED_DIR", REPO_ROOT.parent / "shared"))
RECORDED_BEDETHEQUE = SHARED_DIR / "fixtures" / "bedetheque"


def real_sitemaps() -> list[Path]:
    """The recorded album sitemaps of Bédéthèque; empty when the shared fixtures are absent."""
    folder = RECORDED_BEDETHEQUE / "sitemaps"
    return sorted(folder.glob("albums_*_map.xml")) if folder.is_dir() else []


def fake_bedetheque(*, port: int = 0, network_delay: float = 0.0) -> FakeBedetheque:
    """The fake site on the real sitemaps and recorded pages when present, else on the generated catalogue."""
    sitemaps = real_sitemaps()
    recorded = RECORDED_BEDETHEQUE if sitemaps else None
    return FakeBedetheque(sitemaps or None, recorded=recorded, port=port, network_delay=network_delay)
