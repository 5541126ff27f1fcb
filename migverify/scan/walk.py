"""Finding the files to scan: .gitignore respected, vendored and build output skipped, binary
files skipped, and a cheap byte-level prefilter for the table names before any parsing."""

from __future__ import annotations

import os
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


def candidate_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Source files under PATHS in a stable order (files given explicitly are always taken)."""
    for root in paths:
        if root.is_file():
            yield root
            continue
        ignores: list[tuple[Path, pathspec.PathSpec]] = []
        for directory, dirnames, filenames in os.walk(root):
            here = Path(directory)
            ignores = [(base, spec) for base, spec in ignores if _within(here, base)]
            gitignore = here / ".gitignore"
            if gitignore.is_file():
                lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
                ignores.append((here, pathspec.GitIgnoreSpec.from_lines(lines)))
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not _ignored(here / d, ignores, True)
            )
            for name in sorted(filenames):
                path = here / name
                if path.suffix in SUFFIXES and not _ignored(path, ignores, False):
                    yield path


def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _ignored(path: Path, ignores: list[tuple[Path, pathspec.PathSpec]], is_dir: bool) -> bool:
    for base, spec in ignores:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


def read_candidate(path: Path, needles: Sequence[bytes]) -> bytes | None:
    """The file's bytes if it may mention a table name (and is text), else None."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    if not any(needle in data for needle in needles):
        return None
    return data
