"""Building the plugin manager: default plugins, entry points (group ``bdnex_core``), safety.

One broken plugin logs an error and the rest keeps working. ``BDNEX_LOAD_PLUGINS``
(comma-separated entry-point names; empty = none) restricts which installed
plugins are loaded; the default plugins are always there.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
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


@dataclass
class LoadFailure:
    name: str
    error: str


@dataclass
class PluginHost:
    """The pluggy manager plus what failed to load (shown by ``bdnex-core plugins``)."""

    pm: pluggy.PluginManager
    failures: list[LoadFailure] = field(default_factory=list)
    distributions: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def hook(self) -> Any:
        return self.pm.hook


def _allowed_entry_points() -> set[str] | None:
    value = os.environ.get("BDNEX_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def build_plugin_host() -> PluginHost:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    allowed = _allowed_entry_points()
    for entry_point in entry_points(group=hookspecs.PROJECT_NAME):
        if allowed is not None and entry_point.name not in allowed:
            continue
        if pm.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
            pm.check_pending()
            if entry_point.dist is not None:
                host.distributions[entry_point.name] = {
                    "name": entry_point.dist.name,
                    "version": entry_point.dist.version,
                }
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


def get_plugin_manager() -> pluggy.PluginManager:
    return get_plugin_host().pm


def reset_plugin_host() -> None:
    """Forget the manager (tests; or after BDNEX_LOAD_PLUGINS changed)."""
    global _host
    _host = None


def _call_safely(hook_name: str, **kwargs: Any) -> None:
    """Call every implementation of a hook; one that raises is logged and skipped."""
    pm = get_plugin_manager()
    # pluggy calls implementations last-registered first, tryfirst before trylast: same order here
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        try:
            impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:
            logger.error("plugin %s failed in %s: %s: %s", impl.plugin_name, hook_name, type(exc).__name__, exc)


def library_sources(settings: Settings) -> dict[str, LibrarySource]:
    sources: dict[str, LibrarySource] = {}
    _call_safely(
        "register_library_sources", register=lambda source: sources.setdefault(source.name, source), settings=settings
    )
    return sources


def metadata_writers(settings: Settings) -> list[MetadataWriter]:
    writers: list[MetadataWriter] = []
    _call_safely("register_metadata_writers", register=writers.append, settings=settings)
    return writers


def notify(hook_name: str, **kwargs: Any) -> None:
    """Send a notification hook (``file_tagged``, ``session_finished``) without letting it fail the caller."""
    _call_safely(hook_name, **kwargs)


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
                "distribution": host.distributions.get(name),
            }
        )
    described.extend({"name": failure.name, "hooks": [], "error": failure.error} for failure in host.failures)
    return described
