"""What the scan learnt of each file, kept between runs.

- A file it parsed: what it found there, keyed by the file's path and bytes (and, in the second
  pass, a digest of every ORM declaration's file). Such a file is read and prefiltered again,
  and parsed only when those changed.
- A file the prefilter turned away (most of a tree): its name, by directory (and the
  directory's inode), with the time the run started. While a `stat` shows the file's change
  time still before that (less the timestamps' granularity), the file is not read again
  (walk.Unchanged). The same for the files the second pass (uses of ORM models) turned away,
  while the declarations are the same.

One file per scanned set of paths, root, size limit and tables in the user's cache directory
(usercache.py): `scan/<digest>.pickle`. The digest covers the scanner's own code, Python's
version and the parsers' builds, so a changed scanner never reads an older one's results. A run
keeps only what it used and writes nothing when all is as kept; the least recently written
files beyond `KEPT_FILES` are removed, and a file that cannot be read is ignored (and
replaced). `MIGVERIFY_CACHE=off` turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

from migverify.scan.walk import NOTHING_REJECTED, Rejected
from migverify.usercache import cache_dir

KEPT_FILES = 16
_FORMAT = b"4"
# Whose builds decide what a parse gives (their package directories' files are fingerprinted).
_PARSERS = (
    "ahocorasick_rs", "pglast", "tree_sitter", "tree_sitter_javascript", "tree_sitter_python",
    "tree_sitter_typescript",
)  # fmt: skip

# What scanning one file found: references, dynamic references, ORM declarations.
Entry = tuple[list, list, list]


def cache_file(
    paths: Sequence[Path], tables: Sequence[str], root: Path, max_bytes: int
) -> str | None:
    """Where the results of scanning PATHS for TABLES (labelled relative to ROOT, files over
    MAX_BYTES skipped) are kept; None: the cache is off."""
    directory = cache_dir()
    if directory is None:
        return None
    digest = hashlib.sha256(_FORMAT + b"\0" + _code())
    where = (str(root), str(max_bytes), *(os.path.realpath(p) for p in paths))
    for part in (*tables, "\0", *where):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return str(directory / "scan" / f"{digest.hexdigest()[:32]}.pickle")


def file_key(label: str, data: bytes, context: bytes = b"") -> bytes:
    """The key of a file's results: its label (the references carry it), its bytes, and
    CONTEXT (the second pass: a digest of every ORM declaration)."""
    digest = hashlib.blake2b(context, digest_size=16)
    digest.update(label.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(data)
    return digest.digest()


def entries(path: str) -> dict[bytes, Entry]:
    """The kept results in PATH; empty when there are none or they cannot be read."""
    return _kept(path)["results"]


def rejected_again(path: str, context: bytes) -> Rejected:
    """The files the last run's second pass turned away (walk.Unchanged), when it ran with
    the same ORM declarations (CONTEXT); else none."""
    kept = _kept(path)
    return kept["second"][1] if kept["second"][0] == context else NOTHING_REJECTED


def rejected(path: str) -> Rejected:
    """The files the last run turned away, by directory and name, and since when they are
    known (walk.Unchanged)."""
    return _kept(path)["rejected"]


def _kept(path: str) -> dict:
    """What PATH holds. Read once per process and version of the file (workers forked after
    the first call share it)."""
    try:
        info = os.stat(path)
    except OSError:
        return _EMPTY
    return _load(path, (info.st_ino, info.st_size, info.st_mtime_ns))


_EMPTY: dict = {"results": {}, "rejected": NOTHING_REJECTED, "second": (b"", NOTHING_REJECTED)}


@lru_cache(maxsize=2)
def _load(path: str, version: tuple[int, int, int]) -> dict:
    try:
        with open(path, "rb") as stream:
            loaded = pickle.load(stream)
    except Exception:  # unreadable, truncated, not ours: start afresh
        return _EMPTY
    if not isinstance(loaded, dict) or loaded.keys() != _EMPTY.keys():
        return _EMPTY
    return loaded


def save(
    path: str,
    results: dict[bytes, Entry],
    turned_away: Rejected,
    second: tuple[bytes, Rejected] = (b"", NOTHING_REJECTED),
) -> None:
    """Keep RESULTS, TURNED_AWAY and what the SECOND pass turned away (with its context) in
    PATH (written whole, then renamed: a reader sees the old or the new file); older cache
    files beyond KEPT_FILES go."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as stream:
                kept = {"results": results, "rejected": turned_away, "second": second}
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
    modification time of each file of their package directories (a stat each; no reading).
    Not migverify's version: looking it up (importlib.metadata) costs a start-up more than
    the whole fingerprint, and the files say more."""
    import importlib.util

    parts = [sys.version]
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
