"""`migverify scan`: every reference to a legacy table in a code base, with its operation and
columns. TypeScript/JavaScript and Python are parsed with tree-sitter, SQL with pglast."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path

from migverify.errors import InputError
from migverify.scan import cache
from migverify.scan.found import Found
from migverify.scan.model import DynamicReference, Reference, ScanResult, SkippedFile
from migverify.scan.orm import Models
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
RACY_NS = 2_000_000_000  # see walk.Unchanged
NOT_TYPESCRIPT = (".py", ".sql", ".prisma", ".go", ".rs")
Progress = Callable[[int, int], None]
# Files of one directory: (the directory's label relative to the scan's root, the directory,
# the names of its files, those of them not listed as regular files), or (the file's label,
# None, [its path], ∅) for a file given explicitly.
Group = tuple[str, "str | None", list[str], frozenset[str]]


def scan_source(path: str, data: bytes, tables: Sequence[str]) -> tuple[list, list]:
    """References and dynamic references in one file's contents (PATH decides the language).
    ORM models are resolved within the file only; `scan_paths` resolves them across files."""
    found = scan_file(path, data, TableMatcher(tables))
    models = Models(found.declarations)
    if models:
        found = scan_file(path, data, TableMatcher(tables), models)
    return found.references, found.dynamics


def scan_file(path: str, data: bytes, matcher: TableMatcher, models: Models | None = None) -> Found:
    """What one file's contents hold: references, dynamic references, ORM declarations."""
    from migverify.scan.source import Source

    source = Source(path, data)
    suffix = Path(path).suffix
    if suffix == ".py":
        from migverify.scan.python import scan_python

        return scan_python(source, matcher, models)
    if suffix == ".sql":
        from migverify.scan.sqlfile import scan_sql

        return scan_sql(source, matcher)
    if suffix == ".prisma":
        from migverify.scan.prisma import scan_prisma_schema

        return scan_prisma_schema(source, matcher)
    if suffix == ".html":
        from migverify.scan.django_templates import scan_template

        return scan_template(source, matcher, models)
    if suffix in (".go", ".rs"):
        from migverify.scan.embedded import scan_embedded

        return scan_embedded(source, suffix, matcher, models)
    from migverify.scan.typescript import scan_typescript

    return scan_typescript(source, suffix, matcher, models)


@dataclass
class Kept:
    """What a chunk of files used of the results kept from earlier runs (their keys), the
    results it added, and the keys of the files declaring ORM models (in the tree's order:
    the second pass's results depend on them)."""

    used: list[bytes] = field(default_factory=list)
    new: dict[bytes, cache.Entry] = field(default_factory=dict)
    declared: list[bytes] = field(default_factory=list)
    # the files turned away (walk.Unchanged), by directory; by the second pass
    rejected: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    rejected_again: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    stale: bool = False  # a file turned away before was changed: the record is renewed

    def scan(
        self,
        store: str | None,
        label: str,
        data: bytes,
        matcher: TableMatcher,
        models: Models | None,
        context: bytes,
    ) -> cache.Entry:
        """`scan_file`'s references, dynamic references and declarations, from STORE when
        it holds them for these bytes (and CONTEXT)."""
        if store is None:
            found = scan_file(label, data, matcher, models)
            return found.references, found.dynamics, found.declarations
        key = cache.file_key(label, data, context)
        entry = cache.entries(store).get(key)
        if entry is None:
            found = scan_file(label, data, matcher, models)
            entry = self.new[key] = (found.references, found.dynamics, found.declarations)
        else:
            self.used.append(key)
        if entry[2]:
            self.declared.append(key)
        return entry


@functools.cache  # (`cache` here is migverify.scan.cache)
def _first_prefilter(names: tuple[str, ...]):
    """The first pass's prefilter, built once per process (its automata take 0.5 ms)."""
    from migverify.scan.walk import Prefilter

    return Prefilter(names)


def _scan_chunk(
    groups: list[Group],
    tables: Sequence[str],
    max_bytes: int,
    store: str | None = None,
    since: int = 0,
) -> tuple[list, list, list, list, list, Kept]:
    """Read, prefilter and scan a chunk of files; returns references, dynamic, skipped, ORM
    declarations, the files that may use an ORM model (for the second pass), and what the
    chunk used of what STORE (a cache file) kept and added to it (files written before SINCE
    and turned away are not read by the next run while they stay the same)."""
    from migverify.scan.typescript import reexports_in
    from migverify.scan.walk import Unchanged

    matcher = TableMatcher(tables)
    prefilter = _first_prefilter(matcher.names)
    references, dynamic, skipped, declarations, scanned = [], [], [], [], []
    kept = Kept()
    unchanged = Unchanged(cache.rejected(store), since) if store is not None else None
    for label, data, reason in _read_groups(groups, prefilter, max_bytes, unchanged):
        if reason is not None:
            skipped.append(SkippedFile(label, reason))
        if data is None:
            continue
        if not label.endswith(NOT_TYPESCRIPT) and prefilter.reexports_only(data):
            barrel = reexports_in(label, data)  # a barrel: its exports only
            if barrel and store is not None:
                kept.declared.append(cache.file_key(label, data))
            declarations += barrel
            continue
        refs, dyn, declared = kept.scan(store, label, data, matcher, None, b"")
        references += refs
        dynamic += dyn
        declarations += declared
        scanned.append(label)
    if unchanged is not None:
        kept.rejected = unchanged.recorded()[1]
        kept.stale = unchanged.stale
    return references, dynamic, skipped, declarations, scanned, kept


def _scan_uses(
    groups: list[Group],
    tables: Sequence[str],
    max_bytes: int,
    models: Models,
    store: str | None = None,
    context: bytes = b"",
    since: int = 0,
) -> tuple[list, list, list, list, Kept]:
    """The second pass: files naming a model (or a relation's accessor), scanned again with
    every declaration known (CONTEXT: their digest, for the kept results, and files it turned
    away before, written before SINCE, are not read again while unchanged); templates are read
    here only, when there are Django relations (the skipped ones among them are returned)."""
    from migverify.scan.walk import TEMPLATE_SUFFIX, Prefilter, Unchanged

    matcher = TableMatcher(tables)
    names = models.names()
    if "sequelize" in models.orms:
        from migverify.scan.sequelize import sequelize_row_calls

        names |= sequelize_row_calls(models)
    prefilter = Prefilter(
        sorted(names),
        hints=False,
        templates=bool(models.template_names()),
        python_names=sorted(
            models.accessor_names() | set(models.template_relations()) | models.user_names()
        ),
        template_names=sorted(models.template_names()),
        native_names=sorted(models.native_names()),
    )
    references, dynamic, rescanned, skipped = [], [], [], []
    kept = Kept()
    unchanged = None
    if store is not None:
        unchanged = Unchanged(cache.rejected_again(store, context), since)
    for label, data, reason in _read_groups(groups, prefilter, max_bytes, unchanged):
        if reason is not None and label.endswith(TEMPLATE_SUFFIX):
            skipped.append(SkippedFile(label, reason))
        if data is None:
            continue
        refs, dyn, _ = kept.scan(store, label, data, matcher, models, context)
        references += refs
        dynamic += dyn
        rescanned.append(label)
    if unchanged is not None:
        kept.rejected_again = unchanged.recorded()[1]
        kept.stale = unchanged.stale
    return references, dynamic, rescanned, skipped, kept


def _read_groups(
    groups: list[Group], prefilter, max_bytes: int, unchanged=None
) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(label, contents if the prefilter lets the file through, why it was skipped) of the
    files of GROUPS that were let through or skipped (UNCHANGED: see walk.read_directory)."""
    from migverify.scan.walk import read_candidate, read_directory

    for label_of, directory, names, special in groups:
        if directory is None:  # files given explicitly, under their own label
            for name in names:
                yield (label_of, *read_candidate(name, prefilter, max_bytes, label_of))
        else:
            yield from read_directory(
                directory, names, label_of, prefilter, max_bytes, special, unchanged
            )


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
    for table in tables:
        if not table.rpartition(".")[2].strip('"'):
            raise InputError(f"{table!r} is not a table name")
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
    items: list[Group] = []
    if workers > 1:  # imported once here: forked workers inherit the parsers' modules
        from migverify.scan import python, sqlfile, typescript  # noqa: F401
    store = cache.cache_file(paths, tables, root, max_file_size)
    # files written since then may change within their timestamps' granularity unseen
    since = time.time_ns() - RACY_NS
    if store is not None:
        cache.entries(store)  # read before the workers fork: they share it
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        parts = _first_pass(
            paths, root, skipped, items, tables, max_file_size, pool, progress, store, since
        )
        declarations = [d for part in parts for d in part[3]]
        for refs, dyn, skip, _, _, _ in parts:
            references += refs
            dynamic += dyn
            skipped += skip
        kept = [part[5] for part in parts]
        models = Models(declarations)
        context = b""
        if models:  # ORM models: the files naming one are scanned again, knowing them all
            context = blake2b(b"".join(k for part in kept for k in part.declared)).digest()
            redone = _second_pass(items, tables, max_file_size, models, pool, store, context, since)
            again = {path for _, _, paths_, _, _ in redone for path in paths_}
            references = [r for r in references if r.path not in again]
            dynamic = [d for d in dynamic if d.path not in again]
            for refs, dyn, _, skip, part in redone:
                references += refs
                dynamic += dyn
                skipped += skip
                kept.append(part)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if store is not None:
        _keep(store, kept, context, since)
    total = sum(len(group[2]) for group in items)
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


def _keep(store: str, parts: list[Kept], context: bytes, since: int) -> None:
    """Keep the results this run used or found, and only those, and the files each pass
    turned away (the second with its CONTEXT), for the next run; nothing is written when all
    is as kept."""
    earlier = cache.entries(store)
    results: dict[bytes, cache.Entry] = {}
    turned_away: dict[str, tuple[int, frozenset[str]]] = {}
    again: dict[str, tuple[int, frozenset[str]]] = {}
    for part in parts:
        for key in part.used:
            results[key] = earlier[key]
        results.update(part.new)
        turned_away.update(part.rejected)
        again.update(part.rejected_again)
    # the same files turned away as the kept ones say, none changed since: nothing is written
    if (
        any(part.stale for part in parts)
        or results.keys() != earlier.keys()
        or turned_away != cache.rejected(store)[1]
        or again != cache.rejected_again(store, context)[1]
    ):
        cache.save(store, results, (since, turned_away), (context, (since, again)))


def _first_pass(
    paths, root, skipped, items, tables, max_file_size, pool, progress, store=None, since=0
) -> list:
    """Walk the tree and scan every candidate file; ITEMS gets every directory walked. The
    parts come back in the tree's order whatever the number of workers."""
    futures: list[tuple[Future, int]] = []
    parts: list = []
    chunk: list[Group] = []
    walked = in_chunk = done = 0

    def advance(files: int) -> None:
        nonlocal done
        done += files
        if progress:
            progress(done, walked)

    # Chunks go to the workers while the tree is still being walked.
    for group in _groups(paths, root, skipped):
        chunk.append(group)
        items.append(group)
        walked += len(group[2])
        in_chunk += len(group[2])
        if in_chunk >= CHUNK:
            if pool is None:
                parts.append(_scan_chunk(chunk, tables, max_file_size, store, since))
                advance(in_chunk)
            else:
                futures.append((pool.submit(_scan_chunk, chunk, tuple(tables), max_file_size,
                                            store, since), in_chunk))  # fmt: skip
                while len(parts) < len(futures) and futures[len(parts)][0].done():
                    parts.append(futures[len(parts)][0].result())
                    advance(futures[len(parts) - 1][1])
            chunk, in_chunk = [], 0
    # the rest is scanned here while the workers finish theirs (not after them: a serial tail)
    last = _scan_chunk(chunk, tables, max_file_size, store, since)
    for future, files in futures[len(parts) :]:
        parts.append(future.result())
        advance(files)
    parts.append(last)
    advance(in_chunk)
    return parts


def _second_pass(
    items: list[Group], tables, max_file_size, models: Models, pool, store, context, since
) -> list:
    chunks = list(_chunks(items))
    if pool is None or len(chunks) <= 1:
        return [_scan_uses(items, tables, max_file_size, models, store, context, since)]
    futures = [
        pool.submit(_scan_uses, chunk, tuple(tables), max_file_size, models, store, context, since)
        for chunk in chunks
    ]
    return [future.result() for future in futures]


def _chunks(groups: list[Group]) -> Iterator[list[Group]]:
    """GROUPS in runs of at least CHUNK files (but whole directories)."""
    chunk: list[Group] = []
    size = 0
    for group in groups:
        chunk.append(group)
        size += len(group[2])
        if size >= CHUNK:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _groups(paths: Sequence[Path], root: Path, skipped: list[SkippedFile]) -> Iterator[Group]:
    """The candidate files a directory at a time, labelled relative to ROOT; directories that
    cannot be listed go to SKIPPED."""
    from migverify.scan.walk import candidate_groups

    for base in paths:
        prefix = _label(Path(base), root)  # resolve once per input path, not per file
        base_text = str(base)

        def on_skip(text: str, reason: str, base_text: str = base_text, prefix: str = prefix):
            skipped.append(SkippedFile(_relabel(text, base_text, prefix), reason))

        for directory, names, special in candidate_groups([Path(base)], on_skip, roots=paths):
            if directory is None:
                yield _relabel(names[0], base_text, prefix), None, names, special
            else:
                yield _relabel(directory, base_text, prefix), directory, names, special


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
