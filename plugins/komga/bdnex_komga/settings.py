"""The ``komga`` section of the configuration: its JSON Schema, and a typed object read from it.

The schema is the one source of the section's keys, types and defaults: the core
validates the whole configuration file against it (a typo or a wrong type is a config
error naming the key) and fills its defaults in; the dataclass below takes its defaults
from it too. Secrets (API key, password, webhook token) come from the environment, the
configuration or a file, in that order. They live only in memory: never logged (the
object's ``repr`` hides them, ``config show`` masks them), never written to the database.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bdnex_core.api import read_regular_file
from bdnex_core.errors import ConfigError

if TYPE_CHECKING:
    from bdnex_core.api import Settings

SECTION = "komga"
WRITE_MODES = ("api", "comicinfo")
ENV_API_KEY = "BDNEX_KOMGA_API_KEY"
ENV_PASSWORD = "BDNEX_KOMGA_PASSWORD"
ENV_WEBHOOK_TOKEN = "BDNEX_KOMGA_WEBHOOK_TOKEN"
ENV_URL = "BDNEX_KOMGA_URL"

# An API key or token goes into an HTTP header: printable ASCII only (a line break would be a header injection).
_TOKEN_PATTERN = "^[!-~]+$"
# requests encodes Basic credentials as latin-1: printable latin-1 only
_LATIN1_PATTERN = "^[ -~\u00a0-\u00ff]*$"
_URL_PATTERN = "^https?://[^\\s/?#@]+(/[^\\s?#]*)?$"
_STRINGS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
# a day at most: no wait of ours is longer, and a bound keeps 1e308 or .inf out of time arithmetic
_SECONDS = {"type": "number", "minimum": 0, "maximum": 86400}
_SECRET_TOKEN = {
    "type": ["string", "null"],
    "default": None,
    "pattern": _TOKEN_PATTERN,
    "x-secret": True,
    "x-message": "expected printable ASCII without spaces or line breaks (value not shown)",
}
_LATIN1_MESSAGE = "expected printable latin-1 characters (value not shown)"
MAX_SECRET_FILE_BYTES = 64 * 1024  # a key or a password, with room to spare

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {
            "type": "string",
            "default": "",
            "anyOf": [{"const": ""}, {"pattern": _URL_PATTERN}],
            "x-message": "expected an http(s) URL such as http://localhost:25600",
        },
        "email": {"type": ["string", "null"], "default": None},
        "username": {"type": ["string", "null"], "default": None, "description": "another name for email"},
        "api_key": _SECRET_TOKEN,
        "api_key_file": {"type": ["string", "null"], "default": None},
        "password": {**_SECRET_TOKEN, "pattern": _LATIN1_PATTERN, "x-message": _LATIN1_MESSAGE},
        "password_file": {"type": ["string", "null"], "default": None},
        "webhook_token": _SECRET_TOKEN,
        "webhook_token_file": {"type": ["string", "null"], "default": None},
        "verify_tls": {"type": ["boolean", "string"], "default": True},
        "timeout_seconds": {**_SECONDS, "exclusiveMinimum": 0, "default": 30.0},
        "path_map": {
            "default": [],
            "anyOf": [
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["komga", "local"],
                        "additionalProperties": False,
                        "properties": {
                            "komga": {"type": "string", "minLength": 1},
                            "local": {"type": "string", "minLength": 1},
                        },
                    },
                },
                {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
            ],
            "x-message": "expected a list of {komga: PREFIX, local: PREFIX}",
        },
        "write": {
            "default": ["api"],
            "anyOf": [
                {"type": "string", "enum": ["api", "comicinfo"]},
                {"type": "array", "items": {"type": "string", "enum": ["api", "comicinfo"]}},
            ],
            "x-message": "expected api, comicinfo, or a list of them",
        },
        "lock_written": {"type": "boolean", "default": False},
        "overwrite_locked": {"type": "boolean", "default": False},
        "series_thumbnails": {
            "type": "boolean",
            "default": True,
            "description": "upload a series cover when the series has none",
        },
        "libraries": {**_STRINGS, "default": []},
        "media_status": {**_STRINGS, "default": []},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 2000, "default": 500},
        "download_dir": {"type": ["string", "null"], "default": None},
        "idle_timeout_seconds": {**_SECONDS, "default": 120.0},
        "reconnect_min_seconds": {**_SECONDS, "default": 1.0},
        "reconnect_max_seconds": {**_SECONDS, "default": 60.0},
        "sse_read_timeout_seconds": {**_SECONDS, "default": 60.0},
        "own_write_window_seconds": {**_SECONDS, "default": 120.0},
        "retry_delay_seconds": {**_SECONDS, "default": 300.0},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 3},
        "webhook_max_body_bytes": {
            "type": "integer",
            "minimum": 1024,
            "maximum": 64 * 1024 * 1024,
            "default": 64 * 1024,
        },
        "workers": {"type": ["integer", "null"], "minimum": 1, "maximum": 64, "default": None},
    },
}


def _default(key: str) -> Any:
    return copy.deepcopy(SCHEMA["properties"][key]["default"])


@dataclass(frozen=True)
class PathMapping:
    komga: str
    local: str


@dataclass(frozen=True)
class KomgaSettings:
    url: str = _default("url")
    email: str | None = None
    api_key: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    webhook_token: str | None = field(default=None, repr=False)
    verify_tls: bool | str = _default("verify_tls")
    timeout_seconds: float = _default("timeout_seconds")
    path_map: tuple[PathMapping, ...] = ()
    write: tuple[str, ...] = tuple(_default("write"))
    lock_written: bool = _default("lock_written")
    overwrite_locked: bool = _default("overwrite_locked")
    series_thumbnails: bool = _default("series_thumbnails")
    libraries: tuple[str, ...] = ()
    media_status: tuple[str, ...] = ()
    page_size: int = _default("page_size")
    download_dir: Path | None = None
    idle_timeout_seconds: float = _default("idle_timeout_seconds")
    reconnect_min_seconds: float = _default("reconnect_min_seconds")
    reconnect_max_seconds: float = _default("reconnect_max_seconds")
    sse_read_timeout_seconds: float = _default("sse_read_timeout_seconds")
    own_write_window_seconds: float = _default("own_write_window_seconds")
    retry_delay_seconds: float = _default("retry_delay_seconds")
    max_attempts: int = _default("max_attempts")
    webhook_max_body_bytes: int = _default("webhook_max_body_bytes")
    workers: int | None = None

    @property
    def auth_kind(self) -> str:
        if self.api_key:
            return "api key"
        if self.email and self.password:
            return f"user {self.email}"
        return "none"

    @property
    def writes_api(self) -> bool:
        return "api" in self.write

    @property
    def writes_comicinfo(self) -> bool:
        return "comicinfo" in self.write


def _secret(section: dict[str, Any], key: str, env: str) -> str | None:
    """Environment first, then the configuration value, then ``<key>_file``; checked like the schema checks it."""
    where = f"komga.{key}"
    value = os.environ.get(env)
    if value:
        where = env
    elif section.get(key):
        value = str(section[key])
    elif section.get(f"{key}_file"):
        path = Path(str(section[f"{key}_file"])).expanduser()
        where = f"komga.{key}_file"
        try:
            # a FIFO or a device named here is refused, never waited on or read without end
            value = read_regular_file(path, MAX_SECRET_FILE_BYTES).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(f"invalid configuration at {where}: cannot read {path} ({reason})") from None
    value = (value or "").strip()
    if not value:
        return None
    prop = SCHEMA["properties"][key]
    if not re.fullmatch(prop["pattern"], value):
        raise ConfigError(f"invalid configuration at {where}: {prop['x-message']}")
    return value


def _strings(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _path_map(raw: list[dict[str, str]] | dict[str, str]) -> tuple[PathMapping, ...]:
    if isinstance(raw, dict):  # {komga_prefix: local_prefix} is accepted too
        raw = [{"komga": key, "local": value} for key, value in raw.items()]
    return tuple(PathMapping(entry["komga"], str(Path(entry["local"]).expanduser())) for entry in raw)


def _checked_url(url: str, where: str) -> str:
    """The URL as the schema would check it (``BDNEX_KOMGA_URL`` is not in the file the schema
    validates): a space or a line break in it is refused here, not by requests in the middle of a run."""
    url = url.rstrip("/")
    if not url:
        return url
    if not re.fullmatch(_URL_PATTERN, url):
        raise ConfigError(f"invalid configuration at {where}: {SCHEMA['properties']['url']['x-message']}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number or out of range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
        raise ConfigError(f"invalid configuration at {where}: {SCHEMA['properties']['url']['x-message']}")
    return url


def komga_settings(settings: Settings) -> KomgaSettings:
    """The ``komga`` section (validated and completed by the core against :data:`SCHEMA`) as a typed object."""
    section = {key: _default(key) for key in SCHEMA["properties"]} | settings.section(SECTION)
    url = _checked_url(*((os.environ[ENV_URL], ENV_URL) if os.environ.get(ENV_URL) else (section["url"], "komga.url")))
    verify = section["verify_tls"]
    download_dir = section["download_dir"]
    return KomgaSettings(
        url=url,
        email=section["email"] or section["username"],
        api_key=_secret(section, "api_key", ENV_API_KEY),
        password=_secret(section, "password", ENV_PASSWORD),
        webhook_token=_secret(section, "webhook_token", ENV_WEBHOOK_TOKEN),
        verify_tls=str(Path(verify).expanduser()) if isinstance(verify, str) else verify,
        timeout_seconds=float(section["timeout_seconds"]),
        path_map=_path_map(section["path_map"]),
        write=_strings(section["write"]) or tuple(_default("write")),
        lock_written=section["lock_written"],
        overwrite_locked=section["overwrite_locked"],
        series_thumbnails=section["series_thumbnails"],
        libraries=_strings(section["libraries"]),
        media_status=tuple(status.upper() for status in _strings(section["media_status"])),
        page_size=section["page_size"],
        download_dir=Path(str(download_dir)).expanduser() if download_dir else None,
        idle_timeout_seconds=float(section["idle_timeout_seconds"]),
        reconnect_min_seconds=float(section["reconnect_min_seconds"]),
        reconnect_max_seconds=float(section["reconnect_max_seconds"]),
        sse_read_timeout_seconds=float(section["sse_read_timeout_seconds"]),
        own_write_window_seconds=float(section["own_write_window_seconds"]),
        retry_delay_seconds=float(section["retry_delay_seconds"]),
        max_attempts=section["max_attempts"],
        webhook_max_body_bytes=section["webhook_max_body_bytes"],
        workers=section["workers"],
    )
