"""The ``komga`` section of the configuration, read once into a typed object.

Secrets (API key, password, webhook token) come from the environment, the
configuration or a file, in that order. They live only in memory: never logged
(the object's ``repr`` hides them), never written to the database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import ConfigError

if TYPE_CHECKING:
    from bdnex_core.config import Settings

SECTION = "komga"
WRITE_MODES = ("api", "comicinfo")
ENV_API_KEY = "BDNEX_KOMGA_API_KEY"
ENV_PASSWORD = "BDNEX_KOMGA_PASSWORD"
ENV_WEBHOOK_TOKEN = "BDNEX_KOMGA_WEBHOOK_TOKEN"
ENV_URL = "BDNEX_KOMGA_URL"


@dataclass(frozen=True)
class PathMapping:
    komga: str
    local: str


@dataclass(frozen=True)
class KomgaSettings:
    url: str = ""
    email: str | None = None
    api_key: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    webhook_token: str | None = field(default=None, repr=False)
    verify_tls: bool | str = True
    timeout_seconds: float = 30.0
    path_map: tuple[PathMapping, ...] = ()
    write: tuple[str, ...] = ("api",)
    lock_written: bool = False
    overwrite_locked: bool = False
    libraries: tuple[str, ...] = ()
    media_status: tuple[str, ...] = ()
    page_size: int = 500
    download_dir: Path | None = None
    idle_timeout_seconds: float = 120.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    sse_read_timeout_seconds: float = 60.0
    own_write_window_seconds: float = 120.0
    retry_delay_seconds: float = 300.0
    max_attempts: int = 3
    webhook_max_body_bytes: int = 64 * 1024
    workers: int | None = None
    series_thumbnails: bool = True

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
    """Environment first, then the configuration value, then ``<key>_file``."""
    value = os.environ.get(env)
    if value:
        return value.strip()
    if section.get(key):
        return str(section[key]).strip()
    file_name = section.get(f"{key}_file")
    if file_name:
        path = Path(str(file_name)).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"komga.{key}_file: cannot read {path} ({exc.strerror or exc})") from None
    return None


def _strings(section: dict[str, Any], key: str) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if isinstance(value, (str, int)):
        return (str(value),)
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    raise ConfigError(f"invalid configuration at komga.{key}: expected a string or a list of strings")


def _number(section: dict[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"invalid configuration at komga.{key}: expected a number >= 0, got {value!r}")
    return float(value)


def _path_map(section: dict[str, Any]) -> tuple[PathMapping, ...]:
    raw = section.get("path_map") or []
    if isinstance(raw, dict):  # {komga_prefix: local_prefix} is accepted too
        raw = [{"komga": key, "local": value} for key, value in raw.items()]
    if not isinstance(raw, list):
        raise ConfigError("invalid configuration at komga.path_map: expected a list of {komga: PREFIX, local: PREFIX}")
    mappings = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or not entry.get("komga") or not entry.get("local"):
            raise ConfigError(
                f"invalid configuration at komga.path_map.{index}: expected {{komga: PREFIX, local: PREFIX}}"
            )
        mappings.append(PathMapping(str(entry["komga"]), str(Path(str(entry["local"])).expanduser())))
    return tuple(mappings)


def komga_settings(settings: Settings) -> KomgaSettings:
    """Read and check the ``komga`` section (raises :class:`ConfigError` with the key at fault)."""
    section = settings.section(SECTION)
    url = str(os.environ.get(ENV_URL) or section.get("url") or "").rstrip("/")
    write = _strings(section, "write") or ("api",)
    unknown = [mode for mode in write if mode not in WRITE_MODES]
    if unknown:
        raise ConfigError(f"invalid configuration at komga.write: {unknown[0]!r} is not one of: api, comicinfo")
    verify = section.get("verify_tls", True)
    if not isinstance(verify, (bool, str)):
        raise ConfigError("invalid configuration at komga.verify_tls: expected true, false or a CA bundle path")
    page_size = int(section.get("page_size", 500))
    if not 1 <= page_size <= 2000:
        raise ConfigError("invalid configuration at komga.page_size: expected 1 to 2000 (Komga's cap)")
    download_dir = section.get("download_dir")
    workers = section.get("workers")
    return KomgaSettings(
        url=url,
        email=section.get("email") or section.get("username"),
        api_key=_secret(section, "api_key", ENV_API_KEY),
        password=_secret(section, "password", ENV_PASSWORD),
        webhook_token=_secret(section, "webhook_token", ENV_WEBHOOK_TOKEN),
        verify_tls=str(Path(verify).expanduser()) if isinstance(verify, str) else verify,
        timeout_seconds=_number(section, "timeout_seconds", 30.0),
        path_map=_path_map(section),
        write=write,
        lock_written=bool(section.get("lock_written", False)),
        overwrite_locked=bool(section.get("overwrite_locked", False)),
        libraries=_strings(section, "libraries"),
        media_status=tuple(status.upper() for status in _strings(section, "media_status")),
        page_size=page_size,
        download_dir=Path(str(download_dir)).expanduser() if download_dir else None,
        idle_timeout_seconds=_number(section, "idle_timeout_seconds", 120.0),
        reconnect_min_seconds=_number(section, "reconnect_min_seconds", 1.0),
        reconnect_max_seconds=_number(section, "reconnect_max_seconds", 60.0),
        sse_read_timeout_seconds=_number(section, "sse_read_timeout_seconds", 60.0),
        own_write_window_seconds=_number(section, "own_write_window_seconds", 120.0),
        retry_delay_seconds=_number(section, "retry_delay_seconds", 300.0),
        max_attempts=max(1, int(section.get("max_attempts", 3))),
        webhook_max_body_bytes=int(section.get("webhook_max_body_bytes", 64 * 1024)),
        workers=int(workers) if workers else None,
        series_thumbnails=bool(section.get("series_thumbnails", True)),
    )
