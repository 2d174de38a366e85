"""Streaming SHA-256 and fingerprints."""

from __future__ import annotations

import hashlib
import os

from bdnex_core.hashing import CHUNK_SIZE, Fingerprint, canonical_path, sha256_file


def test_sha256_matches_hashlib_across_chunk_boundaries(tmp_path):
    for size in (0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE * 3 + 17):
        path = tmp_path / f"f{size}"
        data = os.urandom(size)
        path.write_bytes(data)
        assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_fingerprint_follows_size_and_mtime(tmp_path):
    path = tmp_path / "a.cbz"
    path.write_bytes(b"abc")
    os.utime(path, ns=(10**18, 10**18))
    assert Fingerprint.of(path) == Fingerprint(3, 10**18)


def test_canonical_path_is_absolute_and_resolves_links(tmp_path, monkeypatch):
    target = tmp_path / "real.cbz"
    target.write_bytes(b"x")
    (tmp_path / "link.cbz").symlink_to(target)
    monkeypatch.chdir(tmp_path)
    assert canonical_path("link.cbz") == str(target.resolve())
