"""Recognising the pages Bédéthèque serves instead of content: Cloudflare challenges and the IP ban.

By their real markers and their shape, never by a phrase found anywhere: an album titled
"Just a moment..." is an album. A page with content (an album's detail list, a series' info
block, the desktop template's classes) is never a block page, whatever scripts Cloudflare
injected into it; a challenge is recognised by Cloudflare's own markers (the ``cf-mitigated``
header, the challenge form and scripts) or by the challenge page's title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

BAN = re.compile(r"Bloquage de l.IP\s*:?\s*(?P<ip>[0-9a-fA-F.:]+)?", re.IGNORECASE)
# what real pages with content carry (mobile album and series pages, the desktop template)
CONTENT_MARKERS = ('id="album-detail"', "id='album-detail'", 'class="info-serie"', "bdt-edition", "bdt-ah--")
# Cloudflare's own markers: only its challenge pages carry them (not "challenge-platform" alone:
# Cloudflare injects /cdn-cgi/challenge-platform/scripts/jsd/ into normal pages)
CLOUDFLARE_MARKERS = ("cf-browser-verification", "cf_chl_", "cf-chl-", "challenge-platform/h/")
# the whole <title> of Cloudflare's challenge and block pages
CHALLENGE_TITLES = ("just a moment...", "just a moment…", "attention required! | cloudflare", "un instant…")
# generic words: a challenge only with a refusing status or Cloudflare's name on the page
GENERIC_MARKERS = ("captcha", "g-recaptcha", "hcaptcha", "turnstile", "challenge-platform")
TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    kind: Literal["challenge", "ban"]
    detail: str


def detect_block(
    status: int | None, body: str | bytes | None, headers: Mapping[str, str] | None = None
) -> Block | None:
    """A ban page or a challenge, from the status, the headers and the first part of the body; else ``None``."""
    if body is None:
        text = ""
    elif isinstance(body, bytes):
        text = body[:200_000].decode("utf-8", "replace")
    else:
        text = body[:200_000]
    if any(marker in text for marker in CONTENT_MARKERS):
        return None
    ban = BAN.search(text)
    if ban:
        return Block("ban", ban.group("ip") or "your IP address")
    mitigated = next((value for name, value in (headers or {}).items() if name.lower() == "cf-mitigated"), None)
    if mitigated and mitigated.strip().lower() == "challenge":
        return Block("challenge", f"HTTP {status}, cf-mitigated: challenge")
    lowered = text.lower()
    marker = next((marker for marker in CLOUDFLARE_MARKERS if marker in lowered), None)
    if marker:
        return Block("challenge", f"HTTP {status}, page says {marker!r}")
    title = TITLE.search(text)
    if title and " ".join(title.group(1).split()).lower() in CHALLENGE_TITLES:
        return Block("challenge", f"HTTP {status}, page titled {title.group(1).strip()!r}")
    marker = next((marker for marker in GENERIC_MARKERS if marker in lowered), None)
    if marker and (status in (403, 429, 503) or "cloudflare" in lowered):
        return Block("challenge", f"HTTP {status}, page says {marker!r}")
    if status == 403 and "cloudflare" in lowered:
        return Block("challenge", "HTTP 403 from Cloudflare")
    return None
