"""sqlx (`sqlx migrate run`, `sqlx::migrate!()`): the files `<version>_<description>.sql` of the
migrations directory, or reversible pairs `<version>_<description>.up.sql` / `.down.sql`, in
numeric version order (`10_…` after `9_…`), as sqlx's resolver reads them: a name without `_`
or not ending in `.sql` is not a migration, a version that is not an integer is refused. Each
migration runs in a transaction unless its file starts with `-- no-transaction`. The directory
is `migrations/` beside the crate's Cargo.toml, or sqlx.toml's `[migrate] migrations-dir`;
sqlx.toml's `create-schemas` are created first."""

from __future__ import annotations

import re
from pathlib import Path

from migverify.errors import InputError
from migverify.history.config_files import read_toml
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.history.transaction import in_transaction
from migverify.sqlload import Script, read_script

_NOT_RUN = "sqlx runs only <version>_<description>.sql (or .up.sql; .down.sql reverts)"
_NO_TRANSACTION = "-- no-transaction"
_SUBDIRECTORY = "a directory: sqlx does not look into subdirectories"
DEFAULT_DIR = "migrations"
SCHEMAS = "history/sqlx_schemas.sql.j2"


def _named(path: Path) -> bool:
    """A file sqlx's resolver takes: `<something>_<something>.sql`."""
    _, underscore, rest = path.name.partition("_")
    return bool(underscore) and rest.endswith(".sql") and path.is_file()


def crate_of(directory: Path) -> Path | None:
    """The root of the Rust crate (or workspace) using sqlx that DIRECTORY belongs to: the
    nearest of its parents (three levels up) with a Cargo.toml, when that names sqlx or has a
    sqlx.toml beside it."""
    for parent in list(directory.resolve().parents)[:3]:
        cargo = parent / "Cargo.toml"
        if cargo.is_file():
            if (parent / "sqlx.toml").is_file():
                return parent
            try:
                text = cargo.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            return parent if re.search(r"\bsqlx\b", text) else None
    return None


def detect(directory: Path) -> bool:
    """`<version>_<description>.sql` files in a directory of a crate using sqlx (the names alone
    are golang-migrate's, Supabase's or anybody's)."""
    return any(_named(p) for p in entries(directory)) and crate_of(directory) is not None


def locate(root: Path) -> Path | None:
    """The crate's migrations directory: sqlx.toml's `[migrate] migrations-dir`, by default
    `migrations/`, when ROOT is a crate using sqlx."""
    if not (root / "sqlx.toml").is_file() and crate_of(root / DEFAULT_DIR) != root.resolve():
        return None
    place = root / (_config(root).get("migrations-dir") or DEFAULT_DIR)
    return place if detect(place) else None


def _config(root: Path) -> dict:
    """sqlx.toml's [migrate] table (empty without the file)."""
    path = root / "sqlx.toml"
    data = read_toml(path)
    if data is None:
        return {}
    section = data.get("migrate", {})
    if not isinstance(section, dict):
        raise InputError(f"{path}: [migrate] must be a table")
    place = section.get("migrations-dir")
    schemas = section.get("create-schemas", [])
    if place is not None and (not isinstance(place, str) or not place):
        raise InputError(f"{path}: [migrate] migrations-dir must be a path")
    if not isinstance(schemas, list) or not all(isinstance(s, str) and s for s in schemas):
        raise InputError(f"{path}: [migrate] create-schemas must be a list of schema names")
    return section


def version(name: str) -> int | None:
    """The version of a migration file name: the integer before its first `_` (Rust's i64)."""
    before = name.partition("_")[0]
    if not re.fullmatch(r"[+-]?[0-9]+", before):
        return None
    number = int(before)
    return number if -(1 << 63) <= number < 1 << 63 else None


def read(directory: Path) -> History:
    ups: dict[int, Path] = {}
    downs: dict[int, Path] = {}
    skipped: list[tuple[str, str]] = []
    for entry in entries(directory):
        if not _named(entry):
            skipped.append((str(entry), _SUBDIRECTORY if entry.is_dir() else _NOT_RUN))
            continue
        number = version(entry.name)
        if number is None:
            raise InputError(
                f"{entry}: sqlx cannot read its version (expected an integer before the first "
                "_, e.g. `01_foo.sql`) and refuses the directory"
            )
        side = downs if entry.name.endswith(".down.sql") else ups
        if number in side:
            raise InputError(
                f"{entry}: version {number} is also {side[number].name} (sqlx records a "
                "version once in _sqlx_migrations: the second one fails)"
            )
        side[number] = entry
    for number, path in sorted(downs.items()):
        if number not in ups:
            skipped.append((str(path), f"no up migration of version {number} to revert"))
    migrations = tuple(
        Migration(
            name=_name(path),
            up=_script(path),
            down=_script(downs[number]) if number in downs else None,
            version=str(number),
        )
        for number, path in sorted(ups.items())
    )
    crate = crate_of(directory)
    schemas = _config(crate).get("create-schemas", []) if crate is not None else []
    preamble: tuple[Script, ...] = ()
    if schemas:
        from migverify.render import render  # jinja2: only when sqlx.toml lists schemas

        name = f"sqlx migrate run: CREATE SCHEMA {', '.join(sorted(schemas))} (sqlx.toml)"
        preamble = (Script(name, render(SCHEMAS, {"schemas": sorted(set(schemas))})),)
    return History(
        layout="sqlx",
        directory=directory,
        preamble=preamble,
        migrations=migrations,
        skipped=tuple(sorted(skipped)),
    )


def _name(path: Path) -> str:
    for suffix in (".up.sql", ".down.sql", ".sql"):
        if path.name.endswith(suffix):
            return path.name.removesuffix(suffix)
    return path.name


def _script(path: Path) -> Script:
    """The file as sqlx runs it: in a transaction unless it starts with `-- no-transaction`."""
    text = read_script(path)
    return Script(str(path), text if text.startswith(_NO_TRANSACTION) else in_transaction(text))
