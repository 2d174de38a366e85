"""Building the plugin manager: default plugins, entry points (group ``bdnex_core``), safety.

One broken plugin logs an error and the rest keeps working. ``BDNEX_LOAD_PLUGINS``
(comma-separated entry-point names; empty = none) restricts which installed
plugins are loaded; the default plugins are always there.

Hooks are always called through pluggy, so ordering, ``tryfirst``/``trylast`` and
hook wrappers (``wrapper=True`` and the old ``hookwrapper=True``) behave as pluggy
documents. Isolation comes from wrapping each implementation when its plugin is
registered: an implementation that raises is reported once and skipped from then on,
and a wrapper that fails steps aside without hiding the other implementations' results.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from bdnex_core import hookspecs

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.library import LibrarySource, MetadataWriter

logger = logging.getLogger(__name__)

DEFAULT_PLUGINS = (
    "bdnex_core.default_plugins.folder_source",
    "bdnex_core.default_plugins.cbz_writer",
)


@dataclass(frozen=True)
class PluginEntryPoint:
    """One ``[bdnex_core]`` line of an installed distribution's ``entry_points.txt``."""

    name: str
    value: str  # "module" or "module:attribute"
    dist_info: Path

    def load(self) -> Any:
        module_name, _, attribute = self.value.partition(":")
        loaded: Any = importlib.import_module(module_name.strip())
        for part in attribute.strip().split(".") if attribute.strip() else ():
            loaded = getattr(loaded, part)
        return loaded

    def distribution(self) -> dict[str, str]:
        """The distribution's name and version, from the header of its METADATA (or PKG-INFO)."""
        found: dict[str, str] = {}
        for metadata in ("METADATA", "PKG-INFO"):
            try:
                lines = (self.dist_info / metadata).read_text("utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                if not line.strip():
                    break  # the header ends at the first empty line; the long description follows
                key, _, value = line.partition(":")
                if key in ("Name", "Version"):
                    found.setdefault(key.lower(), value.strip())
            break
        name, _, version = self.dist_info.stem.partition("-")
        return {"name": found.get("name", name), "version": found.get("version", version)}


def installed_entry_points(group: str) -> Iterator[PluginEntryPoint]:
    """The entry points of ``group`` of the distributions on ``sys.path``, the first of each name winning,
    as ``importlib.metadata`` finds them; read here because importing ``importlib.metadata`` (and the email
    package under it) costs every command about a quarter of its start."""
    seen: set[str] = set()
    for entry in sys.path:
        folder = Path(entry or ".")
        try:
            children = sorted(child for child in os.listdir(folder) if child.endswith((".dist-info", ".egg-info")))
        except OSError:  # a zip, a missing folder
            continue
        for child in children:
            # "bdnex_komga-0.1.0.dist-info": the name is what stands before the version
            key = child.rsplit(".", 1)[0].partition("-")[0].lower().replace("-", "_").replace(".", "_")
            if key in seen:
                continue
            seen.add(key)
            try:
                text = (folder / child / "entry_points.txt").read_text("utf-8", errors="replace")
            except OSError:
                continue
            yield from _group_lines(text, group, folder / child)


def _group_lines(text: str, group: str, dist_info: Path) -> Iterator[PluginEntryPoint]:
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            # "module:attribute [extra]": the extras only say what the distribution's installer brought
            yield PluginEntryPoint(name.strip(), value.partition("[")[0].strip(), dist_info)


@dataclass
class LoadFailure:
    name: str
    error: str


class GuardedPluginManager(pluggy.PluginManager):
    """A pluggy manager whose registered implementations cannot raise into the caller."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.disabled: set[tuple[str, str]] = set()

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        for caller in self.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    # pluggy calls impl.function; swapping it keeps ordering and wrappers pluggy's own
                    impl.function = self._guard(impl, caller.name)  # type: ignore[misc]
        return registered

    def _report(self, plugin_name: str, hook_name: str, exc: BaseException) -> None:
        if (plugin_name, hook_name) in self.disabled:
            return
        self.disabled.add((plugin_name, hook_name))
        logger.error(
            "plugin %s failed in %s: %s: %s (skipped from now on)", plugin_name, hook_name, type(exc).__name__, exc
        )

    def _guard(self, impl: pluggy.HookImpl, hook_name: str) -> Callable[..., Any]:
        function, plugin_name = impl.function, impl.plugin_name
        if impl.wrapper or impl.hookwrapper:
            return self._guard_wrapper(function, plugin_name, hook_name)

        def guarded(*args: Any) -> Any:
            if (plugin_name, hook_name) in self.disabled:
                return None
            try:
                return function(*args)
            except Exception as exc:  # one plugin's bug must not fail the caller
                self._report(plugin_name, hook_name, exc)
                return None

        return guarded

    def _guard_wrapper(self, function: Callable[..., Any], plugin_name: str, hook_name: str) -> Callable[..., Any]:
        """Run a wrapper's code around the inner calls; if it fails, pass the inner result through unchanged.

        Works for both wrapper styles: a new-style wrapper receives the result (or the
        inner exception) and returns it; an old-style one receives pluggy's ``Result``.
        """
        key = (plugin_name, hook_name)

        def guarded(*args: Any) -> Generator[None, Any, Any]:
            if key in self.disabled:
                return (yield)
            wrapper = function(*args)
            try:
                next(wrapper)
            except Exception as exc:  # raised before yielding, or never yielded (StopIteration)
                self._report(plugin_name, hook_name, exc)
                return (yield)
            try:
                result = yield
            except Exception as inner:
                try:
                    wrapper.throw(inner)
                except StopIteration as stop:
                    return stop.value
                except Exception as exc:
                    if exc is not inner:
                        self._report(plugin_name, hook_name, exc)
                    raise inner from None
                wrapper.close()
                self._report(plugin_name, hook_name, RuntimeError("the wrapper yielded twice"))
                raise
            try:
                wrapper.send(result)
            except StopIteration as stop:
                return stop.value
            except Exception as exc:
                self._report(plugin_name, hook_name, exc)
                return result
            wrapper.close()
            self._report(plugin_name, hook_name, RuntimeError("the wrapper yielded twice"))
            return result

        return guarded


@dataclass
class PluginHost:
    """The pluggy manager plus what failed to load (shown by ``bdnex-core plugins``)."""

    pm: GuardedPluginManager
    failures: list[LoadFailure] = field(default_factory=list)
    entry_points: dict[str, PluginEntryPoint] = field(default_factory=dict)  # what was loaded, by plugin name

    @property
    def hook(self) -> Any:
        return self.pm.hook


def _allowed_entry_points() -> set[str] | None:
    value = os.environ.get("BDNEX_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def build_plugin_host() -> PluginHost:
    pm = GuardedPluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    allowed = _allowed_entry_points()
    for entry_point in installed_entry_points(hookspecs.PROJECT_NAME):
        if allowed is not None and entry_point.name not in allowed:
            continue
        if pm.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
            pm.check_pending()
            host.entry_points[entry_point.name] = entry_point
        except Exception as exc:  # a plugin's bug must not take the tool down
            if pm.has_plugin(entry_point.name):
                pm.unregister(name=entry_point.name)
            logger.error("plugin %s failed to load: %s: %s", entry_point.name, type(exc).__name__, exc)
            host.failures.append(LoadFailure(entry_point.name, f"{type(exc).__name__}: {exc}"))
    return host


_host: PluginHost | None = None


def get_plugin_host() -> PluginHost:
    global _host
    if _host is None:
        _host = build_plugin_host()
    return _host


def get_plugin_manager() -> GuardedPluginManager:
    return get_plugin_host().pm


def reset_plugin_host() -> None:
    """Forget the manager (tests; or after BDNEX_LOAD_PLUGINS changed)."""
    global _host
    _host = None


def config_schemas() -> dict[str, Mapping[str, Any]]:
    """The JSON Schema of each plugin's configuration section, by section name (first claim wins)."""
    schemas: dict[str, Mapping[str, Any]] = {}

    def register(section: str, schema: Mapping[str, Any]) -> None:
        schemas.setdefault(section, schema)

    get_plugin_manager().hook.register_config_schema(register=register)
    return schemas


def resolve(registered: Any) -> Any:
    """A registered source or writer: the object itself, or ``"module:Class"`` (an instance made now, so
    that a plugin's module loads without importing its HTTP client or its writer)."""
    if not isinstance(registered, str):
        return registered
    module_name, _, attribute = registered.partition(":")
    return getattr(importlib.import_module(module_name), attribute)()


def library_sources(settings: Settings) -> dict[str, LibrarySource]:
    sources: dict[str, LibrarySource] = {}

    def register(source: LibrarySource | str) -> None:
        made = resolve(source)
        sources.setdefault(made.name, made)

    get_plugin_manager().hook.register_library_sources(register=register, settings=settings)
    return sources


def metadata_writers(settings: Settings) -> list[MetadataWriter]:
    writers: list[MetadataWriter] = []
    get_plugin_manager().hook.register_metadata_writers(
        register=lambda writer: writers.append(resolve(writer)), settings=settings
    )
    return writers


def notify(hook_name: str, **kwargs: Any) -> None:
    """Send a notification hook (``file_tagged``, ``session_finished``) without letting it fail the caller."""
    getattr(get_plugin_manager().hook, hook_name)(**kwargs)


def describe_plugins() -> list[dict[str, Any]]:
    """Each loaded plugin with its hooks, plus the ones that failed to load."""
    host = get_plugin_host()
    described = []
    for name, plugin in sorted(host.pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in host.pm.get_hookcallers(plugin) or [])
        described.append(
            {
                "name": name,
                "hooks": hooks,
                "default": name in DEFAULT_PLUGINS,
                "distribution": host.entry_points[name].distribution() if name in host.entry_points else None,
                "failed_hooks": sorted(hook for plugin_name, hook in host.pm.disabled if plugin_name == name),
            }
        )
    described.extend({"name": failure.name, "hooks": [], "error": failure.error} for failure in host.failures)
    return described
