"""Fresh filesystems for tests and benchmarks: XFS or btrfs on loop devices (block sharing), a small
ext4 on a loop device or a small tmpfs (a disk that fills up).

Needs root, and for the loop devices Debian's xfsprogs / btrfs-progs / e2fsprogs; when any is missing
(or the machine allows no mount), :class:`LoopFilesystemUnavailable` says which, so callers can skip
with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# ext4: no blocks kept for root (the tests run as root and must see the disk full)
MKFS_OPTIONS = {"xfs": ["-q", "-m", "reflink=1"], "btrfs": ["-q"], "ext4": ["-q", "-F", "-m", "0"]}
PACKAGES = {"xfs": "xfsprogs", "btrfs": "btrfs-progs", "ext4": "e2fsprogs"}


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


def fill_up(folder: Path) -> Path:
    """A file in ``folder`` that takes every free byte of its filesystem (written until ENOSPC, flushed)."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            try:
                while os.write(descriptor, bytes(chunk)) == chunk:
                    pass
            except OSError:
                pass
        try:
            os.fsync(descriptor)
        except OSError:
            pass
    finally:
        os.close(descriptor)
    return filler
