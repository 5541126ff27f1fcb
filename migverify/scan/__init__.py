"""`migverify scan`: every reference to a legacy table in a code base, with its operation and
columns. TypeScript/JavaScript and Python are parsed with tree-sitter, SQL with pglast."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from migverify.errors import InputError
from migverify.scan.model import DynamicReference, Reference, ScanResult
from migverify.scan.tables import TableMatcher

__all__ = ["DynamicReference", "Reference", "ScanResult", "scan_paths", "scan_source"]

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


def _scan_chunk(items: list[tuple[str, str]], tables: Sequence[str]) -> tuple[list, list, int]:
    """Read, prefilter and scan a chunk of files; returns references, dynamic, files parsed."""
    from migverify.scan.walk import Prefilter, read_candidate

    prefilter = Prefilter(TableMatcher(tables).names)
    references, dynamic, parsed = [], [], 0
    for label, filename in items:
        data = read_candidate(filename, prefilter)
        if data is None:
            continue
        parsed += 1
        refs, dyn = scan_source(label, data, tables)
        references += refs
        dynamic += dyn
    return references, dynamic, parsed


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
    if not tables:
        raise InputError("no tables to look for (give --table NAME or a spec with [tables.*])")
    root = (root or Path.cwd()).resolve()
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    references: list[Reference] = []
    dynamic: list[DynamicReference] = []
    total = 0
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    futures = []
    chunk: list[tuple[str, str]] = []
    try:
        # Chunks go to the workers while the tree is still being walked.
        for item in _files(paths, root):
            chunk.append(item)
            total += 1
            if len(chunk) == CHUNK and pool is not None:
                futures.append(pool.submit(_scan_chunk, chunk, tuple(tables)))
                chunk = []
        parts = [future.result() for future in futures]
        if progress:
            progress(total - len(chunk), total)
        parts.append(_scan_chunk(chunk, tables))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for refs, dyn, _ in parts:
        references += refs
        dynamic += dyn
    if progress:
        progress(total, total)
    references.sort(key=Reference.sort_key)
    dynamic.sort(key=DynamicReference.sort_key)
    return ScanResult(
        references=tuple(dict.fromkeys(references)),
        dynamic=tuple(dict.fromkeys(dynamic)),
        files_scanned=total,
        files_with_references=len({r.path for r in references}),
        tables=tuple(tables),
    )


def _files(paths: Sequence[Path], root: Path) -> Iterator[tuple[str, str]]:
    """(label relative to ROOT, file name) of every candidate file."""
    from migverify.scan.walk import candidate_files

    for base in paths:
        prefix = _label(Path(base), root)  # resolve once per input path, not per file
        base_text = str(base)
        for text in candidate_files([Path(base)]):
            inner = text[len(base_text) :].lstrip("/") if text != base_text else ""
            label = f"{prefix}/{inner}" if inner and prefix != "." else inner or prefix
            yield label, text


def _label(path: Path, root: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
