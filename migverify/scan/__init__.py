"""`migverify scan`: every reference to a legacy table in a code base, with its operation and
columns. TypeScript/JavaScript and Python are parsed with tree-sitter, SQL with pglast."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from migverify.errors import InputError
from migverify.scan.model import DynamicReference, Reference, ScanResult
from migverify.scan.tables import TableMatcher

__all__ = ["DynamicReference", "Reference", "ScanResult", "scan_paths", "scan_source"]

PARALLEL_THRESHOLD = 64  # candidate files after the prefilter; below it one process is faster
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


def _scan_chunk(items: list[tuple[str, str]], tables: Sequence[str]) -> tuple[list, list]:
    references, dynamic = [], []
    for label, filename in items:
        data = Path(filename).read_bytes()
        refs, dyn = scan_source(label, data, tables)
        references += refs
        dynamic += dyn
    return references, dynamic


def scan_paths(
    paths: Sequence[Path],
    tables: Sequence[str],
    *,
    root: Path | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan files and directories for references to TABLES; paths in the result are relative
    to ROOT (default: the current directory) when they are under it."""
    from migverify.scan.walk import candidate_files, read_candidate

    if not tables:
        raise InputError("no tables to look for (give --table NAME or a spec with [tables.*])")
    root = (root or Path.cwd()).resolve()
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
    matcher = TableMatcher(tables)
    # `.from(` / `.table(`: a file may hold only a dynamic reference (`.from(tableName)`).
    needles = [name.encode() for name in matcher.names] + [b".from(", b".table(", b".from_("]
    scanned = 0
    candidates: list[tuple[str, str]] = []
    for path in candidate_files([Path(p) for p in paths]):
        scanned += 1
        if progress and scanned % 2000 == 0:
            progress(scanned, len(candidates))
        if read_candidate(path, needles) is not None:
            candidates.append((_label(path, root), str(path)))
    references: list[Reference] = []
    dynamic: list[DynamicReference] = []
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers > 1 and len(candidates) >= PARALLEL_THRESHOLD:
        size = max(8, len(candidates) // (workers * 4))
        chunks = [candidates[i : i + size] for i in range(0, len(candidates), size)]
        with ProcessPoolExecutor(workers) as pool:
            for refs, dyn in pool.map(_scan_chunk, chunks, [tuple(tables)] * len(chunks)):
                references += refs
                dynamic += dyn
    else:
        references, dynamic = _scan_chunk(candidates, tables)
    if progress:
        progress(scanned, len(candidates))
    references.sort(key=Reference.sort_key)
    dynamic.sort(key=DynamicReference.sort_key)
    return ScanResult(
        references=tuple(dict.fromkeys(references)),
        dynamic=tuple(dict.fromkeys(dynamic)),
        files_scanned=scanned,
        files_with_references=len({r.path for r in references}),
        tables=tuple(tables),
    )


def _label(path: Path, root: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
