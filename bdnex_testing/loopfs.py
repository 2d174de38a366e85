"""Fresh filesystems for tests: XFS or btrfs on loop devices (block sharing), a small tmpfs (a disk
that fills up).

Needs root, and for the loop devices Debian's xfsprogs / btrfs-progs; when any is missing (or the
machine allows no mount), :class:`LoopFilesystemUnavailable` says which, so callers can skip with
that reason.
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


@contextmanager
def small_tmpfs(mount_point: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` KiB mounted at ``mount_point`` (created), unmounted afterwards."""
    if os.geteuid() != 0:
        raise LoopFilesystemUnavailable("mounting a tmpfs needs root")
    mount_point.mkdir(parents=True, exist_ok=True)
    _run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(mount_point)])
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill_leaving(folder: Path, free_bytes: int) -> Path:
    """A file in ``folder`` that takes all its filesystem's free space but ``free_bytes`` (or all of
    it, when something else writes there meanwhile)."""
    import errno

    filler = folder / "filler"
    stats = os.statvfs(folder)
    wanted = max(0, stats.f_bavail * stats.f_frsize - free_bytes)
    chunk = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as handle:
        try:
            while wanted > 0:
                wanted -= handle.write(chunk[: min(len(chunk), wanted)])
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler
