"""Flyway: `V<version>__<description>.sql` in version order, then repeatable
`R__<description>.sql` in description order, as `flyway migrate` runs them on an empty database.

The location is scanned with its subdirectories. Versions compare as dotted numbers, `_` being a
dot too (`V1_10` = 1.10, after `V1_9`; `1.0` = `1`). `U<version>__…` is the undo (down) of that
version. With baseline migrations (`B<version>__…`), an empty database gets the latest baseline
and then only the versions after it. `${placeholder}` references are refused: Flyway replaces
them with configured values that migverify cannot know."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from migverify.errors import InputError, SQLFileError
from migverify.history.files import files_under
from migverify.history.model import History, Migration, version_key
from migverify.sqlload import Script, line_of

_FILE = re.compile(r"^([VUB])([^_].*?)__(.*)\.sql$|^R__(.*)\.sql$")
_VERSION = re.compile(r"^\d+([._]\d+)*$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_CALLBACK = re.compile(
    r"^(before|after)(Each)?(Migrate|Clean|Info|Validate|Baseline|Repair|Undo|Versioned|"
    r"Connect|Statement)\w*(__.*)?\.sql$"
)


def detect(directory: Path) -> bool:
    return any(_FILE.match(p.name) for p in files_under(directory))


def locate(root: Path) -> Path | None:
    """Nothing to look for: detect scans the directory with its subdirectories."""
    return None


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
    files = _classify(directory)
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
            up=_script(path),
            down=_script(files.undo.pop(key)[1]) if key in files.undo else None,
            version=version,
        )
        for key, (version, path) in runs
    ]
    migrations += [
        Migration(name=path.name[:-4], up=_script(path))
        for _, path in sorted(files.repeatable, key=lambda item: (item[0], item[1].name))
    ]
    files.skipped += [
        (str(path), "an undo of a version that is not run") for _, path in files.undo.values()
    ]
    return History(
        layout="flyway",
        directory=directory,
        migrations=tuple(migrations),
        skipped=tuple(sorted(files.skipped)),
    )


def _classify(directory: Path) -> _Files:
    """The files under DIRECTORY by kind; a bad or duplicate version is Flyway's error."""
    files = _Files()
    for path in files_under(directory):
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


def _script(path: Path) -> Script:
    script = Script.read(path)
    found = _PLACEHOLDER.search(script.text)
    if found is not None:
        raise SQLFileError(
            str(path),
            line_of(script.text, found.start()),
            f"Flyway placeholder {found.group(0)}: migverify cannot know its value "
            "(write the value into the file, or load the SQL Flyway ran: [legacy] sql)",
        )
    return script
