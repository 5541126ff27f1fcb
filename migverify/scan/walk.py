"""Finding the files to scan: .gitignore respected, vendored and build output skipped, binary
files skipped, and a cheap byte-level prefilter for the table names before any parsing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pathspec

SUFFIXES = {".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".py", ".sql"}
SKIP_DIRS = {
    ".git", "node_modules", "dist", "build", "out", ".next", ".nuxt", "coverage", "vendor",
    "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    "target", ".turbo", ".cache",
}  # fmt: skip
MAX_BYTES = 5 * 1024 * 1024  # larger files are generated or data, not code
# A file without any table name may still hold a dynamic reference: a query-builder call with a
# computed table followed by an operation, e.g. `.from(tableName).select(…)`, `.table(t).insert(…)`,
# `this.db(this.tableName).where(…)`, `knex(name).first()`, `db()(table).del()`.
DYNAMIC_CALL = re.compile(
    rb"(?:\.(?:from|table|from_|into)|(?<![\w$])(?:knex|trx|[Dd]b)(?:\(\s*\))?)"
    rb"\(\s*[A-Za-z_$][\w$.]*\s*\)\s*\.\s*"
    rb"(?:select|insert|update|delete|upsert|del|where\w*|first|pluck|count|increment|decrement"
    rb"|truncate|returning|onConflict|\w*[jJ]oin)\b"
)
DYNAMIC_HINTS = (b".from", b".table(", b".into(", b"db(", b"Db(", b"knex(", b"trx(")


def candidate_files(paths: Sequence[Path]) -> Iterator[str]:
    """Source files under PATHS in a stable order (files given explicitly are always taken).

    Plain strings and os.walk: on a 100,000-file tree, Path objects alone cost more than
    reading the files.
    """
    suffixes = tuple(SUFFIXES)
    for root in paths:
        if root.is_file():
            yield str(root)
            continue
        ignores: list[tuple[Path, pathspec.PathSpec]] = []
        for directory, dirnames, filenames in os.walk(root):
            if ignores:
                ignores = [(b, spec) for b, spec in ignores if _within(Path(directory), b)]
            if ".gitignore" in filenames:
                here = Path(directory)
                text = (here / ".gitignore").read_text(encoding="utf-8", errors="replace")
                ignores.append((here, pathspec.GitIgnoreSpec.from_lines(text.splitlines())))
            keep = sorted(d for d in dirnames if d not in SKIP_DIRS)
            if ignores:
                keep = [d for d in keep if not _ignored(Path(directory, d), ignores, True)]
            dirnames[:] = keep
            for name in sorted(filenames):
                if name.endswith(suffixes):
                    path = f"{directory}/{name}"
                    if not ignores or not _ignored(Path(path), ignores, False):
                        yield path


def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _ignored(path: Path, ignores: list[tuple[Path, pathspec.PathSpec]], is_dir: bool) -> bool:
    for base, spec in ignores:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


class Prefilter:
    """Cheap byte-level test: may this file reference a table (or hold a dynamic reference)?

    A substring test first, then a word-boundary check only for files that pass it, so that
    `posted_decisions_archive` alone does not send a file to the parser.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.needles = [name.encode() for name in names]
        words = b"|".join(re.escape(n) for n in self.needles)
        self.word = re.compile(rb"(?<![\w$])(?:" + words + rb")(?![\w$])")

    def __call__(self, data: bytes) -> bool:
        if b"\0" in data[:8192]:
            return False
        if any(needle in data for needle in self.needles) and self.word.search(data):
            return True
        return any(hint in data for hint in DYNAMIC_HINTS) and DYNAMIC_CALL.search(data) is not None


def read_candidate(path: str | Path, prefilter: Prefilter) -> bytes | None:
    """The file's bytes if it may mention a table name (and is text), else None."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_BYTES:
                return None
            data = handle.read()
    except OSError:
        return None
    if not prefilter(data):
        return None
    return data
