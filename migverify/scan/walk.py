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
    ".go", ".rs",  # SQL in string literals (embedded.py)
}  # fmt: skip
# Django/Jinja templates: `.html` files under a `templates/` directory (below the scanned path),
# read only once the scan knows Django relations whose accessors they may walk.
TEMPLATE_SUFFIX = ".html"
SKIP_DIRS = {
    ".git", "node_modules", "dist", "build", "out", ".next", ".nuxt", "coverage", "vendor",
    "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    "target", ".turbo", ".cache",
}  # fmt: skip
DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024  # larger files are usually generated or data
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.I)
OnSkip = Callable[[str, str], None]  # (path, reason)
Matcher = Callable[[str], bool]  # a path relative to a .gitignore's directory: ignored?
# A file without any table name may still hold a dynamic reference: a query-builder call with a
# computed table followed by an operation, e.g. `.from(tableName).select(…)`, `.table(t).insert(…)`,
# `this.db(this.tableName).where(…)`, `knex(name).first()`, `db()(table).del()`.
# Possessive (`*+`): what the name and the spaces around it take is never given back (no
# other way to match exists), so a call that is not one (`Array.from(a.b.c as T[])`) fails at
# once instead of backtracking through the name.
_OPERATION = (
    rb"\(\s*+[A-Za-z_$][\w$.]*+\s*+\)\s*+\.\s*+"
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
# Drizzle's relations() / defineRelations() lead from one table to others.
TS_MODEL_HINTS = (b"pgTable", b"sqliteTable", b"mysqlTable", b"@Entity", b"elations(")
TS_MODEL_HINTS += (b"@ChildEntity",)  # TypeORM's single-table inheritance
TS_MODEL_HINTS += (b"extends Repository<",)  # a TypeORM custom repository (@EntityRepository too)
# Sequelize's associations (`User.hasMany(models.Post, { as: 'posts' })`)
TS_MODEL_HINTS += (b".hasMany(", b".belongsTo(", b".hasOne(", b".belongsToMany(")
# …and its models named by default (`sequelize.define('user', …)`, `User.init(…, { sequelize })`)
TS_MODEL_HINTS += (b".define(", b"extends Model", b"freezeTableName")
# …and helpers running a model's queries on their parameter (`prune(Model) { Model.findAll() }`)
TS_MODEL_HINTS += (b".findAll(", b".findByPk(", b".findAndCountAll(", b".bulkCreate(",
                   b".findOrCreate(")  # fmt: skip
PY_MODEL_HINTS = (b"db.Model", b"table=True")  # Flask-SQLAlchemy, SQLModel
PY_MODEL_HINTS += (b"__mapper_args__",)  # a subclass of a model (single-table inheritance)
# SQLAlchemy relationships (from models of other tables too) and marshmallow-sqlalchemy schemas
PY_MODEL_HINTS += (b"relationship(", b"AlchemyAutoSchema", b"AlchemySchema", b"ModelSchema")
PY_MODEL_HINTS += (b"ModelForm", b"ModelSerializer")  # Django, DRF: saving a model's row
PY_MODEL_HINTS += (b"peewee", b"playhouse")  # its models, named by their classes
PY_MODEL_HINTS += (b"session.add(self", b"session.delete(self")  # a mixin's save() and delete()
PY_MODEL_HINTS += (b"user_loader", b"user_lookup_loader")  # what current_user is a row of
# a data-access module's functions returning a row they read (SQLAlchemy's `db.query(User)`,
# `session.exec(select(User))`, `session.get(User, id)`), usable where it is imported
PY_MODEL_HINTS += (b"db.query(", b"session.query(", b"session.exec(", b"session.scalar",
                   b"session.get(", b"session.execute(select(")  # fmt: skip
PY_MODEL_HINTS += (b".query.filter", b".query.get(")  # Flask-SQLAlchemy's `User.query.…first()`
PY_MODEL_HINTS += (b"Identifier(",)  # psycopg's sql.Identifier(name): a computed table, dynamic
PY_MODEL_HINTS += (b"AUTH_USER_MODEL",)  # Django's user model: what request.user is a row of
# SQL naming a table through a hole (`SELECT * FROM ${table}`, f"DELETE FROM {table}"): a
# dynamic reference, whatever the file names. Upper case only: `from ` begins every import
# line, and a hint beginning so would make the Aho-Corasick pass twice as slow (RESULTS 5g)
SQL_HOLE_HINTS = tuple(
    f"{keyword} {brace}".encode()
    for keyword in ("FROM", "JOIN", "INTO", "UPDATE")
    for brace in ("${", "{")
)
# A function running a Prisma Client operation on a model named by its parameter
# (`client[model].findMany(…)`): its calls name the model.
PRISMA_HELPER = re.compile(
    rb"\]\.(?:find(?:Many|First|Unique)|create|update|upsert|delete|count|aggregate|groupBy)"
    rb"\w*+\s*+\("
)
PRISMA_HELPER_HINTS = (b"].find", b"].create", b"].update", b"].upsert", b"].delete", b"].count",
                       b"].aggregate", b"].groupBy")  # fmt: skip
# A TypeScript module re-exporting others (`export * from './schema'`, `export { t } from …`):
# a model may travel under its names. A file let through for that alone (a barrel) is not
# parsed: its re-exports are read from the text (`reexports_only`).
REEXPORT = re.compile(rb"export\s*+(?:type\s++)?(?:\*(?:\s*+as\s++[\w$]++)?|\{[^}]*+\})\s*+from\b")
REEXPORT_HINTS = (b"export *", b"export {", b"export type {")
IDENTIFIER_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$")


TEDDY_LIMIT = 64  # patterns an automaton may hold with its SIMD prefilter on
# f-strings and .format() templates written in lower case (`f"select * from {table}"`); after a
# space, not an import line's `from x`
PY_SQL_HOLE_HINTS = tuple(f" {k} {{".encode() for k in ("from", "join", "into", "update"))
# The hints by the files they count in: Python files and templates, or the others
PYTHON_ONLY: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("dynamic", DYNAMIC_HINTS),
    ("handle", HANDLE_HINTS),
    ("py-model", PY_MODEL_HINTS),
    ("sql-hole", SQL_HOLE_HINTS + PY_SQL_HOLE_HINTS),
)
PYTHON_OTHER: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("dynamic", DYNAMIC_HINTS),
    ("handle", HANDLE_HINTS),
    ("ts-model", TS_MODEL_HINTS),
    ("prisma-helper", PRISMA_HELPER_HINTS),
    ("reexport", REEXPORT_HINTS),
    ("sql-hole", SQL_HOLE_HINTS),
)
# diesel's structs whose rows code writes (`update(&row)` needs Identifiable, `save_changes`
# AsChangeset), aliases and traits whose default methods query `Self::table()`, SeaORM's
# entities imported under a name (a prelude's `use super::cake::Entity as Cake`), of a table whose
# Rust name only the second pass knows: a Rust file holding one is read in the first pass, for
# what the other files need of it
RS_MODEL_HINTS = (
    b"Identifiable", b"AsChangeset", b"alias!", b"Self::table", b">::table()", b"::Entity as ",
)  # fmt: skip
RUST: tuple[tuple[str, tuple[bytes, ...]], ...] = (*PYTHON_OTHER, ("native-model", RS_MODEL_HINTS))
# GORM's finishers given a model's value (`db.First(&user)`: the table is the struct's, named
# nowhere in the file), and a struct's `TableName()` (kept for the other files)
GO_GORM_HINTS = (
    b".First(&", b".Find(&", b".Take(&", b".Last(&", b".Create(", b".Save(", b".Delete(&",
    b".Model(&", b".Updates(", b".FirstOrCreate(&", b".FirstOrInit(&", b"TableName()",
)  # fmt: skip
GO: tuple[tuple[str, tuple[bytes, ...]], ...] = (*PYTHON_OTHER, ("native-model", GO_GORM_HINTS))


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
    outside PATHS and ROOTS (the other paths of the same scan)."""
    for directory, names, _ in candidate_groups(paths, on_skip, roots):
        if directory is None:
            yield from names
        else:
            for name in names:
                yield f"{directory}/{name}"


def candidate_groups(
    paths: Sequence[Path], on_skip: OnSkip | None = None, roots: Sequence[Path] = ()
) -> Iterator[tuple[str | None, list[str], frozenset[str]]]:
    """`candidate_files` a directory at a time: (directory, names of its source files, those of
    them that the listing did not show as regular files: links, FIFOs, …), or (None, [path], ∅)
    for a file given explicitly. The workers open the files relative to their directory (one
    path lookup per directory, not per file), and read a regular file without asking its size.

    Plain strings and os.scandir: on a 100,000-file tree, Path objects alone cost more than
    reading the files.
    """
    suffixes = (*SUFFIXES, TEMPLATE_SUFFIX)
    skip = on_skip or (lambda path, reason: None)
    real_roots = [os.path.realpath(p) for p in (*paths, *roots)]
    for root in paths:
        if not root.is_dir():
            # a file, or anything else: reading it says why it is skipped
            yield None, [str(root)], frozenset()
            continue

        def unlistable(error: OSError) -> None:
            skip(str(error.filename), f"directory not readable ({error.strerror})")

        ignores: list[tuple[str, Matcher, Matcher | None]] = []
        top = os.fspath(root)
        walk = _walk(top, unlistable, suffixes)
        for directory, dirnames, filenames, gitignore, special in walk:
            if ignores:
                ignores = [entry for entry in ignores if _within(directory, entry[0])]
            if gitignore:
                try:
                    text = Path(directory, ".gitignore").read_text(
                        encoding="utf-8", errors="replace"
                    )
                except OSError as error:
                    skip(f"{directory}/.gitignore", f"not readable ({error.strerror}); not applied")
                else:
                    ignores.append((directory, _matcher(text), _matcher(text, files=True)))
            keep = sorted(d for d in dirnames if d not in SKIP_DIRS)
            if ignores:
                keep = [d for d in keep if not _ignored(f"{directory}/{d}", ignores, True)]
            dirnames[:] = [
                d for d in keep if not _outside_link(f"{directory}/{d}", real_roots, skip)
            ]
            names = sorted(filenames)
            if not _templates(directory, top):
                names = [n for n in names if not n.endswith(TEMPLATE_SUFFIX)]
            if names and any(entry[2] is not None for entry in ignores):  # a file pattern
                names = [n for n in names if not _ignored(f"{directory}/{n}", ignores, False)]
            if names:
                yield directory, names, special.intersection(names) if special else _NONE


_NONE: frozenset[str] = frozenset()


def _templates(directory: str, top: str) -> bool:
    """Is DIRECTORY (walked from TOP) inside a `templates` directory below or at TOP?"""
    inside = f"/{os.path.basename(top.rstrip('/'))}{directory[len(top) :]}/"
    return "/templates/" in inside


def _walk(
    top: str, onerror: Callable[[OSError], None], suffixes: tuple[str, ...]
) -> Iterator[tuple[str, list[str], list[str], bool, frozenset[str]]]:
    """os.walk(TOP, onerror=ONERROR) (top-down, links to directories listed among the
    directories but not walked into, DIRNAMES edited in place by the caller), with only the
    files whose names end with one of SUFFIXES, whether a (non-directory) .gitignore is there,
    and the names of the files the listing does not show as regular files (symbolic links,
    FIFOs, sockets, devices, an unknown type the lstat could not settle). Those are read with
    an fstat first; a regular one is read without (its type comes with the listing)."""
    stack = [top]
    while stack:
        top = stack.pop()
        dirs: list[str] = []
        files: list[str] = []
        special: set[str] = set()
        gitignore = False
        try:
            entries = os.scandir(top)
        except OSError as error:
            onerror(error)
            continue
        listed = True
        with entries:
            try:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    name = entry.name
                    if is_dir:
                        dirs.append(name)
                        continue
                    if not name.endswith(suffixes):
                        gitignore = gitignore or name == ".gitignore"
                        continue
                    files.append(name)
                    try:
                        regular = entry.is_file(follow_symlinks=False)
                    except OSError:
                        regular = False
                    if not regular:
                        special.add(name)
            except OSError as error:  # the listing failed part way: os.walk leaves the directory
                onerror(error)
                listed = False
        if not listed:
            continue
        yield top, dirs, files, gitignore, frozenset(special) if special else _NONE
        for name in reversed(dirs):
            path = os.path.join(top, name)
            if not os.path.islink(path):
                stack.append(path)


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


def _ignored(path: str, ignores: list[tuple[str, Matcher, Matcher | None]], is_dir: bool) -> bool:
    """Plain strings: on a 100,000-file tree, Path objects here cost more than the reading."""
    for base, directories, files in ignores:
        matches = directories if is_dir else files
        if matches is None:
            continue
        relative = path[len(base.rstrip("/")) + 1 :] + ("/" if is_dir else "")
        if matches(relative):
            return True
    return False


def _matcher(text: str, files: bool = False) -> Matcher | None:
    """A .gitignore as one test of a relative path. Without negations (`!keep`) a path is
    ignored when any pattern matches: one combined regular expression, not one per pattern.

    With FILES, the test for the files of a listed directory (None: no pattern can ignore one).
    Without negations a directory-only pattern (`node_modules/`) leaves out the files under a
    directory it matches, and such a directory is not walked into: testing each file against it
    again costs more than the walk."""
    lines = text.splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    patterns = [p for p in spec.patterns if getattr(p, "include", None) is not None]
    regexes = [getattr(p, "regex", None) for p in patterns]
    if not all(p.include for p in patterns) or any(
        r is None or not isinstance(r.pattern, str) for r in regexes
    ):
        return spec.match_file
    if files:
        kept = [line for line in lines if not line.rstrip().endswith("/")]
        regexes = [
            getattr(p, "regex", None) for p in pathspec.GitIgnoreSpec.from_lines(kept).patterns
        ]
        regexes = [r for r in regexes if r is not None]
    if not regexes:
        return None if files else (lambda relative: False)
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
    for files naming a model). PYTHON_NAMES count only in Python files and templates (Django's
    relation accessors, `member_set`, `tags`: ordinary words elsewhere), TEMPLATE_NAMES only in
    templates (Django's forward foreign keys, `donor`: what a Python file reads them on names
    its model). NATIVE_NAMES count only in Rust and Go files (diesel's and GORM's structs and
    aliases: `Version`, `Crate`). Templates (`.html`) are let through only with TEMPLATES (the second pass, when
    relations are known), and then for the names alone.
    """

    def __init__(
        self,
        names: Sequence[str],
        hints: bool = True,
        templates: bool = False,
        python_names: Sequence[str] = (),
        template_names: Sequence[str] = (),
        native_names: Sequence[str] = (),
    ) -> None:
        self.templates = templates  # are templates read at all (the second pass, with relations)
        # Longest first: at one position the longest name is tried first (`items_archive`
        # before `items`), and matches do not overlap.
        everywhere = {name.encode() for name in names}
        python = {name.encode() for name in python_names} - everywhere
        only_templates = {name.encode() for name in template_names} - everywhere - python
        native = {name.encode() for name in native_names} - everywhere - python - only_templates
        needles = sorted(everywhere | python | only_templates | native, key=lambda n: (-len(n), n))
        self.names = len(needles)
        self.python_only = [needle in python or needle in only_templates for needle in needles]
        self.template_only = [needle in only_templates for needle in needles]
        self.native_only = [needle in native for needle in needles]
        # Automata for Python files (and templates) and for the others, each with the names and
        # the hints that count there, in runs of at most 64 patterns: over 64 the Aho-Corasick
        # library's SIMD prefilter (Teddy) is off and a pass takes 3.3 times as long (two
        # passes with it cost less than one without; a name is tested as a whole word, so one
        # found inside a longer one in another run is rejected as it would be in the same).
        self.kinds, self.automata = self._automata(needles, hints, PYTHON_OTHER)
        self.python_kinds, self.python_automata = self._automata(needles, hints, PYTHON_ONLY)
        self.rust_kinds, self.rust_automata = self._automata(needles, hints, RUST)
        self.go_kinds, self.go_automata = self._automata(needles, hints, GO)
        self.hints = hints

    @staticmethod
    def _automata(
        needles: list[bytes], hints: bool, groups: tuple[tuple[str, tuple[bytes, ...]], ...]
    ) -> tuple[list[str], list[tuple[int, ahocorasick_rs.BytesAhoCorasick]]]:
        """(the kind of each hint, the automata finding the NEEDLES and the hints of GROUPS:
        each with the index of its first pattern among them all)."""
        kinds: list[str] = []
        patterns = list(needles)
        for kind, group in groups if hints else ():
            patterns += group
            kinds += [kind] * len(group)
        automata = [
            (start, ahocorasick_rs.BytesAhoCorasick(
                patterns[start : start + TEDDY_LIMIT],
                matchkind=ahocorasick_rs.MatchKind.LeftmostFirst,
                implementation=ahocorasick_rs.Implementation.DFA,
            ))
            for start in range(0, len(patterns), TEDDY_LIMIT)
        ]  # fmt: skip
        return kinds, automata

    # The files whose verdict depends on their path (Django models and migrations, Prisma
    # schemas, and which model hints count); for the others `scan(data)` is the whole test.
    BY_PATH = (".py", ".prisma", TEMPLATE_SUFFIX, ".rs", ".go")

    def __call__(self, data: bytes, path: str = "") -> bool:
        if path.endswith(TEMPLATE_SUFFIX):
            return self.templates and self.scan(data, True, template=True)
        python = path.endswith(".py")
        if self.hints and (path.endswith(".prisma") or (python and _python_model_file(data, path))):
            return True
        return self.scan(data, python, rust=path.endswith(".rs"), go=path.endswith(".go"))

    def reexports_only(self, data: bytes) -> bool:
        """Was a (TypeScript) file let through for its re-exports alone?"""
        return not self.scan(data, reexports=False)

    def scan(
        self,
        data: bytes,
        python: bool = False,
        reexports: bool = True,
        template: bool = False,
        rust: bool = False,
        go: bool = False,
    ) -> bool:
        """The Aho-Corasick pass: a table name as a word, or a hint followed by its call.
        PYTHON: a Python file or a template (TEMPLATE); RUST, GO: a Rust or Go file."""
        if python:
            automata, kinds = self.python_automata, self.python_kinds
        elif rust:
            automata, kinds = self.rust_automata, self.rust_kinds
        elif go:
            automata, kinds = self.go_automata, self.go_kinds
        else:
            automata, kinds = self.automata, self.kinds
        for first, automaton in automata:
            if self._matches(automaton.find_matches_as_indexes(data), first, kinds, data,
                             python, reexports, template, rust or go):  # fmt: skip
                return True
        return False

    def _matches(self, matches, first: int, kinds: list[str], data: bytes, python: bool,
                 reexports: bool, template: bool, native: bool = False) -> bool:  # fmt: skip
        """Does one of MATCHES (of an automaton whose patterns start at index FIRST) count?"""
        for found, start, end in matches:
            index = first + found
            if index < self.names:
                if (start == 0 or data[start - 1] not in IDENTIFIER_BYTES) and (
                    end == len(data) or data[end] not in IDENTIFIER_BYTES
                ):
                    if template or (
                        not self.template_only[index]
                        and (python or not self.python_only[index])
                        and (native or not self.native_only[index])
                    ):
                        return True
                continue
            kind = kinds[index - self.names]
            if kind == "dynamic" and DYNAMIC_CALL.match(data, start):
                return True
            if kind == "handle" and DYNAMIC_HANDLE_CALL.match(data, start):
                return True
            if kind == "ts-model" and not python or kind == "py-model" and python:
                return True
            if kind == "native-model" and native:
                return True
            if kind == "prisma-helper" and not python and PRISMA_HELPER.match(data, start):
                return True
            if kind == "reexport" and reexports and not python and REEXPORT.match(data, start):
                return True
            if kind == "sql-hole":
                return True
        return False


def _python_model_file(data: bytes, path: str) -> bool:
    """Django models and migrations: the table is named by the app and the class."""
    from migverify.scan.django import is_migration, is_models_file

    return (is_models_file(path) or is_migration(path)) and b"django" in data


# What a run records of the files it turned away: (the start of its trust window, ns) and, by
# directory label, (the directory's inode, the names of the files turned away there)
Rejected = tuple[int, dict[str, tuple[int, frozenset[str]]]]
NOTHING_REJECTED: Rejected = (0, {})


class Unchanged:
    """Files an earlier run read and the prefilter turned away (KNOWN: by directory label, the
    directory's inode and the files' names, all read after SINCE_KNOWN, ns). One whose change
    time (and modification time) is still before SINCE_KNOWN has not changed since that run
    read it, so it is not read again: any write, rename or link of a file sets its change
    time, which no program can set back (git's index trusts it the same way). A directory of
    another inode under the same label (moved in with its old files) counts as unknown.

    The files turned away now, known or not, are recorded in REJECTED, valid for a later run
    from SINCE: the run's start, less the timestamps' granularity (a file changed within it,
    "racily clean" for git, is read again). Recording them needs no `stat`: a first run costs
    what it would without the cache."""

    def __init__(self, known: Rejected, since: int) -> None:
        self.since_known, self.known = known
        self.since = since
        self.rejected: dict[str, tuple[int, set[str]]] = {}
        self.stale = False  # a file known before was read again: the record needs renewing

    def here(self, label_of: str, dir_fd: int | None) -> tuple[frozenset[str], set[str]]:
        """(the files of directory LABEL_OF turned away before and known unchanged if they
        still look it, the set of those turned away now, to fill)"""
        try:
            inode = os.fstat(dir_fd).st_ino if dir_fd is not None else -1
        except OSError:
            inode = -1
        now: set[str] = set()
        if inode >= 0:
            self.rejected[label_of] = (inode, now)
        known = self.known.get(label_of)
        if known is None or known[0] != inode or inode < 0:
            return _NO_NAMES, now
        return known[1], now

    def same(self, name: str, path: str, dir_fd) -> bool:
        """Is the file NAME (at PATH; one turned away before) unchanged since?"""
        try:
            info = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            self.stale = True
            return False  # reading it says why
        if info.st_ctime_ns < self.since_known and info.st_mtime_ns < self.since_known:
            return True
        self.stale = True
        return False

    def recorded(self) -> Rejected:
        """What this run turned away, for the next one."""
        return self.since, {
            label: (inode, frozenset(names)) for label, (inode, names) in self.rejected.items()
            if names
        }  # fmt: skip


_NO_NAMES: frozenset[str] = frozenset()


def read_directory(
    directory: str,
    names: Sequence[str],
    label_of: str,
    prefilter: Prefilter,
    max_bytes: int,
    special: frozenset[str] = frozenset(),
    unchanged: Unchanged | None = None,
) -> list[tuple[str, bytes | None, str | None]]:
    """`read_candidate` for the files NAMES of DIRECTORY (whose label is LABEL_OF): (label,
    contents, why skipped) of the files the prefilter lets through or that were skipped; the
    others are left out. With UNCHANGED, a file turned away before is not read while its
    change time says it was not changed since, and those turned away now are recorded there.

    One loop for the whole directory, opening each file relative to it (one path lookup per
    directory, not per file). A file the listing showed as regular is read with one bounded
    read, without an fstat (its size is not needed when the read comes back short); anything
    out of the ordinary (an error, a file in SPECIAL, a read that
    fills the bound: a file over 64 KiB or over the size limit) is left to `read_candidate`,
    which says why."""
    try:
        dir_fd: int | None = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        dir_fd = None  # each file then says why it cannot be read
    # A read shorter than BOUND holds the whole file, and the file is within the size limit.
    bound = min(_READ_BOUND, max_bytes + 1) if max_bytes else _READ_BOUND
    kept: list[tuple[str, bytes | None, str | None]] = []
    prefix = "" if label_of == "." else f"{label_of}/"
    within = "" if dir_fd is not None else f"{directory}/"
    scan = prefilter.scan
    templates = prefilter.templates
    before, now = unchanged.here(label_of, dir_fd) if unchanged is not None else (_NO_NAMES, None)
    try:
        for name in names:
            if not templates and name.endswith(TEMPLATE_SUFFIX):
                continue  # not even read: nothing in a template is known to look for
            data = None
            if name not in special:  # one bounded read (inline: a call per file costs)
                if name in before and unchanged and unchanged.same(name, within + name, dir_fd):
                    now.add(name)  # type: ignore[union-attr]
                    continue
                try:
                    fd = os.open(within + name, _READ_FLAGS, dir_fd=dir_fd)
                except OSError:
                    pass
                else:
                    try:
                        data = os.read(fd, bound)
                    except OSError:
                        pass
                    finally:
                        os.close(fd)
                    if data is not None and len(data) >= bound:
                        data = None
            if data is None:
                label = prefix + name
                data, reason = read_candidate(within + name, prefilter, max_bytes, label, dir_fd)
                if data is not None or reason is not None:
                    kept.append((label, data, reason))
            elif b"\0" in data if len(data) <= 8192 else data.find(b"\0", 0, 8192) >= 0:
                kept.append((prefix + name, None, _BINARY))  # a NUL in the first 8 KB
            elif prefilter(data, prefix + name) if name.endswith(Prefilter.BY_PATH) else scan(data):
                kept.append((prefix + name, data, None))
            elif now is not None:
                now.add(name)  # turned away: not read next time while unchanged
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    return kept


_READ_BOUND = 64 * 1024
_BINARY = "binary (NUL bytes)"


def read_candidate(
    path: str | Path,
    prefilter: Prefilter,
    max_bytes: int = DEFAULT_MAX_FILE_SIZE,
    label: str | None = None,
    dir_fd: int | None = None,
) -> tuple[bytes | None, str | None]:
    """(the file's bytes if it may mention a table name, else None; why it was skipped, if it
    was). MAX_BYTES 0 means no size limit. LABEL is the path relative to the scan's root; PATH
    is relative to the directory DIR_FD when given."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if _broken_link(path, dir_fd):
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
    if data.find(b"\0", 0, 8192) >= 0:
        return None, _BINARY
    if not prefilter(data, label if label is not None else str(path)):
        return None, None
    return data, None


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def _broken_link(path: str | Path, dir_fd: int | None) -> bool:
    """A symbolic link whose target cannot be reached (os.path.islink and not exists)."""
    try:
        if not stat.S_ISLNK(os.lstat(path, dir_fd=dir_fd).st_mode):
            return False
    except OSError:
        return False
    try:
        os.stat(path, dir_fd=dir_fd)
    except OSError:
        return True
    return False


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
