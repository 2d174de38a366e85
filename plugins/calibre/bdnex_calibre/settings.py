"""The ``calibre`` section of the configuration: its JSON Schema, and a typed object read from it.

The schema is the one source of the section's keys, types and defaults: the core
validates the configuration file against it (registered by the plugin's
``register_config_schema`` hook) and fills the defaults in. The content-server
password may also come from ``BDNEX_CALIBRE_PASSWORD``; it is masked by ``config show``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bdnex_core.api import Settings

SECTION = "calibre"
TAG_POLICIES = ("merge", "replace", "keep")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "username": {"type": ["string", "null"], "default": None, "description": "content-server user"},
        "password": {
            "type": ["string", "null"],
            "default": None,
            "x-secret": True,
            "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
            "x-message": "expected a password without control characters or line breaks (value not shown)",
        },
        "calibredb": {"type": "string", "minLength": 1, "default": "calibredb", "description": "the program to run"},
        "tags": {
            "type": "string",
            "enum": list(TAG_POLICIES),
            "default": "merge",
            "description": "merge: add Bédéthèque's genres to calibre's tags; replace: set them; keep: leave tags alone",
        },
    },
}


def _default(key: str) -> Any:
    return copy.deepcopy(SCHEMA["properties"][key]["default"])


@dataclass(frozen=True)
class CalibreSettings:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    calibredb: str = _default("calibredb")
    tags: str = _default("tags")


def calibre_settings(settings: Settings) -> CalibreSettings:
    """The ``calibre`` section (validated and completed by the core against :data:`SCHEMA`) as a typed object."""
    section = {key: _default(key) for key in SCHEMA["properties"]} | settings.section(SECTION)
    return CalibreSettings(
        username=section["username"],
        password=section["password"],
        calibredb=section["calibredb"],
        tags=section["tags"],
    )
