"""A process that stalls between the grant of its request slot and the send of its request.

What a GC pause, a slow connect or a descheduled thread does to a real run, on purpose: the client
(given the shared database, as `tag` is) is granted its turn, then waits ``STALL`` seconds before the
request goes to the transport. The politeness tests run it beside real `tag` processes and measure, at
the site, that no two requests arrived closer than the delay.

    python -m bdnex_testing.stalled_client CONFIG STALL ALBUM_ID...
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bdnex_core.bedetheque.client import BedethequeClient
from bdnex_core.config import load_settings
from bdnex_core.db import BDneXDB


def main(argv: list[str]) -> int:
    config, stall, *album_ids = argv
    settings = load_settings(config)
    with BDneXDB(settings=settings) as db:
        client = BedethequeClient(settings, database=db)
        send = client.transport.get

        def stalled(*args: Any, **kwargs: Any) -> Any:
            time.sleep(float(stall))  # the turn is granted: the shared slot is ours
            return send(*args, **kwargs)

        client.transport.get = stalled
        for album_id in album_ids:
            client.get_album_page(int(album_id))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
