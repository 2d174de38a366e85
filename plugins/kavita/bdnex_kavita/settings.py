"""The ``kavita`` section of the configuration: its JSON Schema, and a typed object read from it.

The schema is the one source of the section's keys, types and defaults (the core validates
the file against it and fills the defaults in). The API key comes from ``BDNEX_KAVITA_API_KEY``,
the configuration or ``api_key_file``, in that order; it lives only in memory: never logged,
hidden from ``repr``, masked by ``config show``, never stored in the database.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bdnex_core.errors import ConfigError

if TYPE_CHECKING:
    from bdnex_core.api import Settings

SECTION = "kavita"
ENV_API_KEY = "BDNEX_KAVITA_API_KEY"
ENV_URL = "BDNEX_KAVITA_URL"
WRITE_MODES = ("api", "comicinfo")

_TOKEN_PATTERN = "^[!-~]+$"  # goes into a query string and a JSON body: printable ASCII, no spaces
_URL_PATTERN = "^https?://[^\\s/?#@]+(/[^\\s?#]*)?$"
_SECONDS = {"type": "number", "minimum": 0, "maximum": 86400}
_ID = {"type": ["string", "integer"], "maximum": 2**31 - 1}  # Kavita's ids are 32-bit
_STRINGS = {"anyOf": [_ID, {"type": "array", "items": _ID}]}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {
            "type": "string",
            "default": "",
            "anyOf": [{"const": ""}, {"pattern": _URL_PATTERN}],
            "x-message": "expected an http(s) URL such as http://localhost:5000",
        },
        "api_key": {
            "type": ["string", "null"],
            "default": None,
            "pattern": _TOKEN_PATTERN,
            "x-secret": True,
            "x-message": "expected printable ASCII without spaces or line breaks (value not shown)",
        },
        "api_key_file": {"type": ["string", "null"], "default": None},
        "plugin_name": {"type": "string", "minLength": 1, "maxLength": 64, "default": "bdnex-core"},
        "verify_tls": {"type": ["boolean", "string"], "default": True},
        "timeout_seconds": {**_SECONDS, "exclusiveMinimum": 0, "default": 30.0},
        "path_map": {
            "default": [],
            "anyOf": [
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kavita", "local"],
                        "additionalProperties": False,
                        "properties": {
                            "kavita": {"type": "string", "minLength": 1},
                            "local": {"type": "string", "minLength": 1},
                        },
                    },
                },
                {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
            ],
            "x-message": "expected a list of {kavita: PREFIX, local: PREFIX}",
        },
        "write": {
            "default": ["api"],
            "anyOf": [
                {"type": "string", "enum": list(WRITE_MODES)},
                {"type": "array", "items": {"type": "string", "enum": list(WRITE_MODES)}},
            ],
            "x-message": "expected api, comicinfo, or a list of them",
        },
        "libraries": {**_STRINGS, "default": [], "description": "library names or ids (default: all)"},
        "lock_written": {"type": "boolean", "default": False},
        "overwrite_locked": {"type": "boolean", "default": False},
        "covers": {
            "type": "boolean",
            "default": False,
            "description": "upload the Bédéthèque cover as the chapter's cover (never over a locked one)",
        },
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
        "workers": {"type": ["integer", "null"], "minimum": 1, "maximum": 64, "default": None},
        "settle_seconds": {**_SECONDS, "default": 10.0},
        "reconnect_min_seconds": {**_SECONDS, "default": 1.0},
        "reconnect_max_seconds": {**_SECONDS, "default": 60.0},
        "hub_timeout_seconds": {**_SECONDS, "exclusiveMinimum": 0, "default": 30.0},
        "retry_delay_seconds": {**_SECONDS, "default": 300.0},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 3},
    },
}


def _default(key: str) -> Any:
    return copy.deepcopy(SCHEMA["properties"][key]["default"])


@dataclass(frozen=True)
class PathMapping:
    kavita: str
    local: str


@dataclass(frozen=True)
class KavitaSettings:
    url: str = _default("url")
    api_key: str | None = field(default=None, repr=False)
    plugin_name: str = _default("plugin_name")
    verify_tls: bool | str = _default("verify_tls")
    timeout_seconds: float = _default("timeout_seconds")
    path_map: tuple[PathMapping, ...] = ()
    write: tuple[str, ...] = tuple(_default("write"))
    libraries: tuple[str, ...] = ()
    lock_written: bool = _default("lock_written")
    overwrite_locked: bool = _default("overwrite_locked")
    covers: bool = _default("covers")
    page_size: int = _default("page_size")
    workers: int | None = None
    settle_seconds: float = _default("settle_seconds")
    reconnect_min_seconds: float = _default("reconnect_min_seconds")
    reconnect_max_seconds: float = _default("reconnect_max_seconds")
    hub_timeout_seconds: float = _default("hub_timeout_seconds")
    retry_delay_seconds: float = _default("retry_delay_seconds")
    max_attempts: int = _default("max_attempts")

    @property
    def writes_api(self) -> bool:
        return "api" in self.write

    @property
    def writes_comicinfo(self) -> bool:
        return "comicinfo" in self.write


def _api_key(section: dict[str, Any]) -> str | None:
    """Environment first, then ``api_key``, then ``api_key_file``; checked as the schema checks it."""
    where, value = "kavita.api_key", os.environ.get(ENV_API_KEY)
    if value:
        where = ENV_API_KEY
    elif section.get("api_key"):
        value = str(section["api_key"])
    elif section.get("api_key_file"):
        path = Path(str(section["api_key_file"])).expanduser()
        where = "kavita.api_key_file"
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(f"invalid configuration at {where}: cannot read {path} ({reason})") from None
    value = (value or "").strip()
    if not value:
        return None
    prop = SCHEMA["properties"]["api_key"]
    if not re.fullmatch(prop["pattern"], value):
        raise ConfigError(f"invalid configuration at {where}: {prop['x-message']}")
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str | int) else tuple(str(item) for item in value)


def _path_map(raw: list[dict[str, str]] | dict[str, str]) -> tuple[PathMapping, ...]:
    if isinstance(raw, dict):  # {kavita_prefix: local_prefix} is accepted too
        raw = [{"kavita": key, "local": value} for key, value in raw.items()]
    return tuple(PathMapping(entry["kavita"], str(Path(entry["local"]).expanduser())) for entry in raw)


def _checked_url(url: str, where: str) -> str:
    url = url.rstrip("/")
    if not url:
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number or out of range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
        raise ConfigError(f"invalid configuration at {where}: {SCHEMA['properties']['url']['x-message']}")
    return url


def kavita_settings(settings: Settings) -> KavitaSettings:
    """The ``kavita`` section (validated and completed by the core against :data:`SCHEMA`) as a typed object."""
    section = {key: _default(key) for key in SCHEMA["properties"]} | settings.section(SECTION)
    env_url = os.environ.get(ENV_URL)
    url = _checked_url(env_url, ENV_URL) if env_url else _checked_url(section["url"], "kavita.url")
    verify = section["verify_tls"]
    return KavitaSettings(
        url=url,
        api_key=_api_key(section),
        plugin_name=section["plugin_name"],
        verify_tls=str(Path(verify).expanduser()) if isinstance(verify, str) else verify,
        timeout_seconds=float(section["timeout_seconds"]),
        path_map=_path_map(section["path_map"]),
        write=_strings(section["write"]) or tuple(_default("write")),
        libraries=_strings(section["libraries"]),
        lock_written=section["lock_written"],
        overwrite_locked=section["overwrite_locked"],
        covers=section["covers"],
        page_size=section["page_size"],
        workers=section["workers"],
        settle_seconds=float(section["settle_seconds"]),
        reconnect_min_seconds=float(section["reconnect_min_seconds"]),
        reconnect_max_seconds=float(section["reconnect_max_seconds"]),
        hub_timeout_seconds=float(section["hub_timeout_seconds"]),
        retry_delay_seconds=float(section["retry_delay_seconds"]),
        max_attempts=section["max_attempts"],
    )
