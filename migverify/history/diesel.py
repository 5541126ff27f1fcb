"""diesel: `migrations/<version>_<name>/up.sql` (and `down.sql`) in version order, the version
being the name up to its first `_` without dashes (`2024-01-10-120000` → `20240110120000`), so
`00000000000000_diesel_initial_setup` runs first. `diesel migration run` creates its bookkeeping
table `__diesel_schema_migrations` before any migration: that is the history's preamble. Each
migration runs in a transaction of its own, unless its `metadata.toml` says
`run_in_transaction = false`."""

from __future__ import annotations

from pathlib import Path

from migverify.errors import InputError
from migverify.history.config_files import read_toml
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.history.transaction import in_transaction
from migverify.sqlload import Script

PREAMBLE = "history/diesel_schema_migrations.sql.j2"
PREAMBLE_NAME = "diesel migration run: __diesel_schema_migrations"  # what errors in it name
_KNOWN = ("up.sql", "down.sql", "metadata.toml")


def detect(directory: Path) -> bool:
    return any(p.is_dir() and (p / "up.sql").is_file() for p in entries(directory))


def locate(root: Path) -> Path | None:
    """The project's migrations directory: diesel.toml's `[migrations_directory] dir`
    (relative to diesel.toml), by default `migrations/`."""
    place = root / _configured_dir(root / "diesel.toml")
    return place if detect(place) else None


def _configured_dir(config: Path) -> str:
    data = read_toml(config)
    if data is None:
        return "migrations"
    section = data.get("migrations_directory", {})
    place = section.get("dir", "migrations") if isinstance(section, dict) else None
    if not isinstance(place, str) or not place:
        raise InputError(f"{config}: [migrations_directory] dir must be a path")
    return place


def version(name: str) -> str:
    return name.split("_", 1)[0].replace("-", "")


def _runs_in_transaction(metadata: Path) -> bool:
    """Whether diesel runs a migration in a transaction: unless its metadata.toml says
    `run_in_transaction = false`."""
    data = read_toml(metadata)
    if data is None:
        return True
    value = data.get("run_in_transaction", True)
    if not isinstance(value, bool):
        raise InputError(f"{metadata}: run_in_transaction must be true or false")
    return value


def _script(path: Path, transaction: bool) -> Script:
    script = Script.read(path)
    return Script(script.name, in_transaction(script.text)) if transaction else script


def read(directory: Path) -> History:
    found, skipped = [], []
    for entry in entries(directory):
        if not entry.is_dir():
            skipped.append((str(entry), "diesel runs only <version>_<name>/up.sql"))
            continue
        up = entry / "up.sql"
        if not up.is_file():
            raise InputError(f"{entry}: no up.sql (diesel migration run fails on it)")
        down = entry / "down.sql"
        transaction = _runs_in_transaction(entry / "metadata.toml")
        found.append(
            Migration(
                name=entry.name,
                up=_script(up, transaction),
                down=_script(down, transaction) if down.is_file() else None,
                version=version(entry.name),
            )
        )
        skipped += [
            (str(other), "diesel runs only up.sql (down.sql to revert)")
            for other in entries(entry)
            if other.name not in _KNOWN
        ]
    # Stable: two directories of one version keep their name order.
    migrations = sorted(found, key=lambda m: m.version or "")
    from migverify.render import render  # jinja2: only when a diesel history is read

    preamble = Script(PREAMBLE_NAME, render(PREAMBLE, {}))
    return History(
        layout="diesel",
        directory=directory,
        preamble=(preamble,),
        migrations=tuple(migrations),
        skipped=tuple(skipped),
    )
