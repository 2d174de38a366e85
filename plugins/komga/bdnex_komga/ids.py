"""Komga ids from outside (events, webhook bodies, Komga's own answers) checked before use.

Komga names books, series and libraries with TSIDs: 13 characters of Crockford's base 32,
upper case (``0HT4VCG8Z1P5N``). An id is put into a URL path, so anything else (``..``,
``/``, ``?``, ``#``, spaces) could reach another endpoint or inject a query: such ids are
refused here, and the accepted ones are still quoted when a URL is built.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard
from urllib.parse import quote

from bdnex_komga.errors import InvalidKomgaId

KOMGA_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{13}")


def is_komga_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and KOMGA_ID.fullmatch(value) is not None


def checked_id(value: Any, what: str = "id") -> str:
    """``value`` when it is a Komga id; :class:`InvalidKomgaId` naming it otherwise."""
    if not is_komga_id(value):
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise InvalidKomgaId(f"{shown} is not a Komga {what} (13 characters, 0-9 and A-Z without I, L, O, U)")
    return str(value)


def id_segment(value: Any, what: str = "id") -> str:
    """A checked id, quoted for a URL path (a no-op for valid ids: quoting is the second guard)."""
    return quote(checked_id(value, what), safe="")
