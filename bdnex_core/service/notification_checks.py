"""The ``notifications`` section checked when the configuration loads: its templates' fields, its URLs.

Below :mod:`bdnex_core.config` (which calls :func:`config_problems` once the schema holds) and
:mod:`bdnex_core.service.notifications` (which sends): the schema's default templates are passed in,
so this module imports neither.
"""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECTION = "notifications"
URLS_VARIABLE = "BDNEX_NOTIFY_URLS"
RUN, PAUSED, RESUMED = "run", "paused", "resumed"
# the placeholders each message may use (anything else in a template is refused at start)
FIELDS: dict[str, frozenset[str]] = {
    RUN: frozenset(
        # "queued": the former name of "waiting", still understood in templates written with it
        {"session", "status", "tagged", "waiting", "queued", "skipped", "failed", "unchanged", "message"}
        | {"review", "review_url", "failures", "host"}
    ),
    PAUSED: frozenset({"reason", "host"}),
    RESUMED: frozenset({"reason", "paused_for", "host"}),
}


def templates(section: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Each message's (title, body): the configuration's, else the schema's default (``defaults``), part by part."""
    configured = section.get("templates") or {}
    result = {}
    for event in FIELDS:
        mine = configured.get(event) or {}
        result[event] = (
            mine.get("title", defaults[event]["title"]),
            mine.get("body", defaults[event]["body"]),
        )
    return result


def all_urls(section: Mapping[str, Any]) -> list[str]:
    """The configured URLs, those of ``urls_file`` (one a line, ``#`` comments) and of ``BDNEX_NOTIFY_URLS``.
    Raises ``OSError`` when ``urls_file`` cannot be read."""
    urls = [str(url) for url in section.get("urls") or ()]
    if section.get("urls_file"):
        text = Path(section["urls_file"]).read_text("utf-8")
        urls += [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    urls += os.environ.get(URLS_VARIABLE, "").split()
    return urls


# ---------------------------------------------------------------------- checked at start


def _placeholders(template: str) -> list[str]:
    """The ``{names}`` of a template; ``ValueError`` for a malformed one."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def shown_url(url: str) -> str:
    """A URL as an error line may show it: its scheme only (the rest often holds a token)."""
    scheme, separator, _ = url.partition("://")
    return f"{scheme}://…" if separator else repr(url[:12] + ("…" if len(url) > 12 else ""))


def config_problems(section: Any, default_templates: Mapping[str, Any]) -> list[str]:
    """What is wrong with a ``notifications`` section, one line each (empty when it is usable)."""
    if not isinstance(section, dict):
        return []  # the schema said it already
    problems: list[str] = []
    for event, (title, body) in templates(section, default_templates).items():
        for part, text in (("title", title), ("body", body)):
            where = f"{SECTION}.templates.{event}.{part}"
            try:
                names = _placeholders(text)
            except ValueError as exc:
                problems.append(f"{where}: not a template ({exc}); write {{{{ and }}}} for a brace")
                continue
            unknown = sorted({name for name in names if name not in FIELDS[event]})
            if unknown:
                problems.append(f"{where}: unknown field {{{unknown[0]}}} (fields: {', '.join(sorted(FIELDS[event]))})")
    try:
        urls = all_urls(section)
    except OSError as exc:
        return [*problems, f"{SECTION}.urls_file: cannot read it ({exc.strerror or exc})"]
    if not urls:
        return problems
    try:
        apprise = apprise_module()
    except ImportError:
        return [*problems, f"{SECTION}.urls: Apprise is not installed (pip install 'bdnex-core[notify]')"]
    configured = len(section.get("urls") or ())
    for position, url in enumerate(urls):
        if quietly_instantiate(apprise, url) is None:
            where = (
                f"{SECTION}.urls[{position}]" if position < configured else f"{SECTION}.urls_file or {URLS_VARIABLE}"
            )
            problems.append(f"{where}: {shown_url(url)} is not a notification URL Apprise can use")
    return problems


def apprise_module() -> Any:
    """Apprise, imported where a URL is checked or a message sent; ``ImportError`` when not installed."""
    import apprise  # lazy: the optional [notify] extra, and heavy; only where URLs are configured

    return apprise


def quietly_instantiate(apprise: Any, url: str) -> Any:
    """Apprise's service for ``url``, or None; Apprise's own log lines about it are held back (they may
    quote the URL, token included: the one line of :func:`config_problems` says what is wrong)."""
    apprise_logger = logging.getLogger("apprise")
    level = apprise_logger.level
    apprise_logger.setLevel(logging.CRITICAL + 1)
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    finally:
        apprise_logger.setLevel(level)
