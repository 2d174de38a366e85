"""Run many ``bdnex-core`` commands fast: each in a fork of one interpreter that imported the CLI once.

Why: the fault-injection test of damaged state files runs hundreds of commands; starting Python and
importing bdnex-core costs about 0.4 s each time, most of what a command costs. Each command still
runs in a process of its own (``bdnex_core.cli.main`` in a fresh fork, its own environment, working
folder, standard streams and process group), so a hang is killed and a crash ends only that command.

Running as root, the server drops the capabilities that let root read any file
(``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``) from its bounding set before it starts: a file made
unreadable (mode 000) is then unreadable for the commands too, as it is for a user.

Protocol (JSON lines): the client writes ``{"argv", "env", "cwd", "stdout", "stderr"}``; the server
answers ``{"pid"}`` once the command started, then ``{"status"}`` (its exit code, negative for a
signal) when it ended. ``{"probe": PATH}`` answers ``{"readable": bool}``.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _drop_root_file_access() -> None:
    """In the child before exec: root keeps its uid but loses the right to ignore file permissions."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)  # refused without CAP_SETPCAP: probe() tells


@dataclass
class CommandResult:
    argv: list[str]
    code: int | None  # None: killed after the timeout
    stdout: str
    stderr: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.code is None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class CommandServer:
    """A server process; ``run()`` one command at a time (use one server per parallel lane)."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bdnex_testing.cli_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_drop_root_file_access,
        )
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    def _send(self, request: dict[str, object]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def _answer(self, timeout: float | None) -> dict[str, object] | None:
        assert self.process.stdout is not None
        if timeout is not None and not self._selector.select(timeout):
            return None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the command server ended (exit {self.process.wait()})")
        return json.loads(line)

    def probe_readable(self, path: Path) -> bool:
        """Whether the commands can read ``path`` (as root: whether the capability drop worked)."""
        self._send({"probe": str(path)})
        answer = self._answer(30)
        assert answer is not None
        return bool(answer["readable"])

    def run(self, argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> CommandResult:
        out, err = self.scratch / "stdout", self.scratch / "stderr"
        started = time.monotonic()
        self._send({"argv": argv, "env": env, "cwd": str(cwd), "stdout": str(out), "stderr": str(err)})
        begun = self._answer(30)
        assert begun is not None, "the command server did not start the command"
        ended = self._answer(timeout)
        code: int | None
        if ended is None:
            try:
                os.killpg(int(begun["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
            except ProcessLookupError:
                pass
            self._answer(30)
            code = None
        else:
            code = int(ended["status"])  # type: ignore[call-overload]
        read = lambda path: path.read_text("utf-8", errors="replace")  # noqa: E731
        return CommandResult(argv, code, read(out), read(err), time.monotonic() - started)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._selector.close()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> CommandServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child(request: dict[str, object]) -> int:
    """In the fork: become the command's own process (group, folder, environment, streams), run it."""
    from bdnex_core.cli import main

    os.setsid()
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update(request["env"])  # type: ignore[arg-type]
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, key in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(str(request[key]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    return main([str(arg) for arg in request["argv"]])  # type: ignore[attr-defined]


def serve() -> None:
    from bdnex_core.cli import build_cli

    build_cli()  # imports every command module and plugin once, before any fork
    for line in sys.stdin:
        request = json.loads(line)
        if "probe" in request:
            try:
                with open(request["probe"], "rb"):
                    readable = True
            except OSError:
                readable = False
            print(json.dumps({"readable": readable}), flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                code = _child(request)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except Exception:
                        pass
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
