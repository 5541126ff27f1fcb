"""goose: `<version>_<name>.sql` files in version order (the number before the first `_`, so
`10_…` after `9_…`), each with a `-- +goose Up` section and an optional `-- +goose Down`
section, as `goose up` runs them (pressly/goose's sqlparser, read the same way here):

- annotations are lines starting with `--` holding `+goose`, case-insensitive, with no leading
  whitespace: Up, Down, StatementBegin, StatementEnd, NO TRANSACTION, ENVSUB ON, ENVSUB OFF;
  anything else is refused, as goose refuses it;
- before `-- +goose Up` only blank lines and comments; a statement not ended by a `;` at the end
  of a line (outside StatementBegin/End) is refused ("missing semicolon?");
- each migration runs in a transaction unless it says `-- +goose NO TRANSACTION`;
- between ENVSUB ON and OFF, `${VAR}`, `${VAR:-default}` and `$VAR` are replaced from the
  environment (migverify's, as goose reads its own); a variable that is not set is an error
  here, not an empty string;
- Go migrations (`<version>_<name>.go`) run from the compiled program: they are reported as not
  run, their changes are not in the schema.

A file goose refuses is refused with goose's reason and the line; a refused Down section only
drops that migration's rollback, with a notice (`goose up` never reads it). Each script is the
whole file with the other section blanked, so an error names the file's own line."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from migverify.errors import InputError, SQLFileError
from migverify.history import dbmate
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.history.sections import Section, only
from migverify.sqlload import Script, read_script

_ANNOTATIONS = {
    "up": "Up",
    "down": "Down",
    "statementbegin": "StatementBegin",
    "statementend": "StatementEnd",
    "no transaction": "NO TRANSACTION",
    "envsub on": "ENVSUB ON",
    "envsub off": "ENVSUB OFF",
}
_UP_MARKER = re.compile(r"^--\s*\+goose\s+(?i:up)\s*$", re.M)  # `+goose` as written
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_NOT_RUN = "goose runs only <version>_<name>.sql (and Go migrations compiled into the program)"
_GO = (
    "a Go migration: goose runs it from the compiled program; migverify reads SQL migrations "
    "only, so what it changes is not in the schema"
)
_SUBDIRECTORY = "a directory: goose does not look into subdirectories"
# goose's -dir when the project does not say (GOOSE_MIGRATION_DIR in .env): the places its
# users keep them (`goose -dir …` in Makefiles, sqlc's sql/schema).
PLACES = ("migrations", "db/migrations", "sql/schema", "db/schema")


def detect(directory: Path) -> bool:
    """The first `<version>_<name>.sql` holds `-- +goose Up` (goose requires it of every one:
    the others need not be read)."""
    for path in entries(directory):
        if path.suffix == ".sql" and version(path.name) is not None and path.is_file():
            try:
                return _UP_MARKER.search(read_script(path)) is not None
            except InputError:
                return False
    return False


def locate(root: Path) -> Path | None:
    """The project's migrations: GOOSE_MIGRATION_DIR of its `.env` (which goose reads), else
    one of PLACES holding goose files; two of them is an error."""
    configured = dbmate.env(root / ".env").get("GOOSE_MIGRATION_DIR")
    if configured:
        place = root / configured
        return place if detect(place) else None
    found = [root / place for place in PLACES if detect(root / place)]
    if len(found) > 1:
        places = " and ".join(f"{p.relative_to(root)}/" for p in found)
        raise InputError(
            f"{root}: goose migrations in both {places}: name the one `goose -dir` runs in "
            "[legacy] migrations"
        )
    return found[0] if found else None


def version(name: str) -> int | None:
    """goose's NumericComponent: the number before the first `_`, at least 1."""
    before, underscore, _ = name.partition("_")
    if not underscore or not re.fullmatch(r"[+-]?[0-9]+", before):
        return None
    number = int(before)
    return number if 1 <= number < 1 << 63 else None


def read(directory: Path) -> History:
    files: dict[int, Path] = {}
    skipped: list[tuple[str, str]] = []
    for entry in entries(directory):
        is_sql = entry.suffix == ".sql" and entry.is_file()
        number = version(entry.name)
        if is_sql and number is None:
            raise InputError(
                f"{entry}: goose cannot read its version (<version>_<name>.sql, a number of "
                "at least 1 before the first _) and refuses the directory"
            )
        go = entry.suffix == ".go" and not entry.name.endswith("_test.go") and entry.is_file()
        if number is not None and (is_sql or go):
            if number in files:
                raise InputError(
                    f"{entry}: version {number} is also {files[number].name} "
                    "(goose refuses a duplicate version)"
                )
            files[number] = entry
            continue
        skipped.append((str(entry), _SUBDIRECTORY if entry.is_dir() else _NOT_RUN))
    migrations = []
    not_run: list[str] = []
    for number, path in sorted(files.items()):
        if path.suffix == ".go":
            skipped.append((str(path), _GO))
            not_run.append(str(path))
            continue
        up, down, refused = _sections(read_script(path), str(path))
        up = dataclasses.replace(up, after_not_run=tuple(not_run))
        if refused is not None:
            skipped.append((str(path), refused))
        name = path.name.removesuffix(".sql")
        migrations.append(Migration(name=name, up=up, down=down, version=str(number)))
    return History(
        layout="goose",
        directory=directory,
        migrations=tuple(migrations),
        skipped=tuple(sorted(skipped)),
    )


def _sections(text: str, name: str) -> tuple[Script, Script | None, str | None]:
    """(the up script, the down script or None, why the down section is not read)."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    state = "start"  # start, up, down
    block = 0  # the line of an open StatementBegin
    pending = 0  # the first line of a statement not yet ended by `;`
    transaction = True
    envsub = False
    up_at = down_at = -1
    down_refused: str | None = None
    replaced: list[str] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("--") and "+goose" in line:
            command = _annotation(line, name, number)
            if command == "Up":
                if state != "start":
                    raise SQLFileError(name, number, "goose: duplicate '-- +goose Up' annotation")
                state, up_at = "up", number
            elif command == "Down":
                if state != "up" or block:
                    raise SQLFileError(
                        name, number, "goose: a migration must start with '-- +goose Up'"
                    )
                if pending:
                    raise _unfinished(name, pending)
                state, down_at = "down", number
            elif command == "StatementBegin":
                if state == "start" or block:
                    raise SQLFileError(
                        name,
                        number,
                        "goose: '-- +goose StatementBegin' must follow '-- +goose Up' or "
                        "'-- +goose Down' (and its own StatementEnd)",
                    )
                block = number
            elif command == "StatementEnd":
                if not block:
                    raise SQLFileError(
                        name,
                        number,
                        "goose: '-- +goose StatementEnd' must follow '-- +goose StatementBegin'",
                    )
                block = pending = 0
            elif command == "NO TRANSACTION":
                transaction = False
            else:
                envsub = command == "ENVSUB ON"
            replaced.append(line)
            continue
        if envsub and state != "start":
            line = _substitute(line, name, number)
        replaced.append(line)
        if not pending and (not stripped or stripped.startswith("--")):
            continue  # blank lines and comments between statements
        if state == "start":
            raise SQLFileError(
                name, number, "goose: a statement before '-- +goose Up' (goose refuses it)"
            )
        if not pending:
            pending = number
        if not block and _ends_statement(line):
            pending = 0
    if state == "start":
        raise InputError(f"{name}: goose: a migration must start with '-- +goose Up'")
    if block:
        message = "a '-- +goose StatementBegin' without its '-- +goose StatementEnd'"
        if state == "up":
            raise SQLFileError(name, block, f"goose: {message}")
        down_refused = f"its -- +goose Down section is not read: {message} at line {block}"
    elif pending:
        if state == "up":
            raise _unfinished(name, pending)
        down_refused = (
            f"its -- +goose Down section is not read: the statement at line {pending} has no "
            "closing ';' (goose down refuses it)"
        )
    body = "\n".join(replaced)
    end = len(body)
    up_start = offsets[up_at - 1]
    up_end = offsets[down_at - 1] if down_at > 0 else end
    up = Script(name, only(body, [Section(up_start, up_end, transaction)]))
    if down_at < 0 or down_refused is not None:
        return up, None, down_refused
    down = Script(name, only(body, [Section(offsets[down_at - 1], end, transaction)]))
    return up, down, None


def _annotation(line: str, name: str, number: int) -> str:
    """The annotation of LINE as goose reads it (extractAnnotation)."""
    if line[:1] in (" ", "\t"):
        raise SQLFileError(name, number, "goose: an annotation with leading whitespace")
    command = line.replace("--", "").replace("+goose", "", 1)
    if "+goose" in command:
        raise SQLFileError(name, number, "goose: two '+goose' annotations on one line")
    found = _ANNOTATIONS.get(" ".join(command.split()).lower())
    if found is None:
        raise SQLFileError(
            name, number, f"goose: unknown annotation {command.strip()!r} (goose refuses it)"
        )
    return found


def _ends_statement(line: str) -> bool:
    """goose's endsWithSemicolon: the last word before a `--` word ends with `;`."""
    last = ""
    for word in line.split():
        if word.startswith("--"):
            break
        last = word
    return last.endswith(";")


def _unfinished(name: str, line: int) -> SQLFileError:
    return SQLFileError(
        name,
        line,
        "goose: this statement has no closing ';' at the end of a line (goose refuses it: "
        '"missing semicolon?"); wrap a multi-statement body in -- +goose StatementBegin/End',
    )


def _substitute(line: str, name: str, number: int) -> str:
    """LINE with goose's ENVSUB variables replaced from the environment."""

    def value(match: re.Match[str]) -> str:
        variable = match.group(1) or match.group(4)
        found = os.environ.get(variable)
        operator, default = match.group(2), match.group(3)
        if operator == ":-" and not found or operator == "-" and found is None:
            return default
        if found is None:
            raise SQLFileError(
                name,
                number,
                f"goose ENVSUB: ${variable} is not set in the environment (goose would put an "
                "empty string): set it before running migverify",
            )
        return found

    return _ENV.sub(value, line)
