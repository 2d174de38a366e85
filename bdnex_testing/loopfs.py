"""Fresh XFS or btrfs filesystems on loop devices, for tests and benchmarks of block sharing.

Needs root, a loop device and Debian's xfsprogs / btrfs-progs; when any is missing,
:class:`LoopFilesystemUnavailable` says which, so callers can skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MKFS_OPTIONS = {"xfs": ["-q", "-m", "reflink=1"], "btrfs": ["-q"]}
PACKAGES = {"xfs": "xfsprogs", "btrfs": "btrfs-progs"}


class LoopFilesystemUnavailable(RuntimeError):
    pass


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["exit code " + str(result.returncode)])[-1]
        raise LoopFilesystemUnavailable(f"{' '.join(command[:2])} failed: {last_line}")


@contextmanager
def loop_filesystem(kind: str, workdir: Path, size_mb: int = 512) -> Iterator[Path]:
    """Mount a new ``kind`` filesystem held in a sparse image under ``workdir``; yield its mount point."""
    if os.geteuid() != 0:
        raise LoopFilesystemUnavailable("mounting a loop filesystem needs root")
    if shutil.which(f"mkfs.{kind}") is None:
        raise LoopFilesystemUnavailable(f"mkfs.{kind} is not installed (Debian package {PACKAGES[kind]})")
    image = workdir / f"{kind}.img"
    mount_point = workdir / f"{kind}-mount"
    mount_point.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as handle:
        handle.truncate(size_mb * 1024 * 1024)
    try:
        _run([f"mkfs.{kind}", *MKFS_OPTIONS[kind], str(image)])
        _run(["mount", "-o", "loop", str(image), str(mount_point)])
    except LoopFilesystemUnavailable:
        image.unlink(missing_ok=True)
        raise
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
        image.unlink(missing_ok=True)
