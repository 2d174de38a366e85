"""Zip the calibre metadata-source plugin (install with ``calibre-customize -a FILE.zip``)."""

from __future__ import annotations

import zipfile
from importlib import resources
from pathlib import Path

PLUGIN_IMPORT_NAME = "bdnex_bedetheque"


def build_plugin(output: Path) -> Path:
    source = resources.files("bdnex_calibre") / "calibre_plugin"
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in sorted(source.iterdir(), key=lambda item: item.name):
            if entry.name.endswith(".py"):
                archive.writestr(entry.name, entry.read_bytes())
        archive.writestr(f"plugin-import-name-{PLUGIN_IMPORT_NAME}.txt", b"")
    return output
