"""Small JSON values plugins keep between runs (a Komga library's last scan, a calibre mapping)."""

from __future__ import annotations

import json
from typing import Any

from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, utcnow


class PluginStateStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def get(self, plugin: str, key: str, default: Any = None) -> Any:
        value = self.backend.value("SELECT value FROM plugin_state WHERE plugin = ? AND key = ?", [plugin, key])
        return default if value is None else json.loads(value)

    def set(self, plugin: str, key: str, value: Any) -> None:
        with self.backend.write() as backend:
            backend.upsert(
                "plugin_state",
                {
                    "plugin": plugin,
                    "key": key,
                    "value": json.dumps(value, ensure_ascii=False),
                    "updated_at": to_db_time(utcnow()),
                },
                key=("plugin", "key"),
            )
