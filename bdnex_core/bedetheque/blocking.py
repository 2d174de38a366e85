"""Recognising the pages Bédéthèque serves instead of content: Cloudflare challenges and the IP ban."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

BAN = re.compile(r"Bloquage de l.IP\s*:?\s*(?P<ip>[0-9a-fA-F.:]+)?", re.IGNORECASE)
CHALLENGE_MARKERS = (
    "just a moment",
    "cf-browser-verification",
    "challenge-platform",
    "cf_chl_",
    "cf-chl-",
    "attention required! | cloudflare",
    "g-recaptcha",
    "hcaptcha",
    "turnstile",
)


@dataclass(frozen=True)
class Block:
    kind: Literal["challenge", "ban"]
    detail: str


def detect_block(status: int | None, body: str | bytes | None) -> Block | None:
    """A ban page or a challenge, from the status and the first part of the body; else ``None``."""
    if body is None:
        text = ""
    elif isinstance(body, bytes):
        text = body[:200_000].decode("utf-8", "replace")
    else:
        text = body[:200_000]
    ban = BAN.search(text)
    if ban:
        return Block("ban", ban.group("ip") or "your IP address")
    lowered = text.lower()
    marker = next((marker for marker in CHALLENGE_MARKERS if marker in lowered), None)
    # Cloudflare's own markers suffice; generic words (captcha) need a refusing status or Cloudflare's name.
    # (Not "challenge-platform" alone: Cloudflare injects /cdn-cgi/challenge-platform/scripts/jsd/ into normal pages.)
    specific = (
        marker in ("just a moment", "cf-browser-verification", "cf_chl_", "cf-chl-")
        or "challenge-platform/h/" in lowered
    )
    if marker and (specific or status in (403, 429, 503) or "cloudflare" in lowered):
        return Block("challenge", f"HTTP {status}, page says {marker!r}")
    if status == 403 and "cloudflare" in lowered:
        return Block("challenge", "HTTP 403 from Cloudflare")
    return None
