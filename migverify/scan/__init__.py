"""`migverify scan`: every reference to a legacy table in a code base, with its operation and
columns. TypeScript/JavaScript and Python are parsed with tree-sitter, SQL with pglast."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from migverify.errors import InputError
from migverify.scan.model import DynamicReference, Reference, ScanResult, SkippedFile
from migverify.scan.tables import TableMatcher
from migverify.scan.walk import DEFAULT_MAX_FILE_SIZE

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "DynamicReference",
    "Reference",
    "ScanResult",
    "SkippedFile",
    "scan_paths",
    "scan_source",
]

CHUNK = 2000  # files per worker task; a tree smaller than that is scanned in-process
Progress = Callable[[int, int], None]


def scan_source(path: str, data: bytes, tables: Sequence[str]) -> tuple[list, list]:
    """References and dynamic references in one file's contents (PATH decides the language)."""
    from migverify.scan.source import Source

    matcher = TableMatcher(tables)
    source = Source(path, data)
    suffix = Path(path).suffix
    if suffix == ".py":
        from migverify.scan.python import scan_python

        found = scan_python(source, matcher)
    elif suffix == ".sql":
        from migverify.scan.sqlfile import scan_sql

        found = scan_sql(source, matcher)
    else:
        from migverify.scan.typescript import scan_typescript

        found = scan_typescript(source, suffix, matcher)
    return found.references, found.dynamics


def _scan_chunk(
    items: list[tuple[str, str]], tables: Sequence[str], max_bytes: int
) -> tuple[list, list, list]:
    """Read, prefilter and scan a chunk of files; returns references, dynamic, skipped."""
    from migverify.scan.walk import Prefilter, read_candidate

    prefilter = Prefilter(TableMatcher(tables).names)
    references, dynamic, skipped = [], [], []
    for label, filename in items:
        data, reason = read_candidate(filename, prefilter, max_bytes)
        if reason is not None:
            skipped.append(SkippedFile(label, reason))
        if data is None:
            continue
        refs, dyn = scan_source(label, data, tables)
        references += refs
        dynamic += dyn
    return references, dynamic, skipped


def scan_paths(
    paths: Sequence[Path],
    tables: Sequence[str],
    *,
    root: Path | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> ScanResult:
    """Scan files and directories for references to TABLES; paths in the result are relative
    to ROOT (default: the current directory) when they are under it. Files over MAX_FILE_SIZE
    bytes (0: no limit), unreadable or binary ones are reported in `skipped`."""
    if not tables:
        raise InputError("no tables to look for (give --table NAME or a spec with [tables.*])")
    if max_file_size < 0:
        raise InputError("--max-file-size must be 0 (no limit) or a positive size")
    root = (root or Path.cwd()).resolve()
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    references: list[Reference] = []
    dynamic: list[DynamicReference] = []
    skipped: list[SkippedFile] = []
    total = 0
    if workers > 1:  # imported once here: forked workers inherit the parsers' modules
        from migverify.scan import python, sqlfile, typescript  # noqa: F401
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    futures = []
    chunk: list[tuple[str, str]] = []
    try:
        # Chunks go to the workers while the tree is still being walked.
        for item in _files(paths, root, skipped):
            chunk.append(item)
            total += 1
            if len(chunk) == CHUNK and pool is not None:
                futures.append(pool.submit(_scan_chunk, chunk, tuple(tables), max_file_size))
                chunk = []
        parts = [future.result() for future in futures]
        if progress:
            progress(total - len(chunk), total)
        parts.append(_scan_chunk(chunk, tables, max_file_size))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for refs, dyn, skip in parts:
        references += refs
        dynamic += dyn
        skipped += skip
    if progress:
        progress(total, total)
    references.sort(key=Reference.sort_key)
    dynamic.sort(key=DynamicReference.sort_key)
    skipped.sort(key=SkippedFile.sort_key)
    return ScanResult(
        references=tuple(dict.fromkeys(references)),
        dynamic=tuple(dict.fromkeys(dynamic)),
        files_scanned=total,
        files_with_references=len({r.path for r in references}),
        tables=tuple(tables),
        skipped=tuple(dict.fromkeys(skipped)),
    )


def _files(
    paths: Sequence[Path], root: Path, skipped: list[SkippedFile]
) -> Iterator[tuple[str, str]]:
    """(label relative to ROOT, file name) of every candidate file; directories that cannot be
    listed go to SKIPPED."""
    from migverify.scan.walk import candidate_files

    for base in paths:
        prefix = _label(Path(base), root)  # resolve once per input path, not per file
        base_text = str(base)

        def on_skip(text: str, reason: str, base_text: str = base_text, prefix: str = prefix):
            skipped.append(SkippedFile(_relabel(text, base_text, prefix), reason))

        for text in candidate_files([Path(base)], on_skip, roots=paths):
            yield _relabel(text, base_text, prefix), text


def _relabel(text: str, base_text: str, prefix: str) -> str:
    """TEXT (a path under BASE_TEXT) relative to the scan's root, where BASE_TEXT is PREFIX."""
    inner = text[len(base_text) :].lstrip("/") if text.startswith(base_text) else text
    return f"{prefix}/{inner}" if inner and prefix != "." else inner or prefix


def _label(path: Path, root: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
