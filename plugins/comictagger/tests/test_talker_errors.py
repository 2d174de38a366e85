"""bdnex-core's typed errors become ComicTagger's errors by their type and fields, never their wording."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

# Run inside ComicTagger's Python: each error gets a message that says nothing of its kind.
PROBE = """
import json
from bdnex_comictagger.talker import talker_error
from bdnex_core.errors import (
    Blocked, CatalogueError, HourlyCapReached, NotFound, ParseError, RateLimited, Unreachable,
)

errors = {
    "not_found": NotFound("gone", status=404),
    "rate_limited": RateLimited("slow down"),
    "hourly_cap": HourlyCapReached("enough for now"),
    "timed_out": Unreachable("silence", timed_out=True),
    "refused": Unreachable("silence"),
    "server_errors": Unreachable("trouble", status=503),
    "blocked": Blocked("go away"),
    "parse": ParseError("odd page"),
    "other": CatalogueError("something"),
}
out = {}
for name, error in errors.items():
    converted = talker_error("Bédéthèque", error)
    out[name] = [type(converted).__name__, getattr(converted, "sub_code", None)]
print(json.dumps(out))
"""


def test_talker_errors_follow_the_error_types(comictagger: Path) -> None:
    python = comictagger.parent / "python"
    result = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    codes = json.loads(result.stdout)
    assert codes == {
        "not_found": ["TalkerDataError", 3],
        "rate_limited": ["TalkerNetworkError", 3],
        "hourly_cap": ["TalkerNetworkError", 3],
        "timed_out": ["TalkerNetworkError", 4],
        "refused": ["TalkerNetworkError", 1],
        "server_errors": ["TalkerNetworkError", 5],
        "blocked": ["TalkerNetworkError", 6],
        "parse": ["TalkerDataError", 2],
        "other": ["TalkerNetworkError", 0],
    }
