"""What the scan found in each file it parsed, kept between runs: a file whose path and bytes
are those of an earlier run is not parsed again. Every file is still read and prefiltered (the
bytes are the key, not a timestamp), so the results are those of a fresh scan by construction.

One file per scanned set of paths and tables in the user's cache directory (usercache.py):
`scan/<digest>.pickle`, a dict from a file's key to what scanning it found. The digest covers
the scanner's own code and the parsers' builds, so a changed scanner never reads an older one's
results. A run keeps only the entries it used; the least recently written files beyond
`KEPT_FILES` are removed, and a file that cannot be read is ignored (and replaced).
`MIGVERIFY_CACHE=off` turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import migverify
from migverify.usercache import cache_dir

KEPT_FILES = 16
_FORMAT = b"1"
# Whose builds decide what a parse gives (their package directories' files are fingerprinted).
_PARSERS = (
    "ahocorasick_rs", "pglast", "tree_sitter", "tree_sitter_javascript", "tree_sitter_python",
    "tree_sitter_typescript",
)  # fmt: skip

# What scanning one file found: references, dynamic references, ORM declarations.
Entry = tuple[list, list, list]


def cache_file(paths: Sequence[Path], tables: Sequence[str]) -> str | None:
    """Where the results of scanning PATHS for TABLES are kept (None: the cache is off)."""
    root = cache_dir()
    if root is None:
        return None
    digest = hashlib.sha256(_FORMAT + b"\0" + _code())
    for part in (*tables, "\0", *(os.path.realpath(p) for p in paths)):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return str(root / "scan" / f"{digest.hexdigest()[:32]}.pickle")


def file_key(label: str, data: bytes, context: bytes = b"") -> bytes:
    """The key of a file's results: its label (the references carry it), its bytes, and
    CONTEXT (the second pass: a digest of every ORM declaration)."""
    digest = hashlib.blake2b(context, digest_size=16)
    digest.update(label.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(data)
    return digest.digest()


def entries(path: str) -> dict[bytes, Entry]:
    """The kept results in PATH; empty when there are none or they cannot be read. Read once
    per process and version of the file (workers forked after the first call share it)."""
    try:
        info = os.stat(path)
    except OSError:
        return {}
    return _load(path, (info.st_ino, info.st_size, info.st_mtime_ns))


@lru_cache(maxsize=2)
def _load(path: str, version: tuple[int, int, int]) -> dict[bytes, Entry]:
    try:
        with open(path, "rb") as stream:
            loaded = pickle.load(stream)
    except Exception:  # unreadable, truncated, not ours: start afresh
        return {}
    return loaded if isinstance(loaded, dict) else {}


def save(path: str, kept: dict[bytes, Entry]) -> None:
    """Keep KEPT in PATH (written whole, then renamed: a reader sees the old or the new file),
    unless it holds what PATH already holds; older cache files beyond KEPT_FILES go."""
    if kept.keys() == entries(path).keys():
        return
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as stream:
                pickle.dump(kept, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, path)
        except BaseException:
            os.unlink(partial)
            raise
    except OSError:
        return  # a cache that cannot be written only costs time
    _prune(directory)


def _prune(directory: str) -> None:
    try:
        files = sorted(
            (entry for entry in os.scandir(directory) if entry.name.endswith(".pickle")),
            key=lambda entry: entry.stat().st_mtime,
            reverse=True,
        )
    except OSError:
        return
    for old in files[KEPT_FILES:]:
        try:
            os.unlink(old.path)
        except OSError:
            pass


@cache
def _code() -> bytes:
    """A fingerprint of the scanner's code and of the parsers it calls: the name, size and
    modification time of each file of their package directories (a stat each; no reading)."""
    import importlib.util

    parts = [migverify.__version__]
    directories = [os.path.dirname(__file__)]
    for name in _PARSERS:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            directories.append(os.path.dirname(spec.origin))
    for directory in directories:
        try:
            listing = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in listing:
            if entry.is_file():
                info = entry.stat()
                parts.append(f"{entry.path} {info.st_size} {info.st_mtime_ns}")
    return "\n".join(parts).encode("utf-8", "surrogateescape")
