"""Flyway: `V<version>__<description>.sql` in version order, then repeatable
`R__<description>.sql` in description order, as `flyway migrate` runs them on an empty database.

The directory is a location (scanned with its subdirectories) or a project root, whose
configuration (flyway_config: flyway.conf, Spring Boot's application.properties) gives the
locations, the schemas Flyway creates first (the history's preamble), the default schema each
migration runs with first on the search_path, and the placeholder values. Versions compare as
dotted numbers, `_` being a dot too (`V1_10` = 1.10, after `V1_9`; `1.0` = `1`). `U<version>__…`
is the undo (down) of that version. With baseline migrations (`B<version>__…`), an empty
database gets the latest baseline and then only the versions after it. `${placeholder}`s are
replaced as Flyway does, built-ins (`${flyway:defaultSchema}`, …) included; one with no value is
refused with its file and line, as Flyway refuses it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from migverify.errors import InputError
from migverify.history.files import files_under
from migverify.history.flyway_config import (
    FlywayConfig,
    is_project,
    placeholder_error,
    read_config,
)
from migverify.history.model import History, Migration, version_key
from migverify.sqlload import Script

_FILE = re.compile(r"^([VUB])([^_].*?)__(.*)\.sql$|^R__(.*)\.sql$")
_VERSION = re.compile(r"^\d+([._]\d+)*$")
SCHEMAS = "history/flyway_schemas.sql.j2"
SEARCH_PATH = "history/flyway_search_path.sql.j2"
_CALLBACK = re.compile(
    r"^(before|after)(Each)?(Migrate|Clean|Info|Validate|Baseline|Repair|Undo|Versioned|"
    r"Connect|Statement)\w*(__.*)?\.sql$"
)


def detect(directory: Path) -> bool:
    """A location: Flyway migrations in it or its subdirectories (not a project root)."""
    return not is_project(directory) and _has_migrations([directory])


def locate(root: Path) -> Path | None:
    """A project root (flyway.conf, src/main/resources) whose locations hold migrations: read
    from the root, which has the configuration."""
    return root if is_project(root) and _has_migrations(read_config(root).locations) else None


def _has_migrations(locations: list[Path] | tuple[Path, ...]) -> bool:
    return any(_FILE.match(p.name) for location in locations for p in files_under(location))


Key = tuple[int | str, ...]  # a version as it compares (model.version_key)


@dataclass
class _Files:
    """A location's files by kind: versioned, undo and baseline by version, repeatables."""

    versioned: dict[Key, tuple[str, Path]] = field(default_factory=dict)
    undo: dict[Key, tuple[str, Path]] = field(default_factory=dict)
    baselines: dict[Key, tuple[str, Path]] = field(default_factory=dict)
    repeatable: list[tuple[str, Path]] = field(default_factory=list)  # (description, file)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read(directory: Path) -> History:
    config = read_config(directory)
    builtins = _builtins(config)
    files = _classify(config.locations)
    runs = sorted(files.versioned.items())
    if files.baselines:
        base_key, base = max(files.baselines.items())
        files.skipped += [
            (str(path), f"covered by the baseline migration {base[1].name}")
            for key, (_, path) in runs
            if key <= base_key
        ]
        runs = [(base_key, base), *((k, v) for k, v in runs if k > base_key)]
    migrations = [
        Migration(
            name=path.name[:-4],
            up=_script(path, config, builtins),
            down=_script(files.undo.pop(key)[1], config, builtins) if key in files.undo else None,
            version=version,
        )
        for key, (version, path) in runs
    ]
    migrations += [
        Migration(name=path.name[:-4], up=_script(path, config, builtins))
        for _, path in sorted(files.repeatable, key=lambda item: (item[0], item[1].name))
    ]
    files.skipped += [
        (str(path), "an undo of a version that is not run") for _, path in files.undo.values()
    ]
    return History(
        layout="flyway",
        directory=directory,
        preamble=_preamble(config),
        migrations=tuple(migrations),
        skipped=tuple(sorted(files.skipped)),
    )


def _preamble(config: FlywayConfig) -> tuple[Script, ...]:
    """What `flyway migrate` runs first: the configured schemas, created when missing."""
    schemas = config.schemas_to_create()
    if not schemas:
        return ()
    from migverify.render import render  # jinja2: only when a Flyway project has schemas

    where = config.origin.get("schemas") or config.origin.get("defaultschema")
    name = f"flyway migrate: CREATE SCHEMA {', '.join(schemas)} ({where})"
    return (Script(name, render(SCHEMAS, {"schemas": schemas})),)


def _builtins(config: FlywayConfig) -> dict[str, str]:
    """The placeholders Flyway fills itself (`${flyway:defaultSchema}`, …), with the user's
    (the built-ins win, as in Flyway); `flyway:filename` is per file."""
    values = dict(config.placeholders)
    known = {
        "defaultSchema": config.schema or "public",  # a new database's current schema
        "schemas": ",".join(config.schemas),
        "user": config.user,
        "database": config.database,
        "timestamp": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),  # once per migrate
        "table": config.table,
        "workingDirectory": str(config.root) if config.root else None,
        "environment": "default",
    }
    values |= {f"flyway{config.separator}{k}": v for k, v in known.items() if v is not None}
    return values


def _classify(locations: tuple[Path, ...]) -> _Files:
    """The files of the locations by kind; a bad or duplicate version is Flyway's error."""
    files = _Files()
    for path in (p for location in locations for p in files_under(location)):
        match = _FILE.match(path.name)
        if match is None:
            files.skipped.append((str(path), _why_not(path.name)))
            continue
        if match.group(4) is not None:
            files.repeatable.append((match.group(4).replace("_", " "), path))
            continue
        prefix, version = match.group(1), match.group(2)
        if not _VERSION.match(version):
            raise InputError(
                f"{path}: invalid Flyway version {version!r} (only digits, '.' and '_' are allowed)"
            )
        side = {"V": files.versioned, "U": files.undo, "B": files.baselines}[prefix]
        key, dotted = version_key(version), version.replace("_", ".")
        if key in side:
            raise InputError(
                f"{path}: version {dotted} is also {side[key][1]} "
                "(Flyway refuses two migrations of one version)"
            )
        side[key] = (dotted, path)
    return files


def _why_not(name: str) -> str:
    if _CALLBACK.match(name):
        return "a Flyway callback, run around migrate, not a migration"
    if name.endswith(".sql"):
        return "Flyway runs only V<version>__<description>.sql and R__<description>.sql"
    return "not an SQL migration"


def _script(path: Path, config: FlywayConfig, builtins: dict[str, str]) -> Script:
    """A migration as Flyway runs it: placeholders replaced, on the default schema's
    search_path (one line put before the file's first, so its lines keep their numbers)."""
    script = Script.read(path)
    text = script.text
    if config.replacement:
        values = builtins | {f"flyway{config.separator}filename": path.name}
        text = _replace_placeholders(text, path, config, values)
    if config.schema is not None:
        from migverify.render import render

        text = render(SEARCH_PATH, {"schema": config.schema}).rstrip("\n") + " " + text
    return Script(script.name, text)


def _replace_placeholders(
    text: str, path: Path, config: FlywayConfig, values: dict[str, str]
) -> str:
    """TEXT with each `${name}` replaced (Flyway's PlaceholderReplacingReader: the name runs to
    the first suffix, comments and literals included, a replacement is not scanned again)."""
    parts, position = [], 0
    while (start := text.find(config.prefix, position)) >= 0:
        end = text.find(config.suffix, start + len(config.prefix))
        name = text[start + len(config.prefix) : end if end >= 0 else len(text)]
        if end < 0 or name not in values:
            raise placeholder_error(path, text, start, name, config)
        parts += [text[position:start], values[name]]
        position = end + len(config.suffix)
    return "".join(parts) + text[position:]
