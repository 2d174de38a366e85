"""Typed settings, loaded once from one YAML file and passed down.

Precedence for the file: ``--config`` > ``BDNEX_CONFIG`` > the platform default
(``~/.config/bdnex/config.yaml`` on Linux). For the database path:
``--db`` > ``BDNEX_DB`` > ``database.path`` in the file.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bdnex_core import paths
from bdnex_core.errors import ConfigError


@cache
def config_schema() -> dict[str, Any]:
    text = resources.files("bdnex_core").joinpath("config_schema.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class DatabaseSettings:
    backend: str = "sqlite"
    path: Path = field(default_factory=paths.default_database_path)
    busy_timeout_ms: int = 30000


@dataclass(frozen=True)
class CacheSettings:
    album_ttl_days: float = 7
    dir: Path = field(default_factory=lambda: paths.user_data_dir() / "cache")


@dataclass(frozen=True)
class CatalogueSettings:
    base_url: str = "https://www.bedetheque.com"
    mobile_base_url: str = "https://m.bedetheque.com"
    min_delay_seconds: float = 2.0
    jitter_seconds: float = 1.0
    max_requests_per_hour: int = 600
    max_retries: int = 4
    timeout_seconds: float = 30
    transport: str = "requests"
    flaresolverr_url: str | None = None
    cookies_file: Path | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class MatchingSettings:
    accept_threshold: float = 0.85
    review_threshold: float = 0.5
    max_candidates: int = 5


@dataclass(frozen=True)
class ComicInfoSettings:
    version: str = "2.1"
    merge_policy: str = "keep_locked"
    locked_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArchiveSettings:
    cbr: str = "convert"
    delete_converted_originals: bool = False
    preserve_mtime: bool = False


@dataclass(frozen=True)
class PipelineSettings:
    workers: int = 2
    logs_dir: Path = field(default_factory=lambda: paths.user_data_dir() / "logs")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated. Plugins read their own section with :meth:`section`."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    catalogue: CatalogueSettings = field(default_factory=CatalogueSettings)
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    comicinfo: ComicInfoSettings = field(default_factory=ComicInfoSettings)
    archives: ArchiveSettings = field(default_factory=ArchiveSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def section(self, name: str) -> dict[str, Any]:
        """The raw mapping of a section (plugins own sections such as ``komga``)."""
        return copy.deepcopy(self.raw.get(name) or {})

    def with_database_path(self, path: str | os.PathLike[str]) -> Settings:
        from dataclasses import replace

        return replace(self, database=replace(self.database, path=paths.expand(path)))


def _error_location(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def validate(data: Any, source: str) -> None:
    """Raise a one-line :class:`ConfigError` naming the key and the problem."""
    validator = jsonschema.Draft202012Validator(config_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        first = errors[0]
        if first.validator == "additionalProperties":
            message = first.message.replace("Additional properties are not allowed", "unknown key")
        else:
            message = first.message
        raise ConfigError(f"invalid configuration at {_error_location(first)}: {message}", path=source)


def _path_or_none(value: str | None) -> Path | None:
    return paths.expand(value) if value else None


def from_mapping(data: dict[str, Any], *, source: Path | None = None) -> Settings:
    """Build settings from an already-parsed mapping (validates it first)."""
    validate(data, str(source) if source else "configuration")
    database = data.get("database", {})
    if database.get("backend", "sqlite") == "postgresql":
        raise ConfigError(
            "invalid configuration at database.backend: 'postgresql' is not supported yet; use 'sqlite' (the default)",
            path=str(source) if source else None,
        )
    cache_section = data.get("cache", {})
    catalogue = dict(data.get("catalogue", {}))
    catalogue["cookies_file"] = _path_or_none(catalogue.get("cookies_file"))
    comicinfo = dict(data.get("comicinfo", {}))
    if "locked_fields" in comicinfo:
        comicinfo["locked_fields"] = tuple(comicinfo["locked_fields"])
    pipeline = dict(data.get("pipeline", {}))
    logs_dir = _path_or_none(pipeline.pop("logs_dir", None))
    if logs_dir:
        pipeline["logs_dir"] = logs_dir
    return Settings(
        database=DatabaseSettings(
            backend="sqlite",
            path=paths.expand(database["path"]) if "path" in database else paths.default_database_path(),
            busy_timeout_ms=database.get("busy_timeout_ms", 30000),
        ),
        cache=CacheSettings(
            album_ttl_days=cache_section.get("album_ttl_days", 7),
            **({"dir": paths.expand(cache_section["dir"])} if cache_section.get("dir") else {}),
        ),
        catalogue=CatalogueSettings(**catalogue),
        matching=MatchingSettings(**data.get("matching", {})),
        comicinfo=ComicInfoSettings(**comicinfo),
        archives=ArchiveSettings(**data.get("archives", {})),
        pipeline=PipelineSettings(**pipeline),
        source=source,
        raw=copy.deepcopy(data),
    )


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, bool]:
    """Return the config path and whether the user named it (then it must exist)."""
    if explicit:
        return paths.expand(explicit), True
    if os.environ.get("BDNEX_CONFIG"):
        return paths.expand(os.environ["BDNEX_CONFIG"]), True
    return paths.default_config_path(), False


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    db_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """Load, validate and return the settings. Raises :class:`ConfigError`."""
    path, named = resolve_config_path(config_path)
    data: Any = {}
    try:
        exists = path.exists()
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration: {exc.strerror}", path=path) from None
    if exists:
        try:
            data = yaml.safe_load(path.read_text("utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise ConfigError(f"not valid YAML{where}: {problem}", path=path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the configuration: {exc}", path=path) from None
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a mapping of sections", path=path)
    elif named:
        raise ConfigError("configuration file not found", path=path)
    settings = from_mapping(data, source=path if exists else None)
    override = db_path or os.environ.get("BDNEX_DB")
    return settings.with_database_path(override) if override else settings


def settings_as_dict(settings: Settings) -> dict[str, Any]:
    """The effective settings (defaults filled in), JSON-friendly, for ``config show``."""
    from dataclasses import asdict, fields

    result: dict[str, Any] = {}
    for item in fields(settings):
        if item.name in {"source", "raw"}:
            continue
        value = asdict(getattr(settings, item.name))
        result[item.name] = {
            k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in value.items()
        }
    for name, section in settings.raw.items():
        result.setdefault(name, section)
    return result
