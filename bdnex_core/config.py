"""Typed settings, loaded once from one YAML file and passed down.

Precedence for the file: ``--config`` > ``BDNEX_CONFIG`` > the platform default
(``~/.config/bdnex/config.yaml`` on Linux). For the database path:
``--db`` > ``BDNEX_DB`` > ``database.path`` in the file.

The JSON Schema is the one source of truth: the core's sections come from
``config_schema.json``, each plugin adds its own through ``register_config_schema``,
and the whole file is validated in one pass. Defaults are the schema's ``default``
values (the dataclasses below read them from there); a value a platform decides (the
data folder) is ``null`` in the schema and comes from :mod:`bdnex_core.paths`. Keys
marked ``"x-secret": true`` (and names such as ``password``, ``api_key``, ``token``)
are masked wherever settings are shown, and invalid ones are reported without their value.
"""

from __future__ import annotations

import copy
import difflib
import errno
import json
import logging
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bdnex_core import paths
from bdnex_core.errors import ConfigError
from bdnex_core.fileio import read_regular_file
from bdnex_core.plugins import config_schemas
from bdnex_core.service import notification_checks

if TYPE_CHECKING:
    import jsonschema

#: a YAML file this large, or expanding (through aliases) to this many values, is refused
MAX_CONFIG_BYTES = 1024 * 1024
MAX_EXPANDED_SIZE = 4 * 1024 * 1024
MASK = "********"
_SECRET_NAME = re.compile(r"(^|_)(key|password|passwd|token|secret)$")


@cache
def config_schema() -> dict[str, Any]:
    """The core's schema (``config_schema.json``), without the plugins' sections."""
    text = resources.files("bdnex_core").joinpath("config_schema.json").read_text("utf-8")
    return json.loads(text)


def _default(section: str, key: str) -> Any:
    return copy.deepcopy(config_schema()["properties"][section]["properties"][key].get("default"))


@dataclass(frozen=True)
class DatabaseSettings:
    backend: str = _default("database", "backend")
    path: Path = field(default_factory=paths.default_database_path)
    busy_timeout_ms: int = _default("database", "busy_timeout_ms")
    reconnect_seconds: float = _default("database", "reconnect_seconds")
    url: str | None = _default("database", "url")
    backups_dir: Path | None = None  # None: <database file>-backups beside it
    backups_keep: int = _default("database", "backups_keep")
    backups_every_hours: float = _default("database", "backups_every_hours")


@dataclass(frozen=True)
class CacheSettings:
    album_ttl_days: float = _default("cache", "album_ttl_days")
    series_ttl_days: float = _default("cache", "series_ttl_days")
    dir: Path = field(default_factory=lambda: paths.user_data_dir() / "cache")


@dataclass(frozen=True)
class CatalogueSettings:
    base_url: str = _default("catalogue", "base_url")
    mobile_base_url: str = _default("catalogue", "mobile_base_url")
    min_delay_seconds: float = _default("catalogue", "min_delay_seconds")
    jitter_seconds: float = _default("catalogue", "jitter_seconds")
    max_delay_seconds: float = _default("catalogue", "max_delay_seconds")
    max_requests_per_hour: int = _default("catalogue", "max_requests_per_hour")
    max_retries: int = _default("catalogue", "max_retries")
    timeout_seconds: float = _default("catalogue", "timeout_seconds")
    transport: str = _default("catalogue", "transport")
    flaresolverr_url: str | None = None
    cookies_file: Path | None = None
    user_agent: str | None = None
    album_pages: str = _default("catalogue", "album_pages")


@dataclass(frozen=True)
class MatchingSettings:
    accept_threshold: float = _default("matching", "accept_threshold")
    review_threshold: float = _default("matching", "review_threshold")
    max_candidates: int = _default("matching", "max_candidates")
    edition: str = _default("matching", "edition")  # original, latest or ask: see matching/editions.py
    cover_check: str = _default("matching", "cover_check")  # doubt, always or never: see covers/check.py
    cover_budget: int = _default("matching", "cover_budget")  # cover requests per run


@dataclass(frozen=True)
class ComicInfoSettings:
    version: str = _default("comicinfo", "version")
    merge_policy: str = _default("comicinfo", "merge_policy")
    locked_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArchiveSettings:
    cbr: str = _default("archives", "cbr")
    delete_converted_originals: bool = _default("archives", "delete_converted_originals")
    preserve_mtime: bool = _default("archives", "preserve_mtime")
    write: str = _default("archives", "write")  # auto | in_place | copy (archives/inplace.py)
    compact_unused_share: float = _default("archives", "compact_unused_share")
    follow_links_outside_library: bool = _default("archives", "follow_links_outside_library")


@dataclass(frozen=True)
class PipelineSettings:
    workers: int = _default("pipeline", "workers")
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
        """The mapping of a section, schema defaults filled in (plugins own sections such as ``komga``)."""
        return copy.deepcopy(self.raw.get(name) or {})

    def with_database_path(self, path: str | os.PathLike[str]) -> Settings:
        """Another database (``--db``, ``BDNEX_DB``): an SQLite file, or a PostgreSQL URL."""
        location = os.fspath(path)
        if location.startswith(("postgresql://", "postgres://")):
            return replace(self, database=replace(self.database, backend="postgresql", url=location))
        return replace(self, database=replace(self.database, backend="sqlite", path=paths.expand(location)))


def full_schema() -> dict[str, Any]:
    """The core's schema with every loaded plugin's section added."""
    schema = copy.deepcopy(config_schema())
    for name, section in config_schemas().items():
        schema["properties"].setdefault(name, copy.deepcopy(dict(section)))
    return schema


def with_defaults(data: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` where every known section and key missing from it has its schema default."""
    result = copy.deepcopy(data)
    for name, section_schema in schema.get("properties", {}).items():
        if result.get(name) is None:
            result[name] = {}
        if isinstance(result[name], dict):
            _fill_defaults(result[name], section_schema)
    return result


def _fill_defaults(mapping: dict[str, Any], schema: dict[str, Any]) -> None:
    for key, prop in schema.get("properties", {}).items():
        if key not in mapping and "default" in prop:
            mapping[key] = copy.deepcopy(prop["default"])
        if isinstance(mapping.get(key), dict) and "properties" in prop:
            _fill_defaults(mapping[key], prop)


def is_secret_key(name: object, schema: dict[str, Any] | None = None) -> bool:
    """A value never to be shown: marked ``x-secret`` in its schema, or named like a secret."""
    if schema and schema.get("x-secret"):
        return True
    return isinstance(name, str) and bool(_SECRET_NAME.search(name))


def _error_location(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _suggestion(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe(error: jsonschema.ValidationError) -> list[str]:
    location = _error_location(error)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in known]
        prefix = f"{location}." if error.absolute_path else ""
        return [f"{prefix}{key}: unknown key{_suggestion(str(key), known)}" for key in unknown]
    key = error.absolute_path[-1] if error.absolute_path else None
    if error.context and not is_secret_key(
        key, error.schema
    ):  # anyOf/oneOf: the deepest branch error is the telling one
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return _describe(deepest)
    if is_secret_key(key, error.schema):  # the value must not appear in the message
        return [f"{location}: {error.schema.get('x-message', 'invalid value (not shown: it is a secret)')}"]
    if "x-message" in error.schema and error.validator != "required":
        return [f"{location}: {error.schema['x-message']}"]
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return [f"{location}: {_mask_urls_in(message)}"]


def _mask_urls_in(text: str) -> str:
    return re.sub(r"[a-z][a-z0-9+.-]*://\S+", lambda found: mask_url_password(found.group(0)), text)


def validate(data: Any, source: str, schema: dict[str, Any] | None = None) -> None:
    """Check the whole file in one pass; raise one :class:`ConfigError` line naming each key at fault."""
    schema = schema if schema is not None else full_schema()
    problems: list[str] = []
    if isinstance(data, dict):
        known_sections = list(schema.get("properties", {}))
        for name in data:
            if name not in known_sections:
                # a section no loaded plugin claims is allowed (its plugin may be off); a near miss is a typo
                hint = _suggestion(str(name), known_sections)
                if hint:
                    problems.append(f"{name}: unknown section{hint}")
    non_finite = _non_finite_numbers(data)
    problems.extend(non_finite)
    said = {problem.split(": ", 1)[0] for problem in non_finite}  # such a value once, not also "above the maximum"
    if problems or not surely_valid(data, schema):  # the common case is decided without jsonschema (0.1 s to import)
        import jsonschema  # lazy: 0.1 s to import; only a configuration in doubt needs the validator, which names every key at fault

        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), [str(p) for p in e.path]))
        for error in errors:
            if _error_location(error) not in said:
                problems.extend(_describe(error))
    if isinstance(data, dict):
        problems.extend(_cross_checks(data))
        if not problems:  # what needs well-typed values to be checked at all
            default_templates = config_schema()["properties"]["notifications"]["properties"]["templates"]["default"]
            problems.extend(notification_checks.config_problems(data.get("notifications"), default_templates))
    if problems:
        raise ConfigError(f"invalid configuration at {'; '.join(problems)}", path=source)


# keywords that only describe: they never make a value invalid
_ANNOTATIONS = frozenset(("$schema", "$id", "title", "description", "default", "examples", "$comment"))
_TYPES: dict[str, Any] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
}


def surely_valid(value: Any, schema: Any, root: Any = None) -> bool:
    """True when ``value`` is valid against ``schema`` by the few keywords our schemas use, checked
    strictly; False when it is not, or when it cannot say (another keyword, a case it does not
    decide): :func:`validate` then asks jsonschema, which also names what is wrong. ``root``: the
    whole schema, which ``$ref`` (``#/$defs/...``) points into."""
    if schema is True or schema == {}:
        return True
    if not isinstance(schema, dict):
        return False
    root = schema if root is None else root
    for keyword, expected in schema.items():
        if keyword in _ANNOTATIONS or keyword.startswith("x-"):
            continue
        if not _keyword_holds(keyword, expected, value, schema, root):
            return False
    return True


def _referred(reference: Any, root: Any) -> Any:
    """The part of ``root`` a local ``$ref`` names (``#/$defs/message``); None for any other reference."""
    if not isinstance(reference, str) or not reference.startswith("#/"):
        return None
    found = root
    for part in reference[2:].split("/"):
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


def _keyword_holds(keyword: str, expected: Any, value: Any, schema: dict[str, Any], root: Any) -> bool:
    if keyword == "$defs":  # definitions: they constrain nothing where they stand
        return True
    if keyword == "$ref":
        referred = _referred(expected, root)
        return referred is not None and surely_valid(value, referred, root)
    if keyword == "uniqueItems":
        if not expected or not isinstance(value, list):
            return True
        # JSON Schema counts 1 and 1.0 as equal, and 1 and true as different: only plain values are decided
        if not all(isinstance(item, str) or item is None or type(item) in (int, bool) for item in value):
            return False
        return len({(type(item), item) for item in value}) == len(value)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if keyword == "type":
        names = expected if isinstance(expected, list) else [expected]
        return any(name in _TYPES and _TYPES[name](value) for name in names)
    if keyword in ("enum", "const"):
        allowed = expected if keyword == "enum" else [expected]
        # equal and of the same type: JSON Schema tells 1 from true, Python does not
        return isinstance(allowed, list) and any(type(item) is type(value) and item == value for item in allowed)
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if not number:
            return True
        if value != value or not isinstance(expected, (int, float)):  # NaN: jsonschema decides
            return False
        return {
            "minimum": value >= expected,
            "maximum": value <= expected,
            "exclusiveMinimum": value > expected,
            "exclusiveMaximum": value < expected,
        }[keyword]
    if keyword in ("minLength", "maxLength"):
        if not isinstance(value, str):
            return True
        return len(value) >= expected if keyword == "minLength" else len(value) <= expected
    if keyword == "pattern":
        return not isinstance(value, str) or re.search(expected, value) is not None
    if keyword == "required":
        return not isinstance(value, dict) or all(key in value for key in expected)
    if keyword == "properties":
        return not isinstance(value, dict) or all(
            surely_valid(value[key], sub, root) for key, sub in expected.items() if key in value
        )
    if keyword == "additionalProperties":
        if not isinstance(value, dict):
            return True
        known = schema.get("properties", {})
        return all(surely_valid(item, expected, root) for key, item in value.items() if key not in known)
    if keyword == "items":
        return not isinstance(value, list) or all(surely_valid(item, expected, root) for item in value)
    if keyword == "anyOf":
        return any(surely_valid(value, branch, root) for branch in expected)
    return False  # a keyword not known here


def _non_finite_numbers(data: Any, where: str = "") -> list[str]:
    """``.nan``, ``.inf`` anywhere: a bound such as ``minimum`` cannot refuse NaN (every comparison
    with it is false), and no setting means "infinitely many seconds"."""
    if isinstance(data, float) and not math.isfinite(data):
        return [f"{where or '(top level)'}: {data} is not a finite number"]
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)  # type: ignore[assignment]
    else:
        return []
    return [
        problem
        for key, value in items
        for problem in _non_finite_numbers(value, f"{where}.{key}" if where else str(key))
    ]


def _as_declared_integers(data: Any, schema: dict[str, Any]) -> Any:
    """JSON Schema counts ``30000.0`` as an integer: give the code an ``int`` where the schema says
    integer (and not number), so that ``range(max_retries)`` never meets a float."""
    if isinstance(data, dict):
        properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
        return {key: _as_declared_integers(value, properties.get(key, {})) for key, value in data.items()}
    if isinstance(data, list):
        items = schema.get("items", {}) if isinstance(schema, dict) else {}
        return [_as_declared_integers(value, items if isinstance(items, dict) else {}) for value in data]
    declared = schema.get("type") if isinstance(schema, dict) else None
    types = declared if isinstance(declared, list) else [declared]
    if isinstance(data, float) and "integer" in types and "number" not in types and data.is_integer():
        return int(data)
    return data


def _cross_checks(data: dict[str, Any]) -> list[str]:
    matching = data.get("matching")
    if isinstance(matching, dict):
        accept, review = matching.get("accept_threshold"), matching.get("review_threshold")
        if isinstance(accept, (int, float)) and isinstance(review, (int, float)) and review > accept:
            return [f"matching.review_threshold: {review} is above matching.accept_threshold ({accept})"]
    return []


def _section_kwargs(cls: type, section: dict[str, Any], section_schema: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments for a section's dataclass; ``null`` leaves the dataclass's platform default."""
    kwargs: dict[str, Any] = {}
    properties = section_schema.get("properties", {})
    for item in fields(cls):
        value = section.get(item.name)
        if value is None:
            continue
        if properties.get(item.name, {}).get("x-path"):
            value = paths.expand(value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[item.name] = value
    return kwargs


_CORE_SECTIONS = {
    "database": DatabaseSettings,
    "cache": CacheSettings,
    "catalogue": CatalogueSettings,
    "matching": MatchingSettings,
    "comicinfo": ComicInfoSettings,
    "archives": ArchiveSettings,
    "pipeline": PipelineSettings,
}


def from_mapping(data: dict[str, Any], *, source: Path | None = None) -> Settings:
    """Build settings from an already-parsed mapping: defaults filled from the schema, then validated."""
    where = str(source) if source else "configuration"
    schema = full_schema()
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping of sections", path=source)
    complete = with_defaults(data, schema)
    url = _database_url_from_environment()
    if url and isinstance(complete["database"], dict):
        # the password may live in the environment (or a container secret) only, never in the file
        complete["database"]["url"] = url
    validate(complete, where, schema)
    complete = _as_declared_integers(complete, schema)
    if complete["database"]["backend"] == "postgresql" and not complete["database"]["url"]:
        raise ConfigError(
            "invalid configuration at database.url: required when database.backend is postgresql "
            "(or set BDNEX_DATABASE_URL or BDNEX_DATABASE_URL_FILE)",
            path=str(source) if source else None,
        )
    sections = {
        name: cls(**_section_kwargs(cls, complete[name], schema["properties"][name]))
        for name, cls in _CORE_SECTIONS.items()
    }
    return Settings(**sections, source=source, raw=complete)


@cache
def _yaml_and_loader() -> tuple[Any, Any]:
    """PyYAML and its safe loader, except that a key given twice in one mapping is an error (plain
    PyYAML keeps the last one: a second ``pipeline:`` section would silently replace the first). Made
    when a file is read: only a configuration file needs the parser."""
    import yaml  # lazy: only a configuration file needs the parser (its import costs a tenth of a command's start)

    class UniqueKeysLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            first_line: dict[tuple[str, str], int] = {}
            for key_node, _value in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<" merges are allowed to be overridden, that is their purpose
                key = (key_node.tag, key_node.value)
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"{key_node.value!r} is given twice (first on line {first_line[key] + 1}); keep one",
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    return yaml, UniqueKeysLoader


def _database_url_from_environment() -> str | None:
    """``BDNEX_DATABASE_URL``, else the first line of the file ``BDNEX_DATABASE_URL_FILE`` names."""
    if os.environ.get("BDNEX_DATABASE_URL"):
        return os.environ["BDNEX_DATABASE_URL"]
    path = os.environ.get("BDNEX_DATABASE_URL_FILE")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            url = handle.readline().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read BDNEX_DATABASE_URL_FILE ({exc.strerror or exc})", path=path) from None
    if not url:
        raise ConfigError("BDNEX_DATABASE_URL_FILE names an empty file", path=path)
    return url


def _read_yaml(path: Path) -> Any:
    yaml, unique_keys_loader = _yaml_and_loader()

    try:
        # a FIFO or a device is refused before any read, and nothing is read past the cap
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise ConfigError(
                f"the configuration is larger than {MAX_CONFIG_BYTES // 1024} KB; refused", path=path
            ) from None
        raise ConfigError(
            f"cannot read the configuration ({exc.strerror or exc}): fix this file, or point --config elsewhere",
            path=path,
        ) from None
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=unique_keys_loader) or {}  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)  # a ReaderError: a bad character
        raise ConfigError(
            f"not valid YAML{where}" + (f": {problem}" if problem else "") + "; fix this file", path=path
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not a text file any more (byte {exc.object[exc.start]:#04x} at {exc.start} is not UTF-8): "
            "fix or replace this file",
            path=path,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the configuration ({exc.strerror or exc}): fix this file, or point --config elsewhere",
            path=path,
        ) from None
    except RecursionError:
        raise ConfigError("the configuration is nested too deeply; refused", path=path) from None
    _check_expanded_size(data, path)
    return data


def _check_expanded_size(data: Any, path: Path) -> None:
    """Refuse YAML whose aliases expand it far beyond its size (a "billion laughs" file).

    Aliases share objects, so the size is counted once per object and multiplied by its uses
    without building the expansion.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def expanded(value: Any) -> int:
        if isinstance(value, str):
            return len(value) + 1
        if not isinstance(value, (dict, list)):
            return 8
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError("a YAML alias refers to the mapping or list that contains it; refused", path=path)
        active.add(key)
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1
        for child in children:
            total += expanded(child)
            if total > MAX_EXPANDED_SIZE:
                raise ConfigError(
                    f"the configuration expands (through YAML aliases) beyond {MAX_EXPANDED_SIZE // 1024 // 1024} MB; "
                    "refused",
                    path=path,
                )
        active.discard(key)
        sizes[key] = total
        return total

    try:
        expanded(data)
    except RecursionError:
        raise ConfigError("the configuration is nested too deeply; refused", path=path) from None


def _warn_if_empty(path: Path, data: Any) -> None:
    """An empty configuration file is valid (every default applies), but a disk or a sync tool may have
    emptied it: say so once, since the defaults then choose another database."""
    if data == {}:
        logging.getLogger(__name__).warning(
            "%s is empty: every setting has its default (database %s)", path, paths.default_database_path()
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
    """Load, validate and return the settings. Raises :class:`ConfigError`.

    ``BDNEX_DATABASE_URL`` (or the file ``BDNEX_DATABASE_URL_FILE`` names) overrides ``database.url``.
    """
    path, named = resolve_config_path(config_path)
    data: Any = {}
    try:
        exists = path.exists()
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration: {exc.strerror}", path=path) from None
    if exists:
        data = _read_yaml(path)
        _warn_if_empty(path, data)
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a mapping of sections", path=path)
    elif named:
        raise ConfigError("configuration file not found", path=path)
    settings = from_mapping(data, source=path if exists else None)
    override = db_path or os.environ.get("BDNEX_DB")
    if override:
        _check_database_location(str(override), "--db" if db_path else "BDNEX_DB")
    return settings.with_database_path(override) if override else settings


def _check_database_location(location: str, where: str) -> None:
    """A path or URL with a line break would create a file of that name (or a URL libpq reads
    differently): refused, named."""
    if any(character < " " or character == "\x7f" for character in location):
        raise ConfigError(
            f"{where}: the database path has a line break or another control character in it; "
            "give the path on one line, without control characters"
        )


def settings_as_dict(settings: Settings) -> dict[str, Any]:
    """The effective settings (defaults filled in), JSON-friendly and secrets masked, for ``config show``."""
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
    return masked(result, full_schema())


def masked(value: Any, schema: dict[str, Any] | None = None) -> Any:
    """A copy of settings fit to print: secret values replaced by a mask, passwords in URLs hidden."""
    schema = schema or {}
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        result = {}
        for key, item in value.items():
            item_schema = properties.get(key) if isinstance(properties.get(key), dict) else {}
            if is_secret_key(key, item_schema) and item not in (None, "", []):
                result[key] = MASK
            else:
                result[key] = masked(item, item_schema)
        return result
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [masked(item, items) for item in value]
    if isinstance(value, str):
        return mask_url_password(value)
    return value


def mask_url_password(text: str) -> str:
    """``scheme://user:secret@host/...`` shown as ``scheme://user:********@host/...``; other text unchanged."""
    if "://" not in text or "@" not in text:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    if not password:
        return text
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}"))
