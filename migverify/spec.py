"""The migration spec (`migverify.toml` or `[tool.migverify]` in pyproject.toml): model and validation.

Format (paths are relative to the spec file)::

    [legacy]
    sql = ["legacy.sql", "seed.sql"]     # or: dsn = "postgresql://..." (read only)
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
    columns = { content = "tweet_content" }          # legacy column -> target column (renames only)

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

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migverify.errors import InputError

SPEC_FILENAME = "migverify.toml"
_GENERATE_KEYS = {
    "legacy_tables",
    "lock_timeout",
    "batch_size",
    "out",
    "mode",
    "online_threshold",
    "switch_check",
}


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


@dataclass(frozen=True)
class Spec:
    """A validated migration spec."""

    path: Path
    legacy_sql: tuple[Path, ...]
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
    mode: str = "auto"  # auto | online | offline
    online_threshold: int = 50000
    switch_check: str = "count"  # count | checksum
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
    if pyproject.is_file() and "[tool.migverify" in pyproject.read_text(encoding="utf-8"):
        return pyproject
    raise InputError(f"{directory}: no {SPEC_FILENAME} (or [tool.migverify] in pyproject.toml)")


def load_spec(path: Path) -> Spec:
    """Read and validate a spec file; errors name FILE:LINE where the offending key is."""
    if path.is_dir():
        path = find_spec(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read spec: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"at line (\d+)", str(error))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise InputError(f"{where}: invalid TOML: {str(error).split(' (at line')[0]}") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("migverify")
        if data is None:
            raise InputError(f"{path}: no [tool.migverify] table")
    return _SpecReader(path, text, data).read()


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

    def choice(self, section: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
        value = section.get(key, allowed[0])
        if value not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            raise self.error(f"generate.{key}", f"generate.{key} must be one of {choices}")
        return value

    def pairs(self, key: str, value: Any) -> tuple[tuple[str, Any], ...]:
        if not isinstance(value, dict):
            raise self.error(key, f"{key} must be a table of name = value")
        return tuple(value.items())

    def table_spec(self, name: str, value: Any) -> TableSpec:
        key = f"tables.{name}"
        if not isinstance(value, dict):
            raise self.error(key, f"[{key}] must be a table")
        unknown = set(value) - {"target", "columns", "side", "discriminator", "mode"}
        if unknown:
            name = sorted(unknown)[0]
            raise self.error(f"{key}.{name}", f"[{key}]: unknown key {name!r}")
        mode = value.get("mode")
        if mode is not None and mode not in ("online", "offline"):
            raise self.error(f"{key}.mode", f'[{key}] mode must be "online" or "offline"')
        target = value.get("target")
        if not isinstance(target, str) or not target:
            raise self.error(key, f'[{key}] needs target = "<target table>"')
        sides = []
        for side in value.get("side", []):
            if not isinstance(side, dict) or not isinstance(side.get("table"), str):
                raise self.error(f"{key}.side", f'[[{key}.side]] needs table = "<side table>"')
            sides.append(
                SideTable(
                    table=side["table"],
                    join=self.pairs(f"{key}.side.join", side.get("join", {})),
                    columns=self.pairs(f"{key}.side.columns", side.get("columns", {})),
                )
            )
        return TableSpec(
            legacy=name,
            target=target,
            columns=self.pairs(f"{key}.columns", value.get("columns", {})),
            side=tuple(sides),
            discriminator=self.pairs(f"{key}.discriminator", value.get("discriminator", {})),
            mode=mode,
        )

    def read(self) -> Spec:
        legacy, generate, lint = (
            self.section("legacy"),
            self.section("generate"),
            self.section("lint"),
        )
        if not legacy.get("sql") and not legacy.get("dsn"):
            raise self.error("legacy", '[legacy] needs sql = [files] or dsn = "..."')
        tables = self.section("tables")
        if not tables:
            raise self.error("tables", "the spec names no [tables.<legacy table>]")
        unknown = set(generate) - _GENERATE_KEYS
        if unknown:
            name = sorted(unknown)[0]
            raise self.error(f"generate.{name}", f"[generate]: unknown key {name!r}")
        legacy_tables = generate.get("legacy_tables", "keep")
        if legacy_tables not in ("keep", "drop"):
            raise self.error("legacy_tables", 'generate.legacy_tables must be "keep" or "drop"')
        batch = generate.get("batch_size", 50000)
        if not isinstance(batch, int) or batch < 1:
            raise self.error("batch_size", "generate.batch_size must be a positive integer")
        mode = self.choice(generate, "mode", ("auto", "online", "offline"))
        switch_check = self.choice(generate, "switch_check", ("count", "checksum"))
        threshold = generate.get("online_threshold", 50000)
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            raise self.error(
                "generate.online_threshold", "generate.online_threshold must be a number of rows"
            )
        out = generate.get("out")
        max_file_size = self.section("scan").get("max_file_size", "5MB")
        try:
            from migverify.scan.walk import parse_size

            max_size = parse_size(str(max_file_size))
        except ValueError as error:
            raise self.error("scan.max_file_size", f"scan.max_file_size: {error}") from None
        return Spec(
            path=self.path,
            legacy_sql=self.paths("legacy", "sql"),
            legacy_dsn=legacy.get("dsn"),
            target_sql=self.paths("target", "sql"),
            scan_paths=self.paths("scan", "paths"),
            tables=tuple(self.table_spec(n, v) for n, v in tables.items()),
            legacy_tables=legacy_tables,
            lock_timeout=str(generate.get("lock_timeout", "5s")),
            batch_size=batch,
            out=(self.path.parent / out) if isinstance(out, str) else None,
            lint_ignore=tuple(lint.get("ignore", [])),
            scan_max_file_size=max_size,
            mode=mode,
            online_threshold=threshold,
            switch_check=switch_check,
            raw=self.data,
            text="\n".join(self.lines),
        )
