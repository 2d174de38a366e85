"""``bdnex-core demo``: runs without pytest, leaves a folder to go on exploring, and every hint it prints runs."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

# the demo as a user runs it, in a process where importing pytest fails
WITHOUT_PYTEST = (
    "import sys; sys.modules['pytest'] = None; from bdnex_core.cli import main; sys.exit(main(sys.argv[1:]))"
)


def run_demo(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST, "demo", "--dir", str(folder), "--files", "8", "--port", "0", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port}")


def printed_commands(output: str) -> tuple[str, list[str]]:
    """The serve command and the hints, as printed after the summary."""
    lines = output.splitlines()
    serve = lines[lines.index("To go on exploring offline, bring the fake site back (in another terminal):") + 1]
    hints = lines[lines.index("then try:") + 1 :]
    return serve.strip(), [hint.strip() for hint in hints if hint.startswith("  ")]


def test_every_printed_hint_runs_verbatim_while_the_site_is_served(tmp_path):
    folder = tmp_path / "my demo"  # a space: the printed commands must quote it
    result = run_demo(folder)
    assert result.returncode == 0, result.stderr
    serve, hints = printed_commands(result.stdout)
    assert {Path(shlex.split(hint)[0]).name for hint in [serve, *hints]} == {"bdnex-core"}
    review = next(hint for hint in hints if hint.endswith(" review"))
    assert f"uncertain matches wait for you: {review}" in result.stdout
    assert any(" album " in hint for hint in hints) and any(hint.endswith("sessions list") for hint in hints)
    # what is left to go on: database, logs, config pointing at the local site
    config = yaml.safe_load((folder / "config.yaml").read_text("utf-8"))
    assert Path(config["database"]["path"]) == folder / "bdnex.db" and (folder / "bdnex.db").is_file()
    assert list((folder / "logs").glob("*/session_1.json"))
    port = urlsplit(config["catalogue"]["base_url"]).port
    assert config["catalogue"]["base_url"] == f"http://127.0.0.1:{port}"

    server = subprocess.Popen(shlex.split(serve), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port)
        for hint in hints:
            # review: the first file's candidates (m: listed even when its tome is not in the catalogue),
            # the first of them (Enter confirms), then quit
            answer = "m\n1\n\nq\n" if hint == review else ""
            done = subprocess.run(shlex.split(hint), input=answer, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (hint, done.stdout, done.stderr)
            if hint == review:
                assert " as album " in done.stderr and done.stdout.startswith("1 tagged"), done.stderr
            if " album " in hint:
                album_id = hint.rsplit(" ", 1)[-1]
                assert f"(album {album_id})" in done.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_json_summary_names_the_folder_config_and_commands(tmp_path):
    result = run_demo(tmp_path / "d", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["config"] == str(tmp_path / "d" / "config.yaml")
    assert summary["serve"].endswith(f"demo --serve --dir {tmp_path / 'd'}") and summary["hints"]


def test_serve_without_a_demo_says_what_to_do(tmp_path, capsys):
    from bdnex_core.cli import main

    assert main(["demo", "--serve", "--dir", str(tmp_path)]) == 2
    assert f"no demo in {tmp_path}: run 'bdnex-core demo --dir {tmp_path}' first" in capsys.readouterr().err
