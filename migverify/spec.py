"""The migration spec (`migverify.toml` or `[tool.migverify]` in pyproject.toml): model and validation.

Format (paths are relative to the spec file)::

    [legacy]
    sql = ["legacy.sql", "seed.sql"]     # or: dsn = "postgresql://..." (read only)
    supabase = "supabase"                # a Supabase CLI directory: migrations/*.sql, then seeds
    migrations = "db/migrations"         # or any migration history (migverify/history/): its SQL
                                         # in the order its tool runs it, before sql
    layout = "dbmate"                    # optional: the history's layout when not detected
    before = "20240301120000_orders"     # optional: the migration under test; the legacy state is
                                         # the history before it ([target], [tables] optional)
    skip_extensions = ["http"]           # extensions not created (used only in function bodies)
    roles = "roles.sql"                  # optional: pg_dumpall --roles-only output (like --roles)
    [target]
    sql = ["target.sql"]
    [scan]
    paths = ["app"]
    max_file_size = "5MB"                # larger files are skipped and reported; 0: no limit
    [generate]
    legacy_tables = "keep"               # keep (renamed to <name>_legacy) | drop
    lock_timeout = "5s"
    batch_size = 50000
    out = "migrations"                   # where generated SQL is committed (drift check)
    mode = "auto"                        # auto | online | offline: how tables are cut over
    online_threshold = 50000             # auto: online from this many rows (pg_class.reltuples)
    switch_check = "count"               # count | checksum: what the online switch confirms
    [lint]
    ignore = ["MV008"]

    [tables.posted_decisions]            # one entry per legacy table
    target = "posted_tweets_comprehensive"
    mode = "online"                                  # optional: overrides [generate] mode
    columns = { content = "tweet_content" }          # legacy column -> target column

    [tables.products]                    # a transform: another type or a computed mapping
    target = "items"
    columns = { price = { column = "price_cents", up = "round(price * 100)::bigint", down = "price_cents / 100.0" } }
    fill = { sku = "'P-' || id" }                     # a new NOT NULL target column: its value

    [tables.user_bios]                   # split: some columns live in a side table joined on the key
    target = "users"
    [[tables.user_bios.side]]
    table = "user_profiles"
    join = { id = "user_id" }                        # target key column -> side table column
    columns = { bio = "bio" }                        # legacy column -> side table column

    [tables.x_posts]                     # merge: a filtered view over a shared table
    target = "posts"
    discriminator = { platform = "x" }
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migverify.errors import InputError, SQLFileError
from migverify.history.model import History, Migration
from migverify.sqlload import Source, notice

SPEC_FILENAME = "migverify.toml"
# Every key the spec knows, per section: anything else is an error with a did-you-mean.
SECTION_KEYS: dict[str, frozenset[str]] = {
    "legacy": frozenset(
        {"sql", "dsn", "roles", "supabase", "skip_extensions", "migrations", "layout", "before"}
    ),
    "target": frozenset({"sql"}),
    "scan": frozenset({"paths", "max_file_size"}),
    "generate": frozenset(
        {
            "legacy_tables",
            "lock_timeout",
            "batch_size",
            "out",
            "mode",
            "online_threshold",
            "switch_check",
        }
    ),
    "lint": frozenset({"ignore"}),
    "tables": frozenset(),  # one sub-table per legacy table, checked with TABLE_KEYS
}
TABLE_KEYS = frozenset({"target", "columns", "side", "discriminator", "mode", "fill"})
TRANSFORM_KEYS = frozenset({"column", "up", "down"})
SIDE_KEYS = frozenset({"table", "join", "columns"})


@dataclass(frozen=True)
class SideTable:
    """A side table of a split: legacy columns stored in another table joined on the key."""

    table: str
    join: tuple[tuple[str, str], ...]  # (target key column, side table column)
    columns: tuple[tuple[str, str], ...]  # (legacy column, side column)


@dataclass(frozen=True)
class TableSpec:
    """How one legacy table maps onto the target schema."""

    legacy: str
    target: str
    columns: tuple[tuple[str, str], ...] = ()  # explicit renames: (legacy column, target column)
    side: tuple[SideTable, ...] = ()
    discriminator: tuple[tuple[str, Any], ...] = ()  # (target column, constant value)
    mode: str | None = None  # online | offline; None: [generate] mode decides
    # Transforms: (legacy column, up, down) — up computes the target column from the legacy
    # columns, down the legacy column from the target columns (SQL expressions).
    transforms: tuple[tuple[str, str, str], ...] = ()
    fill: tuple[tuple[str, str], ...] = ()  # (new target column, expression over legacy columns)


@dataclass(frozen=True)
class Spec:
    """A validated migration spec."""

    path: Path
    legacy_sql: tuple[Source, ...]  # files, or scripts read from a migration history
    legacy_dsn: str | None
    target_sql: tuple[Path, ...]
    scan_paths: tuple[Path, ...]
    tables: tuple[TableSpec, ...]
    legacy_tables: str = "keep"
    lock_timeout: str = "5s"
    batch_size: int = 50000
    out: Path | None = None
    lint_ignore: tuple[str, ...] = ()
    scan_max_file_size: int = 5 * 1024 * 1024
    supabase_dir: Path | None = None  # a Supabase project's directory: its files lead legacy_sql
    skip_extensions: tuple[str, ...] = ()
    mode: str = "auto"  # auto | online | offline
    online_threshold: int = 50000
    switch_check: str = "count"  # count | checksum
    roles: Path | None = None  # pg_dumpall --roles-only output to create before loading
    history: History | None = None  # [legacy] migrations (or supabase), as its tool runs it
    # [legacy] before: the migration under test (its up is the layer, its down the rollback);
    # legacy_sql then holds the history up to it.
    migration: Migration | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.legacy for t in self.tables)

    def error(self, key: str, message: str) -> InputError:
        """An error naming the spec file and the line where dotted KEY is defined."""
        return _SpecReader(self.path, self.text, self.raw).error(key, message)

    def supabase_options(self, force: bool = False) -> Any:
        """How SQL is loaded for this spec: the Supabase shim always for a Supabase directory
        (or FORCE, `--supabase`), else when the SQL needs it; the extensions to skip."""
        from migverify.supabase import SupabaseOptions

        mode = "on" if force or self.supabase_dir is not None else "auto"
        asked_by = "--supabase" if force else "[legacy] supabase"
        return SupabaseOptions(mode=mode, skip_extensions=self.skip_extensions, asked_by=asked_by)

    def column_key(self, table_key: str, column: str) -> str:
        """The dotted key of COLUMN's mapping in [TABLE_KEY] columns, for error()."""
        return _SpecReader(self.path, self.text, self.raw).place(f"{table_key}.columns", column)

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.legacy == name:
                return t
        raise InputError(f"{self.path}: no table {name!r} in the spec")


def find_spec(directory: Path) -> Path:
    """Return the spec file in DIRECTORY: migverify.toml, else a pyproject.toml with [tool.migverify]."""
    candidate = directory / SPEC_FILENAME
    if candidate.is_file():
        return candidate
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file() and b"[tool.migverify" in pyproject.read_bytes():
        return pyproject
    raise InputError(f"{directory}: no {SPEC_FILENAME} (or [tool.migverify] in pyproject.toml)")


def load_spec(path: Path) -> Spec:
    """Read and validate a spec file; errors name FILE:LINE where the offending key is."""
    if path.is_dir():
        path = find_spec(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read spec: {error.strerror}") from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a BOM, as some editors write
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+)", str(error))
        # "(at end of document)": a truncated spec; its end is on the line tomllib would count
        line = found.group(1) if found else text.count("\n") + 1
        message = re.sub(r" \(at (line \d+, column \d+|end of document)\)$", "", str(error))
        raise InputError(f"{path}:{line}: invalid TOML: {message}") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("migverify")
        if data is None:
            raise InputError(f"{path}: no [tool.migverify] table")
    return _SpecReader(path, text, data).read()


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _toml_type(value: Any) -> str:
    """How TOML calls the type of a value, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class _LegacyHistory:
    """What [legacy] migrations (or supabase) gives the spec."""

    history: History | None = None
    migration: Migration | None = None
    scripts: tuple[Source, ...] = ()
    supabase_dir: Path | None = None
    notices: tuple[str, ...] = ()  # printed once the whole spec is valid


class _SpecReader:
    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path, self.lines, self.data = path, text.splitlines(), data

    def error(self, key: str, message: str) -> InputError:
        return InputError(f"{self.path}:{self._line_of(key)}: {message}")

    def _line_of(self, key: str) -> int:
        """Line of a dotted KEY such as `tables.users.columns`: inside its table's section
        when there is one, else the first line that defines its last component."""
        parts = key.split(".")
        header = self._header_line(parts)
        if header:
            leaf = parts[-1]
            for number in range(header + 1, len(self.lines) + 1):
                line = self.lines[number - 1]
                if line.lstrip().startswith("["):
                    break
                if re.match(r"\s*\"?" + re.escape(leaf) + r"\"?\s*=", line):
                    return number
            return header
        pattern = re.compile(r"^\s*(\[+\s*)?[\w.\"' -]*\b" + re.escape(parts[-1]) + r"\b")
        for number, line in enumerate(self.lines, start=1):
            if pattern.search(line) and all(p in line for p in parts[-2:]):
                return number
        for number, line in enumerate(self.lines, start=1):
            if pattern.search(line):
                return number
        return 1

    def _header_line(self, parts: list[str]) -> int | None:
        """The `[section]` line for the longest prefix of PARTS that is a table header."""
        for size in range(len(parts), 0, -1):
            names = parts[:size]
            pattern = re.compile(
                r"^\s*\[\[?\s*"
                + r"\s*\.\s*".join(r"\"?" + re.escape(n) + r"\"?" for n in names)
                + r"\s*\]"
            )
            for number, line in enumerate(self.lines, start=1):
                if pattern.match(line):
                    return number
        return None

    def unknown(self, key: str, name: str, known: frozenset[str] | set[str], what: str) -> None:
        """Raise for an unknown key NAME (dotted KEY) with the closest known name, if any."""
        if name in known:
            return
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if not close:
            homes = [s for s, keys in SECTION_KEYS.items() if name in keys]
            if homes:
                hint = f" (it belongs in [{homes[0]}])"
            elif known:
                hint = f" (known: {', '.join(sorted(known))})"
        raise self.error(key, f"unknown {what} {name!r}{hint}")

    def check_keys(self) -> None:
        """Unknown sections and keys are errors: a typo must not be ignored silently."""
        for section, value in self.data.items():
            self.unknown(section, section, set(SECTION_KEYS), "section")
            if not isinstance(value, dict):
                raise self.error(section, f"[{section}] must be a table")
            if section == "tables":
                continue
            for key in value:
                self.unknown(f"{section}.{key}", key, SECTION_KEYS[section], f"key in [{section}]")

    def typed(
        self,
        key: str,
        value: Any,
        kind: type | tuple[type, ...],
        wanted: str,
        at: str | None = None,
    ) -> Any:
        """VALUE when it has the type KIND (a bool is no number), else an error naming KEY, at
        the line of AT (a key inside KEY) when given."""
        if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _kinds(kind)):
            return value
        raise self.error(at or key, f"{key} must be {wanted}, not {_toml_type(value)}")

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(name, f"[{name}] must be a table")
        return value

    def paths(self, section: str, key: str) -> tuple[Path, ...]:
        value = self.section(section).get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{section}.{key}", f"{section}.{key} must be a list of paths")
        result = []
        for item in value:
            resolved = (self.path.parent / item).resolve()
            if not resolved.exists():
                raise self.error(f"{section}.{key}", f"{section}.{key}: {item} does not exist")
            result.append(resolved)
        return tuple(result)

    def names(self, section: str, key: str) -> tuple[str, ...]:
        value = self.section(section).get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(f"{section}.{key}", f"{section}.{key} must be a list of names")
        return tuple(value)

    def history(self, legacy: dict[str, Any]) -> _LegacyHistory:
        """[legacy] migrations (or supabase): the history read as its tool runs it, the legacy
        scripts it gives and, with `before`, the migration under test."""
        key = "migrations" if "migrations" in legacy else "supabase"
        if key not in legacy:
            for other in ("layout", "before"):
                if other in legacy:
                    raise self.error(
                        f"legacy.{other}", f'legacy.{other} needs migrations = "<directory>"'
                    )
            return _LegacyHistory()
        if "supabase" in legacy and key == "migrations":
            raise self.error(
                "legacy.migrations",
                'give legacy.migrations or legacy.supabase, not both (supabase = "dir" is '
                'migrations = "dir" with layout = "supabase")',
            )
        where, value = f"legacy.{key}", legacy[key]
        if not isinstance(value, str) or not value:
            example = '"supabase"' if key == "supabase" else '"db/migrations"'
            raise self.error(where, f"{where} must be a directory ({example})")
        directory = (self.path.parent / value).resolve()
        if not directory.is_dir():
            raise self.error(where, f"{where}: {value} is not a directory")
        history = self.read_history(where, directory, self.layout(legacy, key))
        notices = tuple(f"{path}: not run ({reason})" for path, reason in history.skipped)
        supabase_dir = None
        if history.layout == "supabase":
            from migverify.history.supabase import project_dir

            supabase_dir = project_dir(history.directory)
        before = legacy.get("before")
        if before is None:
            return _LegacyHistory(history, None, history.scripts(), supabase_dir, notices)
        if not isinstance(before, str) or not before:
            raise self.error("legacy.before", "legacy.before must be a migration's name")
        try:
            index = history.index(before)
        except InputError as error:
            raise self.error("legacy.before", f"legacy.before: {error}") from None
        if history.seeds:
            notices += (
                f"{directory}: seeds not loaded: with before = {before!r} the legacy state is "
                "the history before that migration, and seeds are written for the last one",
            )
        scripts = (*history.preamble, *(s for m in history.migrations[:index] for s in m.runs()))
        migration = history.migrations[index]
        return _LegacyHistory(history, migration, scripts, supabase_dir, notices)

    def layout(self, legacy: dict[str, Any], key: str) -> str | None:
        """[legacy] layout, checked; `supabase = …` is the layout "supabase"."""
        from migverify.history import LAYOUTS

        layout = legacy.get("layout")
        if layout is not None:
            self.typed("legacy.layout", layout, str, "a layout name")
            self.unknown("legacy.layout", layout, set(LAYOUTS), "migration layout")
        if key == "supabase":
            if layout not in (None, "supabase"):
                raise self.error(
                    "legacy.layout", f'legacy.supabase is a Supabase project, not layout "{layout}"'
                )
            return "supabase"
        return layout

    def read_history(self, where: str, directory: Path, layout: str | None) -> History:
        """The history in DIRECTORY; an error in one of its files names that file and line,
        any other names the spec's line too."""
        from migverify.history import read_history

        try:
            return read_history(directory, layout)
        except SQLFileError:
            raise
        except InputError as error:
            raise self.error(where, f"{where}: {error}") from None

    def choice(self, section: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
        value = section.get(key, allowed[0])
        if value not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            raise self.error(f"generate.{key}", f"generate.{key} must be one of {choices}")
        return value

    def pairs(self, key: str, value: Any, values: str = "column") -> tuple[tuple[str, Any], ...]:
        """A table of name = value: column names (VALUES "column") or constants ("value")."""
        if not isinstance(value, dict):
            raise self.error(key, f"{key} must be a table of name = {values}")
        for name, item in value.items():
            where = self.place(key, name)  # the entry's own line in a [KEY] section
            if values == "expression":
                wanted = f'a table of name = "<SQL expression>" ({name} is not)'
                self.typed(key, item, str, wanted, at=where)
            elif values == "column":
                self.typed(key, item, str, f'a table of name = "column" ({name} is not)', at=where)
                if not item:
                    raise self.error(where, f"{key}: {name} is mapped to an empty name")
            elif not isinstance(item, str | int | float | bool):
                raise self.error(where, f"{key}: {name} must be a string, number or boolean")
        return tuple(value.items())

    def column_map(
        self, key: str, value: Any
    ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, str], ...]]:
        """`columns`: legacy column = "target column", or = { column, up, down } (a transform)."""
        if not isinstance(value, dict):
            raise self.error(key, f"{key} must be a table of name = column")
        plain = {n: v for n, v in value.items() if not isinstance(v, dict)}
        pairs = dict(self.pairs(key, plain))
        transforms = []
        for name, item in value.items():
            if not isinstance(item, dict):
                continue
            where = self.place(key, name)
            for part in item:
                self.unknown(where, part, TRANSFORM_KEYS, f"key in the transform of {name}")
            column = self.typed(where, item.get("column", ""), str, "a column name")
            if not column:
                raise self.error(where, f'{key}: the transform of {name} needs column = "<target>"')
            if "up" not in item or "down" not in item:
                raise self.error(
                    where,
                    f"{key}: the transform of {name} needs both up (the target value from the "
                    "legacy columns) and down (the legacy value from the target columns)",
                )
            up = self.expression(where, f"up of {name}", item["up"])
            down = self.expression(where, f"down of {name}", item["down"])
            pairs[name] = column
            transforms.append((name, up, down))
        order = [n for n in value if n in pairs]
        return tuple((n, pairs[n]) for n in order), tuple(transforms)

    def place(self, key: str, name: str) -> str:
        """KEY.NAME when NAME = … has a line of its own (a [KEY] section), else KEY (inline)."""
        candidate = f"{key}.{name}"
        line = self.lines[self._line_of(candidate) - 1] if self.lines else ""
        return candidate if re.match(r'\s*"?' + re.escape(name) + r'"?\s*=', line) else key

    def expression(self, key: str, what: str, value: Any) -> str:
        """A SQL expression of the spec, checked by PostgreSQL's own parser (pglast)."""
        from pglast import parse_sql
        from pglast.parser import ParseError

        text = self.typed(key, value, str, "an SQL expression")
        try:
            statements = parse_sql(f"SELECT {text}")
        except ParseError as error:
            raise self.error(
                key, f"{key}: {what}: {text!r} is not an SQL expression ({error})"
            ) from None
        select = statements[0].stmt if len(statements) == 1 else None
        if (
            select is None
            or len(select.targetList or ()) != 1
            or select.fromClause
            or select.whereClause
        ):
            raise self.error(key, f"{key}: {what}: {text!r} is not one SQL expression")
        return text.strip()

    def check_mappings(self, key: str, table: TableSpec) -> None:
        """No two legacy columns onto one column, no legacy column mapped twice."""
        seen: dict[tuple[str, str], str] = {}
        mapped: dict[str, str] = {}
        places = [(f"{key}.columns", table.target, table.columns)]
        places += [(f"{key}.side.columns", side.table, side.columns) for side in table.side]
        for where, holder, columns in places:
            for legacy_column, column in columns:
                if legacy_column in mapped:
                    raise self.error(
                        where,
                        f"[{key}]: legacy column {legacy_column!r} is mapped twice "
                        f"({mapped[legacy_column]} and {holder}.{column})",
                    )
                mapped[legacy_column] = f"{holder}.{column}"
                other = seen.get((holder, column))
                if other is not None:
                    raise self.error(
                        where,
                        f"[{key}]: legacy columns {other!r} and {legacy_column!r} are both "
                        f"mapped to {holder}.{column}",
                    )
                seen[holder, column] = legacy_column

    def table_spec(self, name: str, value: Any) -> TableSpec:
        key = f"tables.{name}"
        if not isinstance(value, dict):
            raise self.error(key, f"[{key}] must be a table")
        for item in value:
            self.unknown(f"{key}.{item}", item, TABLE_KEYS, f"key in [{key}]")
        mode = value.get("mode")
        if mode is not None and mode not in ("online", "offline"):
            raise self.error(f"{key}.mode", f'[{key}] mode must be "online" or "offline"')
        target = value.get("target")
        if target is not None:
            self.typed(f"{key}.target", target, str, "a table name")
        if not target:
            raise self.error(key, f'[{key}] needs target = "<target table>"')
        sides = []
        side_list = value.get("side", [])
        if not isinstance(side_list, list):
            raise self.error(f"{key}.side", f"{key}.side must be [[{key}.side]] tables")
        for side in side_list:
            if isinstance(side, dict) and side.get("table") is not None:
                self.typed(f"{key}.side.table", side["table"], str, "a table name")
            if not isinstance(side, dict) or not side.get("table"):
                raise self.error(f"{key}.side", f'[[{key}.side]] needs table = "<side table>"')
            for item in side:
                self.unknown(f"{key}.side.{item}", item, SIDE_KEYS, f"key in [[{key}.side]]")
            join = self.pairs(f"{key}.side.join", side.get("join", {}))
            if not join:
                raise self.error(
                    f"{key}.side", f'[[{key}.side]] needs join = {{ <key> = "<side column>" }}'
                )
            sides.append(
                SideTable(
                    table=side["table"],
                    join=join,
                    columns=self.pairs(f"{key}.side.columns", side.get("columns", {})),
                )
            )
        columns, transforms = self.column_map(f"{key}.columns", value.get("columns", {}))
        fill = self.pairs(f"{key}.fill", value.get("fill", {}), "expression")
        for column, expression in fill:
            self.expression(f"{key}.fill", f"fill of {column}", expression)
        table = TableSpec(
            legacy=name,
            target=target,
            columns=columns,
            side=tuple(sides),
            discriminator=self.pairs(
                f"{key}.discriminator", value.get("discriminator", {}), "value"
            ),
            mode=mode,
            transforms=transforms,
            fill=fill,
        )
        self.check_mappings(key, table)
        return table

    def read(self) -> Spec:
        self.check_keys()
        legacy, generate, lint = (
            self.section("legacy"),
            self.section("generate"),
            self.section("lint"),
        )
        # A key of the wrong type is named at its own line, not as a missing one.
        if "sql" in legacy:
            self.paths("legacy", "sql")
        for key in ("dsn", "supabase", "migrations"):
            if key in legacy:
                self.typed(f"legacy.{key}", legacy[key], str, "a string")
        if not any(legacy.get(key) for key in ("sql", "dsn", "supabase", "migrations")):
            raise self.error(
                "legacy",
                '[legacy] needs sql = [files], migrations = "<directory>", '
                'supabase = "<directory>" or dsn = "..."',
            )
        history = self.history(legacy)
        tables = self.section("tables")
        # With `before`, the migration under test creates the targets; the tables it maps can
        # be inferred from it.
        if not tables and history.migration is None:
            raise self.error("tables", "the spec names no [tables.<legacy table>]")
        legacy_tables = generate.get("legacy_tables", "keep")
        if legacy_tables not in ("keep", "drop"):
            raise self.error("legacy_tables", 'generate.legacy_tables must be "keep" or "drop"')
        batch = generate.get("batch_size", 50000)
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise self.error("batch_size", "generate.batch_size must be a positive integer")
        online_mode = self.choice(generate, "mode", ("auto", "online", "offline"))
        switch_check = self.choice(generate, "switch_check", ("count", "checksum"))
        threshold = generate.get("online_threshold", 50000)
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            raise self.error(
                "generate.online_threshold", "generate.online_threshold must be a number of rows"
            )
        max_file_size = self.section("scan").get("max_file_size", "5MB")
        try:
            from migverify.scan.walk import parse_size

            max_size = parse_size(str(max_file_size))
        except ValueError as error:
            raise self.error("scan.max_file_size", f"scan.max_file_size: {error}") from None
        lock_timeout = self.typed(
            "generate.lock_timeout", generate.get("lock_timeout", "5s"), (str, int), 'like "5s"'
        )
        out = self.typed("generate.out", generate.get("out", ""), str, "a directory path")
        dsn = self.typed("legacy.dsn", legacy.get("dsn", ""), str, "a connection string")
        ignore = self.typed("lint.ignore", lint.get("ignore", []), list, "a list of rule ids")
        for rule in ignore:
            self.typed("lint.ignore", rule, str, 'a list of rule ids like "MV008"')
        if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
            raise self.error("tables", "[tables] must hold one [tables.<legacy table>] per table")
        roles = self.paths("legacy", "roles")
        if len(roles) > 1:
            raise self.error("legacy.roles", 'legacy.roles must be one file: roles = "roles.sql"')
        spec = Spec(
            path=self.path,
            legacy_sql=(*history.scripts, *self.paths("legacy", "sql")),
            legacy_dsn=dsn or None,
            target_sql=self.paths("target", "sql"),
            scan_paths=self.paths("scan", "paths"),
            tables=tuple(self.table_spec(n, v) for n, v in tables.items()),
            legacy_tables=legacy_tables,
            lock_timeout=str(lock_timeout),
            batch_size=batch,
            out=(self.path.parent / out) if out else None,
            lint_ignore=tuple(ignore),
            scan_max_file_size=max_size,
            supabase_dir=history.supabase_dir,
            skip_extensions=self.names("legacy", "skip_extensions"),
            mode=online_mode,
            online_threshold=threshold,
            switch_check=switch_check,
            roles=roles[0] if roles else None,
            history=history.history,
            migration=history.migration,
            raw=self.data,
            text="\n".join(self.lines),
        )
        for message in history.notices:
            notice(message)
        return spec
