"""Run inside ComicTagger's Python (not collected by pytest): list the sources as ComicTagger does, load the
Bédéthèque source's logo as its settings window does, and print which hosts were contacted (JSON).

python sources_probe.py CONFIG_DIR SITE_URL [LOGO_URL]   (LOGO_URL: replace the talker's, to test the guard)

Every outgoing connection is recorded and refused unless it goes to the configured site's host: the
probe never reaches the network.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

contacted: list[str] = []


def guard(allowed: set[str]) -> None:
    original_getaddrinfo = socket.getaddrinfo
    original_connect = socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        contacted.append(str(host))
        if str(host) not in allowed:
            raise socket.gaierror(f"the probe refuses {host}")
        return original_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):  # type: ignore[no-untyped-def]
        host = address[0] if isinstance(address, tuple) else str(address)
        contacted.append(str(host))
        if str(host) not in allowed:
            raise ConnectionRefusedError(f"the probe refuses {host}")
        return original_connect(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect


def main(config_dir: Path, site_url: str, logo_override: str | None) -> dict:
    guard({urlsplit(site_url).hostname or ""})
    from comictaggerlib import ctversion
    from comictaggerlib.main import App

    # what `comictagger --list-plugins` does: every source loaded and listed
    sys.argv = [
        "comictagger",
        "--config",
        str(config_dir),
        "--no-gui",
        "--list-plugins",
        "--source",
        "bedetheque",
        "--bedetheque-url",
        site_url,
    ]
    listing = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # ComicTagger reconfigures stdout
    with contextlib.redirect_stdout(listing), contextlib.suppress(SystemExit):
        App().run()
    listing.flush()
    listed = listing.buffer.getvalue().decode("utf-8")
    from comictalker import get_talkers

    talkers, _ = get_talkers(ctversion.version, config_dir / "cache")
    talker = talkers["bedetheque"]
    logo_url = logo_override or talker.logo_url
    # the settings window's logo: ComicTagger hands the URL to Qt's network access, which reads
    # file: URLs from the disk and fetches the others
    data = b""
    with contextlib.suppress(OSError), urllib.request.urlopen(logo_url, timeout=5) as answer:
        data = answer.read()
    from PIL import Image

    image_format = Image.open(io.BytesIO(data)).format if data else None
    return {
        "listed": "bedetheque" in listed,
        "logo_url": logo_url,
        "logo_bytes": len(data),
        "logo_format": image_format,
        "contacted": sorted(set(contacted)),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
