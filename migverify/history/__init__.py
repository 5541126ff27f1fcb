"""Migration histories as input: a directory of migrations read the way its own tool reads it.

`read_history(directory)` returns the SQL that the tool's migrator runs on an empty database, in
its order, as `Script`s (a name and a text whose line numbers are its file's), each migration
with its rollback when the layout has one, and the files the tool would not run with the reason.
One module per layout family, each with `detect(directory)` (is it a history of that layout?),
`locate(root)` (where that tool keeps its history in a project root, by default or per the
project's configuration) and `read(directory)`. The layout is detected from the directory, or,
when the directory itself is no history, from where each tool would look in it; unless given:

- `supabase`: `supabase/` (config.toml, migrations/) or its `migrations/`, then the seeds;
- `prisma`: `<timestamp>_<name>/migration.sql` beside `migration_lock.toml`;
- `drizzle`: the entries of `meta/_journal.json`, `<tag>.sql`;
- `diesel`: `<version>_<name>/up.sql` and `down.sql`, after diesel's bookkeeping table;
- `golang-migrate`: `<version>_<title>.up.sql` and `.down.sql`;
- `dbmate`: `<version>_<name>.sql` with `-- migrate:up` / `-- migrate:down` sections;
- `goose`: `<version>_<name>.sql` with `-- +goose Up` / `-- +goose Down` sections;
- `sqlx`: `<version>_<description>.sql` (or `.up.sql`, `.down.sql`) in a crate using sqlx;
- `atlas`: the `.sql` files atlas.sum lists, in file-name order;
- `flyway`: `V<version>__<desc>.sql`, then `R__<desc>.sql`; `U<version>__` undoes a version;
  the project's flyway.conf / application.properties give locations, schemas, placeholders;
- `sqitch`: `sqitch.plan`, `deploy/`, `revert/`;
- `rails`: `db/structure.sql`.

Histories written as code (knex, TypeORM, Sequelize, alembic, Django) are named as such, with
the way to get their SQL from the tool itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType

from migverify.errors import InputError
from migverify.history import (
    atlas,
    dbmate,
    diesel,
    drizzle,
    flyway,
    golang_migrate,
    goose,
    prisma,
    rails,
    sqitch,
    sqlx,
    supabase,
)
from migverify.history.files import entries
from migverify.history.model import History, Migration, version_key

LAYOUTS: dict[str, ModuleType] = {
    "supabase": supabase,
    "prisma": prisma,
    "drizzle": drizzle,
    "diesel": diesel,
    "golang-migrate": golang_migrate,
    "dbmate": dbmate,
    "goose": goose,
    "sqlx": sqlx,
    "atlas": atlas,
    "flyway": flyway,
    "sqitch": sqitch,
    "rails": rails,
}
# What each layout's detection looks for, for the messages when nothing is found.
LOOKED_FOR = {
    "supabase": "config.toml + migrations/",
    "prisma": "migration_lock.toml, <name>/migration.sql",
    "drizzle": "meta/_journal.json",
    "diesel": "<version>_<name>/up.sql",
    "golang-migrate": "<version>_<title>.up.sql",
    "dbmate": "<version>_<name>.sql with -- migrate:up",
    "goose": "<version>_<name>.sql with -- +goose Up",
    "sqlx": "<version>_<description>.sql beside a Cargo.toml using sqlx",
    "atlas": "atlas.sum",
    "flyway": "V<version>__<desc>.sql",
    "sqitch": "sqitch.plan",
    "rails": "db/structure.sql",
}

__all__ = ["LAYOUTS", "History", "Migration", "read_history", "version_key"]


def read_history(directory: Path, layout: str | None = None) -> History:
    """The migrations of DIRECTORY in the order LAYOUT's tool runs them (detected when None).

    DIRECTORY is the history itself or a project root, where the history is looked for where
    its tool keeps it (`prisma/migrations/`, diesel.toml's directory, …)."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory (a migration history)")
    if layout is None:
        layout, directory = detect_layout(directory)
    elif layout not in LAYOUTS:
        known = ", ".join(LAYOUTS)
        raise InputError(f"unknown migration layout {layout!r} (known: {known})")
    elif not LAYOUTS[layout].detect(directory):
        directory = LAYOUTS[layout].locate(directory) or directory
    history = LAYOUTS[layout].read(directory)
    # A Supabase project may have only seeds so far; anywhere else, no migration at all means
    # the wrong directory or layout, which must not pass for an empty legacy schema.
    if not history.migrations and layout != "supabase":
        raise InputError(
            f"{directory}: no {layout} migrations ({LOOKED_FOR[layout]}) "
            f"and {len(history.skipped)} file(s) {layout} would not run"
        )
    return history


def detect_layout(directory: Path) -> tuple[str, Path]:
    """The one layout DIRECTORY looks like and the history's directory: DIRECTORY itself, or
    where that layout's tool keeps it in the project DIRECTORY is the root of. None or several
    is an error saying how to choose."""
    found = [(name, directory) for name, module in LAYOUTS.items() if module.detect(directory)]
    if not found:
        located = ((name, module.locate(directory)) for name, module in LAYOUTS.items())
        found = [(name, place) for name, place in located if place is not None]
    if len(found) == 1:
        return found[0]
    if found:
        choices = " or ".join(f'layout = "{name}"' for name, _ in found)
        kinds = " and a ".join(
            name if place == directory else f"{name} ({os.path.relpath(place, directory)})"
            for name, place in found
        )
        raise InputError(
            f"{directory}: looks like a {kinds} history at once; choose with {choices} in [legacy]"
        )
    code = code_history(directory)
    if code:
        raise InputError(f"{directory}: {code}")
    raise InputError(
        f"{directory}: no migration history found (looked for "
        f"{', '.join(f'{name} {what}' for name, what in LOOKED_FOR.items())}); "
        f'if it is one, name its layout with layout = "…" in [legacy] '
        f"(one of {', '.join(LAYOUTS)})"
    )


# Histories kept as code: how to recognise them, and how their own tool writes their SQL.
_CODE = (
    (
        "alembic",
        lambda d: (
            (d / "alembic.ini").is_file()
            or (d / "script.py.mako").is_file()
            or _contains(d, "*.py", r"^down_revision\s*[:=]")
        ),
        "alembic migrations are Python code, not SQL: write their SQL with "
        "`alembic upgrade head --sql > legacy.sql` (offline mode) and give it as [legacy] sql",
    ),
    (
        "Django",
        lambda d: _contains(d, "[0-9][0-9][0-9][0-9]_*.py", r"migrations\.Migration\b"),
        "Django migrations are Python code, not SQL: print their SQL in order with "
        "`python manage.py sqlmigrate <app> <migration>` and give the files as [legacy] sql",
    ),
    (
        "TypeORM",
        lambda d: _contains(d, "*.[jt]s", r"\bMigrationInterface\b"),
        "TypeORM migrations are TypeScript code, not SQL: run them on a scratch database "
        "(`typeorm migration:run -d <data-source>`) and give its `pg_dump --schema-only` as "
        "[legacy] sql",
    ),
    (
        "Sequelize",
        lambda d: (
            (d.parent / ".sequelizerc").is_file() or _contains(d, "*.[jt]s", r"\bqueryInterface\b")
        ),
        "Sequelize migrations are JavaScript code, not SQL: run them on a scratch database "
        "(`sequelize-cli db:migrate`) and give its `pg_dump --schema-only` as [legacy] sql",
    ),
    (
        "knex",
        lambda d: (
            any((d.parent / f"knexfile.{e}").is_file() for e in ("js", "ts", "cjs", "mjs"))
            or _contains(d, "*.[jt]s", r"\bknex\b|exports\.up\b")
        ),
        "knex migrations are JavaScript code, not SQL: knex has no offline SQL output; run them "
        "on a scratch database (`knex migrate:latest`) and give its `pg_dump --schema-only` as "
        "[legacy] sql",
    ),
)


def code_history(directory: Path) -> str | None:
    """What to say when DIRECTORY holds migrations written as code, else None."""
    for _, looks_like, advice in _CODE:
        if looks_like(directory):
            return advice
    return None


def _contains(directory: Path, pattern: str, text: str) -> bool:
    """Whether one of the first files matching PATTERN holds TEXT (a regex, per line)."""
    wanted = re.compile(text, re.M)
    candidates = [p for p in entries(directory) if p.match(pattern) and p.is_file()]
    for path in candidates[:20]:
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:20000]
        except OSError:
            continue
        if wanted.search(head):
            return True
    return False
