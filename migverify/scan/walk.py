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

import ahocorasick_rs
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
# Each is tried only where its hint was found (anchored): the hint search is one pass for all.
DYNAMIC_CALL = re.compile(rb"\.(?:from|table|from_|into)" + _OPERATION)
DYNAMIC_HANDLE_CALL = re.compile(rb"(?:knex|trx|[Dd]b)(?:\(\s*\))?" + _OPERATION)
DYNAMIC_HINTS = (b".from(", b".from_(", b".table(", b".into(")
HANDLE_HINTS = (b"db(", b"Db(", b"knex(", b"trx(")
# ORM models whose table name is not written out (TypeORM's `@Entity()`, Django's app_model,
# Flask-SQLAlchemy's `db.Model`), and Drizzle tables of other names (so that their uses are known
# not to be dynamic): files that may declare one are scanned.
TS_MODEL_HINTS = (b"pgTable", b"@Entity")
PY_MODEL_HINTS = (b"db.Model",)
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$")


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

        ignores: list[tuple[str, Callable[[str], bool]]] = []
        for directory, dirnames, filenames in os.walk(root, onerror=unlistable):
            if ignores:
                ignores = [(b, spec) for b, spec in ignores if _within(directory, b)]
            if ".gitignore" in filenames:
                try:
                    text = Path(directory, ".gitignore").read_text(
                        encoding="utf-8", errors="replace"
                    )
                except OSError as error:
                    skip(f"{directory}/.gitignore", f"not readable ({error.strerror}); not applied")
                else:
                    ignores.append((directory, _matcher(text)))
            keep = sorted(d for d in dirnames if d not in SKIP_DIRS)
            if ignores:
                keep = [d for d in keep if not _ignored(f"{directory}/{d}", ignores, True)]
            dirnames[:] = [
                d for d in keep if not _outside_link(f"{directory}/{d}", real_roots, skip)
            ]
            for name in sorted(filenames):
                if name.endswith(suffixes):
                    path = f"{directory}/{name}"
                    if not ignores or not _ignored(path, ignores, False):
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


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _ignored(path: str, ignores: list[tuple[str, Callable[[str], bool]]], is_dir: bool) -> bool:
    """Plain strings: on a 100,000-file tree, Path objects here cost more than the reading."""
    for base, matches in ignores:
        relative = path[len(base.rstrip("/")) + 1 :] + ("/" if is_dir else "")
        if matches(relative):
            return True
    return False


def _matcher(text: str) -> Callable[[str], bool]:
    """A .gitignore as one test of a relative path. Without negations (`!keep`) a path is
    ignored when any pattern matches: one combined regular expression, not one per pattern."""
    spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    patterns = [p for p in spec.patterns if getattr(p, "include", None) is not None]
    regexes = [getattr(p, "regex", None) for p in patterns]
    if not all(p.include for p in patterns) or any(
        r is None or not isinstance(r.pattern, str) for r in regexes
    ):
        return spec.match_file
    if not regexes:
        return lambda relative: False
    parts = [re.sub(r"\(\?P<\w+>", "(?:", r.pattern) for r in regexes if r is not None]
    combined = re.compile("|".join(f"(?:{part})" for part in parts))
    return lambda relative: combined.match(relative) is not None


class Prefilter:
    """Cheap byte-level test: may this file reference a table (or hold a dynamic reference, or
    declare an ORM model)?

    One Aho-Corasick pass finds every table name and every hint at once (a substring test per
    name and hint costs more than reading the file); a name counts only as a whole word, so that
    `posted_decisions_archive` alone does not send a file to the parser, and a hint only where
    the call it hints at follows. With HINTS off only the names count (the second pass, looking
    for files naming a model).
    """

    def __init__(self, names: Sequence[str], hints: bool = True) -> None:
        # Longest first: at one position the longest name is tried first (`items_archive`
        # before `items`), and matches do not overlap.
        needles = sorted({name.encode() for name in names}, key=lambda n: (-len(n), n))
        self.names = len(needles)
        self.kinds: list[str] = []
        patterns = list(needles)
        if hints:
            for kind, group in (
                ("dynamic", DYNAMIC_HINTS),
                ("handle", HANDLE_HINTS),
                ("ts-model", TS_MODEL_HINTS),
                ("py-model", PY_MODEL_HINTS),
            ):
                patterns += group
                self.kinds += [kind] * len(group)
        self.automaton = ahocorasick_rs.BytesAhoCorasick(
            patterns,
            matchkind=ahocorasick_rs.MatchKind.LeftmostFirst,
            implementation=ahocorasick_rs.Implementation.DFA,
        )
        self.hints = hints

    def __call__(self, data: bytes, path: str = "") -> bool:
        python = path.endswith(".py")
        if self.hints and (path.endswith(".prisma") or (python and _python_model_file(data, path))):
            return True
        for index, start, end in self.automaton.find_matches_as_indexes(data):
            if index < self.names:
                if (start == 0 or data[start - 1] not in _WORD) and (
                    end == len(data) or data[end] not in _WORD
                ):
                    return True
                continue
            kind = self.kinds[index - self.names]
            if kind == "dynamic" and DYNAMIC_CALL.match(data, start):
                return True
            if kind == "handle" and DYNAMIC_HANDLE_CALL.match(data, start):
                return True
            if kind == "ts-model" and not python or kind == "py-model" and python:
                return True
        return False


def _python_model_file(data: bytes, path: str) -> bool:
    """Django models and migrations: the table is named by the app and the class."""
    from migverify.scan.django import is_migration, is_models_file

    return (is_models_file(path) or is_migration(path)) and b"django" in data


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
