"""Finding the files to scan: .gitignore respected, vendored and build output left out, and a
cheap byte-level prefilter for the table names before any parsing.

A source file that cannot be scanned (over the size limit, unreadable, binary, not a regular
file) or a directory that cannot be listed is never dropped silently: it is reported as skipped,
with the reason."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pathspec

SUFFIXES = {
    ".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".py", ".sql", ".prisma",
}  # fmt: skip
SKIP_DIRS = {
    ".git", "node_modules", "dist", "build", "out", ".next", ".nuxt", "coverage", "vendor",
    "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    "target", ".turbo", ".cache",
}  # fmt: skip
DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024  # larger files are usually generated or data
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.I)
OnSkip = Callable[[str, str], None]  # (path, reason)
# A file without any table name may still hold a dynamic reference: a query-builder call with a
# computed table followed by an operation, e.g. `.from(tableName).select(…)`, `.table(t).insert(…)`,
# `this.db(this.tableName).where(…)`, `knex(name).first()`, `db()(table).del()`.
_OPERATION = (
    rb"\(\s*[A-Za-z_$][\w$.]*\s*\)\s*\.\s*"
    rb"(?:select|insert|update|delete|upsert|del|where\w*|first|pluck|count|increment|decrement"
    rb"|truncate|returning|onConflict|\w*[jJ]oin)\b"
)
# Two patterns, each starting with a literal, so that the regex engine skips ahead quickly.
DYNAMIC_CALL = re.compile(rb"\.(?:from|table|from_|into)" + _OPERATION)
DYNAMIC_HANDLE_CALL = re.compile(rb"(?:knex|trx|[Dd]b)(?:\(\s*\))?" + _OPERATION)
DYNAMIC_HINTS = (b".from", b".table(", b".into(")
HANDLE_HINTS = (b"db(", b"Db(", b"knex(", b"trx(")
# ORM models whose table name is not written out (TypeORM's `@Entity()`, Django's app_model,
# Flask-SQLAlchemy's `db.Model`), and Drizzle tables of other names (so that their uses are known
# not to be dynamic): files that may declare one are scanned.
TS_MODEL_HINTS = (b"pgTable", b"@Entity")


def parse_size(text: str) -> int:
    """`5MB`, `512k`, `1.5 MiB`, `1048576` → bytes (units of 1024); `0` means no limit."""
    match = _SIZE.match(str(text))
    if match is None:
        raise ValueError(f"not a size: {text!r} (e.g. 5MB, 512k, 0 for no limit)")
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()[:1]
    return int(number * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])


def format_size(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def candidate_files(
    paths: Sequence[Path], on_skip: OnSkip | None = None, roots: Sequence[Path] = ()
) -> Iterator[str]:
    """Source files under PATHS in a stable order (files given explicitly are always taken).
    Directories that cannot be listed go to ON_SKIP with the reason; so do links to directories
    outside PATHS and ROOTS (the other paths of the same scan).

    Plain strings and os.walk: on a 100,000-file tree, Path objects alone cost more than
    reading the files.
    """
    suffixes = tuple(SUFFIXES)
    skip = on_skip or (lambda path, reason: None)
    real_roots = [os.path.realpath(p) for p in (*paths, *roots)]
    for root in paths:
        if not root.is_dir():
            yield str(root)  # a file, or anything else: reading it says why it is skipped
            continue

        def unlistable(error: OSError) -> None:
            skip(str(error.filename), f"directory not readable ({error.strerror})")

        ignores: list[tuple[Path, pathspec.PathSpec]] = []
        for directory, dirnames, filenames in os.walk(root, onerror=unlistable):
            if ignores:
                ignores = [(b, spec) for b, spec in ignores if _within(Path(directory), b)]
            if ".gitignore" in filenames:
                here = Path(directory)
                try:
                    text = (here / ".gitignore").read_text(encoding="utf-8", errors="replace")
                except OSError as error:
                    skip(f"{directory}/.gitignore", f"not readable ({error.strerror}); not applied")
                else:
                    ignores.append((here, pathspec.GitIgnoreSpec.from_lines(text.splitlines())))
            keep = sorted(d for d in dirnames if d not in SKIP_DIRS)
            if ignores:
                keep = [d for d in keep if not _ignored(Path(directory, d), ignores, True)]
            dirnames[:] = [
                d for d in keep if not _outside_link(f"{directory}/{d}", real_roots, skip)
            ]
            for name in sorted(filenames):
                if name.endswith(suffixes):
                    path = f"{directory}/{name}"
                    if not ignores or not _ignored(Path(path), ignores, False):
                        yield path


def _outside_link(path: str, roots: list[str], skip: OnSkip) -> bool:
    """A symbolic link to a directory is not followed; reported unless its target is scanned
    anyway (inside one of the roots)."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    if any(target == r or target.startswith(r.rstrip("/") + "/") for r in roots):
        return True
    if os.path.isdir(target):
        skip(
            path, f"symbolic link to a directory outside the scanned paths ({target}); not followed"
        )
    return True


def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _ignored(path: Path, ignores: list[tuple[Path, pathspec.PathSpec]], is_dir: bool) -> bool:
    for base, spec in ignores:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


class Prefilter:
    """Cheap byte-level test: may this file reference a table (or hold a dynamic reference, or
    declare an ORM model)?

    A substring test first, then a word-boundary check only for files that pass it, so that
    `posted_decisions_archive` alone does not send a file to the parser. With HINTS off only the
    names count (the second pass, looking for files naming a model).
    """

    def __init__(self, names: Sequence[str], hints: bool = True) -> None:
        self.needles = [name.encode() for name in names]
        words = b"|".join(re.escape(n) for n in self.needles)
        self.word = re.compile(rb"(?<![\w$])(?:" + words + rb")(?![\w$])")
        self.hints = hints

    def __call__(self, data: bytes, path: str = "") -> bool:
        if any(needle in data for needle in self.needles) and self.word.search(data):
            return True
        if not self.hints:
            return False
        if path.endswith(".py"):
            if _python_model_hint(data, path):
                return True
        elif path.endswith(".prisma") or any(hint in data for hint in TS_MODEL_HINTS):
            return True
        if any(hint in data for hint in DYNAMIC_HINTS) and DYNAMIC_CALL.search(data):
            return True
        return any(hint in data for hint in HANDLE_HINTS) and bool(DYNAMIC_HANDLE_CALL.search(data))


def _python_model_hint(data: bytes, path: str) -> bool:
    """Django models and migrations (the table named by the app and the class), Flask models."""
    from migverify.scan.django import is_migration, is_models_file

    if (is_models_file(path) or is_migration(path)) and b"django" in data:
        return True
    return b"db.Model" in data


def read_candidate(
    path: str | Path,
    prefilter: Prefilter,
    max_bytes: int = DEFAULT_MAX_FILE_SIZE,
    label: str | None = None,
) -> tuple[bytes | None, str | None]:
    """(the file's bytes if it may mention a table name, else None; why it was skipped, if it
    was). MAX_BYTES 0 means no size limit. LABEL is the path relative to the scan's root."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        if os.path.islink(path) and not os.path.exists(path):
            return None, "broken symbolic link"
        return None, f"not readable ({error.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, f"not a regular file ({_file_kind(info.st_mode)})"
        if max_bytes and info.st_size > max_bytes:
            size, limit = format_size(info.st_size), format_size(max_bytes)
            return None, f"{size}, over the max file size of {limit}"
        data = _read_all(fd, info.st_size)
    except OSError as error:
        return None, f"not readable ({error.strerror})"
    finally:
        os.close(fd)
    if b"\0" in data[:8192]:
        return None, "binary (NUL bytes)"
    if not prefilter(data, label if label is not None else str(path)):
        return None, None
    return data, None


def _read_all(fd: int, size: int) -> bytes:
    """The whole file: a regular file's short read means its end (raw reads: no file object)."""
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    parts = [data]
    while chunk := os.read(fd, 1 << 20):  # it grew while being read
        parts.append(chunk)
    return b"".join(parts)


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"
