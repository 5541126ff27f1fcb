"""Generated bad input thrown at every command: random bytes and truncated SQL as SQL files,
broken TOML and wrong value types as specs, missing files and directories, bad option values,
DSNs that do not parse or reach no server.

Each example asserts what a user sees: the exit code decided for its case (2, or 0/1 where the
input happens to be valid), exactly one line on stderr and no traceback, and nothing left behind
(no scratch database or role on the test server, no `migverify-pg-*` temporary directory, no
server process, no file written). Commands run in their own process where stderr or leftovers
of the process matter, in-process through `migverify.cli.main` where that is enough.

Few examples per test, derandomized: CI runs this module on 2 cores, twice (PostgreSQL 15 and
18). `MIGVERIFY_ROBUSTNESS_EXAMPLES=300` runs every test longer. The fixed cases of the same
errors are test_cli_errors.py's, the signals test_interrupts.py's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pglast
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, servers_under
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migverify.cli import main
from migverify.sandbox import CACHE_PREFIX, connect
from migverify.verify import OPERATIONS

XBOT = FIXTURES / "xbot"
FORWARD = XBOT / "migrations" / "forward.sql"
SPEC_DIRS = (XBOT, *sorted(p for p in (FIXTURES / "generate").iterdir() if p.is_dir()))
# Plain SQL scripts of every kind the fixtures hold (schemas, seeds, layers, rollbacks).
SQL_SOURCES = tuple(
    sorted(
        p
        for p in FIXTURES.rglob("*.sql")
        if "scan" not in p.relative_to(FIXTURES).parts and p.stat().st_size < 40_000
    )
)


def _examples(default: int) -> settings:
    """Settings for a test of DEFAULT examples (MIGVERIFY_ROBUSTNESS_EXAMPLES overrides)."""
    return settings(
        max_examples=int(os.environ.get("MIGVERIFY_ROBUSTNESS_EXAMPLES") or default),
        deadline=None,
        derandomize=True,  # the same examples on every run: CI stays repeatable
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- running the CLI -------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


def _in_process(args: Sequence[str]) -> Run:
    """`migverify ARGS` through the console-script entry point, in this process."""
    argv = sys.argv
    with CliRunner().isolation() as (stdout, stderr, _):
        sys.argv = ["migverify", *args]
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            sys.argv = argv
        out = stdout.getvalue().decode("utf-8", "backslashreplace")
        err = stderr.getvalue().decode("utf-8", "backslashreplace")
    return Run(tuple(args), code, out, err)


class Sandboxes:
    """Directories for runs in their own process: each run gets a fresh working directory and
    TMPDIR, both checked for what the run left there."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, args: Sequence[str], tmp: Path | None = None) -> Run:
        """`migverify ARGS` in its own process; TMP (default: a fresh one) is its TMPDIR."""
        home = Path(tempfile.mkdtemp(dir=self.root))
        home.chmod(0o755)  # as root the server runs as another user, who must reach TMPDIR
        cwd = home / "cwd"
        cwd.mkdir()
        if tmp is None:
            tmp = home / "tmp"
            tmp.mkdir()
            tmp.chmod(0o755)
        result = subprocess.run(
            [sys.executable, "-m", "migverify", *args],
            capture_output=True,
            text=True,
            errors="backslashreplace",
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, "TMPDIR": str(tmp)},
            timeout=600,
        )
        run = Run(tuple(args), result.returncode, result.stdout, result.stderr)
        assert sorted(cwd.iterdir()) == [], ("wrote into the working directory", run)
        left = [p.name for p in tmp.iterdir() if not p.name.startswith(CACHE_PREFIX)]
        assert left == [], ("left in TMPDIR", run)
        assert servers_under(home) == servers_under(tmp) == [], ("a server still runs", run)
        shutil.rmtree(home, ignore_errors=True)
        return run


@pytest.fixture(scope="module")
def runs() -> Iterator[Sandboxes]:
    # Not under pytest's basetemp: pytest keeps it 0700, which the server user cannot traverse.
    root = Path(tempfile.mkdtemp(prefix="migverify-robustness-"))
    root.chmod(0o755)
    yield Sandboxes(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A directory for the generated input files of in-process runs."""
    root = Path(tempfile.mkdtemp(prefix="migverify-robustness-input-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _fresh(root: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=root))


# --- what every run must show ----------------------------------------------------------------


def check_run(run: Run, codes: Sequence[int], *fragments: str) -> None:
    """Exit code one of CODES; on exit 2 exactly one error line (with FRAGMENTS) and no output;
    otherwise no error line. Never a traceback. Notices (the Supabase shim installed, roles
    created) may come before the error: they say what was done, not what went wrong."""
    assert run.code in codes, run
    assert "Traceback" not in run.stderr, run
    lines = [line for line in run.stderr.splitlines() if not line.startswith("migverify: notice: ")]
    if run.code == 2:
        assert len(lines) == 1, run
        assert lines[0].startswith("migverify: error: "), run
        assert run.stdout == "", run
        for fragment in fragments:
            assert one_line(fragment) in one_line(lines[0]), (fragment, run)
    else:
        assert not any(": error: " in line or "internal error" in line for line in lines), run


def one_line(text: str) -> str:
    """TEXT as an error message shows it: whitespace (newlines too) collapsed."""
    return " ".join(text.split())


@dataclass(frozen=True)
class ServerState:
    databases: frozenset[str]
    roles: frozenset[str]


def server_state(dsn: str) -> ServerState:
    with connect(dsn) as conn:
        databases = conn.execute("SELECT datname FROM pg_database").fetchall()
        roles = conn.execute("SELECT rolname FROM pg_roles").fetchall()
    return ServerState(frozenset(d for (d,) in databases), frozenset(r for (r,) in roles))


def on_server(pg, command: Callable[[], Run]) -> Run:
    """Run COMMAND; the server must hold the same databases and roles afterwards."""
    before = server_state(pg.dsn)
    run = command()
    after = server_state(pg.dsn)
    assert after == before, ("left on the server", after.databases ^ before.databases,
                             after.roles ^ before.roles, run)  # fmt: skip
    return run


# --- SQL files -------------------------------------------------------------------------------


def _truncated(path: Path) -> st.SearchStrategy[bytes]:
    data = path.read_bytes()
    return st.integers(0, len(data)).map(lambda n: data[:n])


def _line_dropped(path: Path) -> st.SearchStrategy[bytes]:
    lines = path.read_bytes().splitlines(keepends=True)
    return st.integers(0, max(0, len(lines) - 1)).map(
        lambda i: b"".join(lines[:i] + lines[i + 1 :])
    )


SQL_BYTES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=80).map(lambda s: s.encode("utf-8")),
    st.sampled_from(SQL_SOURCES).flatmap(_truncated),
    st.sampled_from(SQL_SOURCES).flatmap(_line_dropped),
    st.tuples(st.sampled_from([b"\xef\xbb\xbf", b"PGDMP", b"\x00", b"\\", b"COPY t FROM stdin;\n"]),
              st.sampled_from(SQL_SOURCES).flatmap(_truncated))
    .map(lambda pair: pair[0] + pair[1]),
)  # fmt: skip


def sql_error_certain(data: bytes) -> bool:
    """Whether DATA as an SQL file must be refused, whatever runs it: not UTF-8, a NUL byte,
    a pg_dump archive, or a syntax error the parser finds (outside psql's backslash lines and
    COPY data, which the loader treats on their own)."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return True
    if "\x00" in text or data.startswith(b"PGDMP"):
        return True
    if re.search(r"^[ \t]*\\", text, re.M) or re.search(r"stdin", text, re.I):
        return False
    try:
        pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return True
    return False


def _sql_expectation(data: bytes, path: Path) -> tuple[list[int], str]:
    """Exit codes, and the error's start, for DATA at PATH among other, valid files: a file
    that may load can still break a later one (an empty legacy.sql: the seed fails)."""
    if sql_error_certain(data):
        return [2], f"error: {path}"
    return [0, 1, 2], "error: "


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


@_examples(25)
@given(data=SQL_BYTES)
def test_inspect_any_sql_file(pg, scratch, data):
    path = _write(_fresh(scratch), "schema.sql", data)
    run = on_server(pg, lambda: _in_process(["inspect", str(path), "--dsn", pg.dsn]))
    check_run(run, [2] if sql_error_certain(data) else [0, 2], f"error: {path}")


VERIFY_FILES = {
    "--legacy": XBOT / "legacy.sql",
    "--seed": XBOT / "seed.sql",
    "--target": XBOT / "target.sql",
    "--compat": FORWARD,
    "--rollback": XBOT / "migrations" / "rollback.sql",
}


@_examples(6)
@given(data=SQL_BYTES, option=st.sampled_from(sorted(VERIFY_FILES)))
def test_verify_any_sql_file(pg, runs, scratch, data, option):
    path = _write(_fresh(scratch), "bad.sql", data)
    files = {**VERIFY_FILES, option: path}
    args = [arg for name, file in files.items() for arg in (name, str(file))]
    args += ["--examples", "1", "--steps", "2", "--dsn", pg.dsn]
    run = on_server(pg, lambda: runs.run(["verify", *args]))
    check_run(run, *_sql_expectation(data, path))


@_examples(5)
@given(data=SQL_BYTES, rollback=st.booleans())
def test_check_any_compat_file(pg, runs, scratch, data, rollback):
    path = _write(_fresh(scratch), "layer.sql", data)
    args = (
        ["--compat", str(FORWARD), "--rollback", str(path)] if rollback else ["--compat", str(path)]
    )
    run = on_server(
        pg, lambda: runs.run(["check", str(XBOT), *args, "--examples", "1", "--dsn", pg.dsn])
    )
    check_run(run, *_sql_expectation(data, path))


@_examples(5)
@given(data=SQL_BYTES)
def test_reference_run_any_compat_file(pg, runs, scratch, data):
    path = _write(_fresh(scratch), "layer.sql", data)
    args = ["reference", "run", "--world", "migrated", "--compat", str(path), "--cycles", "1"]
    run = on_server(pg, lambda: runs.run([*args, "--dsn", pg.dsn]))
    # 1: a layer that loads but breaks the pipeline is what the consumer is there to find.
    check_run(run, *_sql_expectation(data, path))


ROLES_SQL = (
    b"CREATE ROLE mv_robust_reader;\n",
    b"ALTER ROLE mv_robust_reader WITH NOLOGIN;\n",
    b"CREATE ROLE mv_robust_writer;\n",
    b"GRANT mv_robust_reader TO mv_robust_writer;\n",
    b"ALTER ROLE mv_robust_writer SET statement_timeout TO '5s';\n",
    b"CREATE ROLE mv_robust_admin;\n",
)
ROLES_FILES = st.one_of(
    st.binary(max_size=100).map(lambda data: (data, sql_error_certain(data))),
    # a statement that fails when run, after the roles before it were created
    st.integers(0, len(ROLES_SQL)).map(
        lambda n: (b"".join(ROLES_SQL[:n]) + b"SELECT 1/0;\n", True)
    ),
    st.integers(0, len(b"".join(ROLES_SQL))).map(
        lambda n: (b"".join(ROLES_SQL)[:n] + b";\nCREATE", True)
    ),
)


@_examples(10)
@given(file=ROLES_FILES)
def test_inspect_any_roles_file(pg, scratch, file):
    """Roles a broken --roles file created before its error are dropped again."""
    data, certain = file
    path = _write(_fresh(scratch), "roles.sql", data)
    args = ["inspect", str(XBOT / "legacy.sql"), "--roles", str(path), "--dsn", pg.dsn]
    run = on_server(pg, lambda: _in_process(args))
    check_run(run, [2] if certain else [0, 2], f"error: {path}")


# --- specs -----------------------------------------------------------------------------------

# The TOML types each spec key takes (an array of strings is "paths").
SPEC_TYPES = {
    ("legacy", "sql"): {"string", "paths"},
    ("legacy", "dsn"): {"string"},
    ("legacy", "roles"): {"string", "paths"},
    ("target", "sql"): {"string", "paths"},
    ("scan", "paths"): {"string", "paths"},
    ("generate", "legacy_tables"): {"string"},
    ("generate", "lock_timeout"): {"string", "integer"},
    ("generate", "batch_size"): {"integer"},
    ("generate", "out"): {"string"},
    ("lint", "ignore"): {"paths"},
    ("tables", "target"): {"string"},
    ("tables", "columns"): {"table"},
    ("tables", "discriminator"): {"table"},
    ("side", "table"): {"string"},
    ("side", "join"): {"table"},
    ("side", "columns"): {"table"},
}
TOML_VALUES = {
    "string": st.text(max_size=10).map(
        lambda s: '"' + s.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    ),
    "integer": st.integers(-(2**63), 2**63 - 1).map(str),
    "float": st.sampled_from(["1.5", "-0.0", "nan", "inf", "-inf", "1e300"]),
    "boolean": st.sampled_from(["true", "false"]),
    "datetime": st.sampled_from(["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00"]),
    "paths": st.sampled_from(['["legacy.sql"]', "[]"]),
    "array": st.sampled_from(["[1, 2]", '[1, "a"]', "[[]]", "[{}]", "[true]"]),
    "table": st.sampled_from(["{}", '{ a = "b" }', "{ a = 1 }", '{ "" = "" }']),
}


@dataclass(frozen=True)
class SpecCase:
    """A spec text, and the line its error must name when the error is certain."""

    text: str
    line: int | None  # None: the spec may be valid


def _section_of(lines: list[str], index: int) -> str:
    for line in reversed(lines[: index + 1]):
        header = re.match(r"\s*\[\[?\s*([\w.\"-]+)", line)
        if header:
            parts = header.group(1).replace('"', "").split(".")
            return "side" if parts[-1] == "side" else parts[0]
    return ""


def _key_lines(text: str) -> list[tuple[int, tuple[str, str]]]:
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        key = re.match(r"\s*(\w+)\s*=", line)
        if key and (_section_of(lines, index), key.group(1)) in SPEC_TYPES:
            found.append((index, (_section_of(lines, index), key.group(1))))
    return found


@st.composite
def retyped_specs(draw, base: str) -> SpecCase:
    """BASE with one key's value replaced by a value of a type the key does not take."""
    lines = base.splitlines()
    index, key = draw(st.sampled_from(_key_lines(base)))
    kinds = sorted(
        set(TOML_VALUES) - SPEC_TYPES[key] - ({"paths"} if "string" in SPEC_TYPES[key] else set())
    )
    value = draw(st.sampled_from(kinds).flatmap(lambda kind: TOML_VALUES[kind]))
    lines[index] = f"{lines[index].split('=', 1)[0]}= {value}"
    return SpecCase("\n".join(lines) + "\n", index + 1)


@st.composite
def unknown_key_specs(draw, base: str) -> SpecCase:
    """BASE with a key no section knows, added after a section header."""
    lines = base.splitlines()
    headers = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")]
    index = draw(st.sampled_from(headers))
    known = {key for (_, key) in SPEC_TYPES} | {"side"}
    name = draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda n: n not in known))
    lines.insert(index + 1, f"{name} = 1")
    return SpecCase("\n".join(lines) + "\n", index + 2)


def _toml_line(text: str) -> int | None:
    """The line tomllib names for TEXT, or None when TEXT is valid TOML."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+)", str(error))
        return int(found.group(1)) if found else text.count("\n") + 1  # at end of document
    return None


@st.composite
def garbled_specs(draw, base: str) -> SpecCase:
    """BASE truncated, or with one TOML-significant character inserted, deleted or replaced."""
    at = draw(st.integers(0, len(base)))
    how = draw(st.sampled_from(["truncate", "insert", "delete", "replace"]))
    char = draw(st.sampled_from(list("[]{}\"=,.#\n'\\") + ["\ufeff", "\x00", "é"]))
    text = {
        "truncate": base[:at],
        "insert": base[:at] + char + base[at:],
        "delete": base[:at] + base[at + 1 :],
        "replace": base[:at] + char + base[at + 1 :],
    }[how]
    return SpecCase(text, _toml_line(text))


def spec_cases(*kinds: Callable[[str], st.SearchStrategy[SpecCase]]) -> st.SearchStrategy:
    """(spec directory, case): a fixture spec changed by one of KINDS."""
    return st.sampled_from(SPEC_DIRS).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.one_of(
                *(kind((d / "migverify.toml").read_text(encoding="utf-8")) for kind in kinds)
            ),
        )
    )


def _spec_copy(root: Path, source: Path, text: str | bytes) -> Path:
    """SOURCE's SQL files (and code) in a fresh directory, with TEXT as migverify.toml."""
    directory = _fresh(root)
    for item in source.iterdir():
        if item.suffix == ".sql":
            shutil.copy(item, directory / item.name)
        elif item.name == "app":
            shutil.copytree(item, directory / item.name)
    spec = directory / "migverify.toml"
    if isinstance(text, str):
        spec.write_text(text, encoding="utf-8")
    else:
        spec.write_bytes(text)
    return spec


def _expect(case: SpecCase, spec: Path) -> tuple[list[int], str]:
    """Exit codes and the error's start for a spec CASE at SPEC. A spec that may be valid can
    still be refused for what it lacks (no [scan] paths to scan)."""
    if case.line is None:
        return [0, 2], "error: "
    return [2], f"error: {spec}:{case.line}: "


ANY_SPEC = spec_cases(retyped_specs, unknown_key_specs, garbled_specs)
CERTAIN_SPEC = spec_cases(retyped_specs, unknown_key_specs)


@_examples(60)
@given(case=ANY_SPEC)
def test_scan_any_spec(scratch, case):
    source, case = case
    spec = _spec_copy(scratch, source, case.text)
    run = _in_process(["scan", "--config", str(spec)])
    check_run(run, *_expect(case, spec))


@_examples(20)
@given(case=ANY_SPEC)
def test_generate_any_spec(pg, scratch, case):
    source, case = case
    spec = _spec_copy(scratch, source, case.text)
    out = spec.parent / "out"
    run = on_server(
        pg, lambda: _in_process(["generate", str(spec.parent), "--out", str(out), "--dsn", pg.dsn])
    )
    check_run(run, *_expect(case, spec))
    if run.code == 2:
        assert not out.exists(), "generate wrote files for a spec it refused"


SPEC_COMMANDS = {
    "check": lambda spec: ["check", str(spec), "--examples", "1"],
    "rollback": lambda spec: ["rollback", str(spec)],
    "reference run": lambda spec: ["reference", "run", "--world", "legacy", "--config", str(spec)],
}


@_examples(4)
@given(case=CERTAIN_SPEC)
@pytest.mark.parametrize("command", sorted(SPEC_COMMANDS))
def test_commands_refuse_a_bad_spec_before_any_work(pg, runs, scratch, command, case):
    source, case = case
    spec = _spec_copy(scratch, source, case.text)
    args = [*SPEC_COMMANDS[command](spec), "--dsn", pg.dsn]
    run = on_server(pg, lambda: runs.run(args))
    check_run(run, [2], f"error: {spec}:{case.line}: ")


@_examples(10)
@given(data=st.binary(max_size=60), name=st.sampled_from(["migverify.toml", "pyproject.toml"]))
def test_a_spec_of_random_bytes(scratch, data, name):
    spec = _spec_copy(scratch, XBOT, b"")
    if name == "pyproject.toml":
        spec.unlink()
        spec = spec.with_name(name)
        data = b"[tool.migverify]\n" + data
    spec.write_bytes(data)
    run = _in_process(["generate", str(spec.parent), "--dsn", UNREACHABLE])
    check_run(run, [2], f"error: {spec}")


# --- missing files and directories -----------------------------------------------------------

NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
    min_size=1,
    max_size=16,
).filter(lambda n: n not in (".", ".."))


@dataclass(frozen=True)
class BadPath:
    """A path that is not what the option wants: missing, a directory, under a file, dangling."""

    kind: str
    name: str

    def make(self, root: Path) -> Path:
        directory = _fresh(root)
        if self.kind == "missing":
            return directory / self.name
        if self.kind == "directory":
            (directory / self.name).mkdir()
            return directory / self.name
        if self.kind == "under a file":
            (directory / "file").write_text("")
            return directory / "file" / self.name
        if self.kind == "dangling link":
            (directory / self.name).symlink_to(directory / "nowhere")
            return directory / self.name
        if self.kind == "a file":
            (directory / self.name).write_text("not what was asked for\n")
            return directory / self.name
        raise AssertionError(self.kind)


FILE_KINDS = ("missing", "directory", "under a file", "dangling link")
DIRECTORY_KINDS = ("a file", "under a file", "dangling link")
SPEC_KINDS = ("missing", "under a file", "dangling link", "directory")  # an empty directory
WRITE_KINDS = ("directory", "under a file")


def _verify_with(option: str) -> Callable[[str], list[str]]:
    def args(bad: str) -> list[str]:
        files = {**VERIFY_FILES, option: bad}
        return ["verify", *[a for name, path in files.items() for a in (name, str(path))]]

    return args


PATH_SLOTS: dict[str, tuple[tuple[str, ...], Callable[[str], list[str]]]] = {
    "inspect FILES": (FILE_KINDS, lambda p: ["inspect", str(XBOT / "legacy.sql"), p]),
    "inspect --roles": (FILE_KINDS, lambda p: ["inspect", str(XBOT / "legacy.sql"), "--roles", p]),
    "inspect --pg-bin": (("missing", *DIRECTORY_KINDS), lambda p: ["inspect", str(XBOT / "legacy.sql"), "--pg-bin", p]),
    **{f"verify {option}": (FILE_KINDS, _verify_with(option)) for option in VERIFY_FILES},
    "check DIRECTORY": (SPEC_KINDS, lambda p: ["check", p]),
    "check --config": (SPEC_KINDS, lambda p: ["check", "--config", p]),
    "check --compat": (FILE_KINDS, lambda p: ["check", str(XBOT), "--compat", p]),
    "check --rollback": (FILE_KINDS, lambda p: ["check", str(XBOT), "--compat", str(FORWARD), "--rollback", p]),
    "check --sarif": (WRITE_KINDS, lambda p: ["check", str(XBOT), "--sarif", p]),
    "scan PATHS": (("missing", "under a file", "dangling link"), lambda p: ["scan", p, "--table", "t"]),
    "scan --config": (SPEC_KINDS, lambda p: ["scan", "--config", p]),
    "generate SPEC": (SPEC_KINDS, lambda p: ["generate", p]),
    "generate --out": (("a file", "under a file"), lambda p: ["generate", str(XBOT), "--out", p]),
    "rollback SPEC": (SPEC_KINDS, lambda p: ["rollback", p]),
    "reference run --config": (SPEC_KINDS, lambda p: ["reference", "run", "--world", "legacy", "--config", p]),
    "reference run --compat": (FILE_KINDS, lambda p: ["reference", "run", "--world", "migrated", "--compat", p]),
}  # fmt: skip


UNREACHABLE = "host=/nonexistent/migverify-robustness"


@_examples(8)
@given(data=st.data())
@pytest.mark.parametrize("slot", sorted(PATH_SLOTS))
def test_a_path_that_is_not_there(scratch, slot, data):
    """Every file or directory option, given something that is not the file or directory it
    wants: one line naming it, before any server work (the DSN reaches no server)."""
    kinds, args = PATH_SLOTS[slot]
    bad = BadPath(data.draw(st.sampled_from(kinds)), data.draw(NAMES)).make(scratch)
    server = [] if slot.startswith("scan") or slot.endswith("--pg-bin") else ["--dsn", UNREACHABLE]
    run = _in_process([*args(str(bad)), *server])
    # The line names the path; click escapes control characters in it, so look for its
    # directory (a fresh one per example).
    check_run(run, [2], str(scratch / bad.relative_to(scratch).parts[0]))


# --- option values ---------------------------------------------------------------------------

VALUE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
VERIFY_ARGS = ["verify", *[a for name, path in VERIFY_FILES.items() for a in (name, str(path))]]
APP = XBOT / "app"

# command line before the option, the option, its range (None: no upper bound)
NUMBER_OPTIONS: dict[str, tuple[list[str], str, int, int | None]] = {
    "verify --examples": (VERIFY_ARGS, "--examples", 1, 100_000),
    "verify --steps": (VERIFY_ARGS, "--steps", 1, 1000),
    "check --examples": (["check", str(XBOT)], "--examples", 1, 100_000),
    "reference run --cycles": (["reference", "run", "--world", "legacy"], "--cycles", 1, 1_000_000),
    "scan --jobs": (["scan", str(APP), "--table", "t"], "--jobs", 1, None),
}
NUMBERS = st.one_of(
    st.integers(max_value=0).map(str),
    st.integers(min_value=100_001).map(str),
    st.sampled_from(["1.5", "1e3", "0x10", "", " ", "one", "١", "1_0", "+0", "-0", "NaN"]),
    VALUE_TEXT.filter(lambda s: not s.strip().lstrip("+-").isdigit()),
)


def _number_valid(value: str, low: int, high: int | None) -> bool:
    try:
        number = int(value)  # click's conversion
    except ValueError:
        return False
    return low <= number and (high is None or number <= high)


@_examples(15)
@given(value=NUMBERS)
@pytest.mark.parametrize("slot", sorted(NUMBER_OPTIONS))
def test_a_number_option_out_of_range(slot, value):
    args, option, low, high = NUMBER_OPTIONS[slot]
    server = [] if slot.startswith("scan") else ["--dsn", UNREACHABLE]
    run = _in_process([*args, f"{option}={value}", *server])
    if _number_valid(value, low, high):
        check_run(run, [0, 2])  # valid: the scan runs, the rest find no server
    else:
        check_run(run, [2], f"Invalid value for '{option}'")


CHOICE_OPTIONS: dict[str, tuple[list[str], str, tuple[str, ...]]] = {
    "inspect --format": (["inspect", str(XBOT / "legacy.sql")], "--format", ("text", "json")),
    "verify --format": (VERIFY_ARGS, "--format", ("text", "json")),
    "check --format": (["check", str(XBOT)], "--format", ("text", "json", "github", "sarif", "markdown")),
    "check --fail-on": (["check", str(XBOT)], "--fail-on", ("error", "warning")),
    "check --consumer": (["check", str(XBOT)], "--consumer", ("reference",)),
    "scan --format": (["scan", str(APP), "--table", "t"], "--format", ("text", "json", "github", "sarif")),
    "reference run --world": (["reference", "run"], "--world", ("legacy", "migrated")),
}  # fmt: skip


@_examples(10)
@given(value=st.one_of(VALUE_TEXT, st.sampled_from(["TEXT", "Json", " text", "error,warning"])))
@pytest.mark.parametrize("slot", sorted(CHOICE_OPTIONS))
def test_a_choice_option_not_among_its_choices(slot, value):
    args, option, choices = CHOICE_OPTIONS[slot]
    assume(value not in choices)
    server = [] if slot.startswith("scan") else ["--dsn", UNREACHABLE]
    run = _in_process([*args, f"{option}={value}", *server])
    check_run(run, [2], f"Invalid value for '{option}'")


OP_WORDS = st.one_of(
    st.sampled_from([*OPERATIONS, "", " ", "INSERT", "upsert-on", "copy", "select;", "*"]),
    VALUE_TEXT.filter(lambda s: "," not in s),
)


@_examples(25)
@given(words=st.lists(OP_WORDS, max_size=5))
def test_verify_ops(words):
    ops = ",".join(words)
    given_ops = [op.strip() for op in ops.split(",") if op.strip()]
    run = _in_process([*VERIFY_ARGS, "--ops", ops, "--dsn", UNREACHABLE])
    if not given_ops:
        check_run(run, [2], "no operations")
    elif any(op not in OPERATIONS for op in given_ops):
        check_run(run, [2], "unknown operation")
    else:
        check_run(run, [2], "cannot connect")  # valid: the server is the next thing checked


TABLE_NAMES = st.one_of(
    VALUE_TEXT.filter(lambda s: s.strip()),
    st.sampled_from(["", " ", ".", "a.", ".a", "a..b", "a.b.c", "a.b.c.d", '"a.b"', '"a"."b"',
                     '"', '""', "Ünïcödé", "posted_decisions", "public.posted_decisions",
                     "PUBLIC.Posted_Decisions", '"posted_decisions"', "pg_catalog.pg_class"]),
)  # fmt: skip


def _table_refused(name: str) -> bool:
    parts = name.split(".")
    return (
        not name.strip()
        or any(not p.strip().strip('"') for p in parts)
        or (len(parts) > 2 and not name.startswith('"'))
    )


@_examples(25)
@given(name=TABLE_NAMES)
def test_scan_odd_table_names(name):
    run = _in_process(["scan", str(APP), "--table", name, "--jobs", "1", "--format", "json"])
    if _table_refused(name):
        check_run(run, [2], "--table")
    else:
        check_run(run, [0])


@_examples(5)
@given(
    name=TABLE_NAMES.filter(lambda n: not _table_refused(n)),
    option=st.sampled_from(["--table", "--role"]),
)
def test_verify_odd_table_and_role_names(pg, runs, name, option):
    """Checked after the worlds are loaded: the scratch databases must go again. (Its own
    process: verify's hypothesis search cannot run inside this test's.)"""
    args = [*VERIFY_ARGS, option, name, "--examples", "1", "--steps", "2", "--dsn", pg.dsn]
    run = on_server(pg, lambda: runs.run(args))
    check_run(run, [0, 1, 2])
    if run.code == 2:
        assert "unknown" in run.stderr or "not" in run.stderr, run


# --- DSNs ------------------------------------------------------------------------------------


def _unparsable(dsn: str) -> bool:
    try:
        conninfo_to_dict(dsn)
    except Exception:
        return True
    return False


NAME_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
)
UNPARSABLE_DSNS = st.one_of(
    VALUE_TEXT.filter(_unparsable),
    st.sampled_from(["a", "host", "host=", "host='x", "postgresql://[::1", "=x", "dbname=a b",
                     "postgresql://h:port/db?sslmode"]).filter(_unparsable),
)  # fmt: skip
# Parseable, but reaching no server: a socket directory that is not there, a port nothing
# listens on or that is not a port. Every one names its host: nothing falls back to a default
# server (another user's) on this machine.
UNREACHABLE_DSNS = st.one_of(
    st.builds(
        lambda host, port, dbname, user: make_conninfo(
            host=host, port=port, dbname=dbname, user=user, connect_timeout="3"
        ),
        st.sampled_from(["/nonexistent/migverify-robustness", "127.0.0.1", "localhost"]),
        st.sampled_from(["1", "9", "0", "-1", "65536", "abc", "5432 6543"]),
        NAME_TEXT,
        NAME_TEXT,
    ),
    st.builds(
        lambda port, dbname: f"postgresql://127.0.0.1:{port}/{quote(dbname, safe='')}",
        st.sampled_from(["1", "9", "65536", "x"]),
        NAME_TEXT,
    ),
)
DSN_COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "inspect": lambda out: ["inspect", str(XBOT / "legacy.sql")],
    "verify": lambda out: VERIFY_ARGS,
    "check": lambda out: ["check", str(XBOT), "--examples", "1"],
    "generate": lambda out: ["generate", str(XBOT), "--out", str(out)],
    "rollback": lambda out: ["rollback", str(XBOT)],
    "reference run": lambda out: ["reference", "run", "--world", "legacy"],
}


@_examples(10)
@given(dsn=st.one_of(UNPARSABLE_DSNS, UNREACHABLE_DSNS))
@pytest.mark.parametrize("command", sorted(DSN_COMMANDS))
def test_a_dsn_that_does_not_parse_or_reach_a_server(scratch, command, dsn):
    out = _fresh(scratch) / "out"
    run = _in_process([*DSN_COMMANDS[command](out), "--dsn", dsn])
    check_run(run, [2], "--dsn" if _unparsable(dsn) else "cannot connect")
    assert not out.exists(), "generate wrote files without a server"


# --- the embedded server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded_tmp(runs) -> Path:
    """One TMPDIR for the runs on the embedded server: the copy of the installation a root
    user's server needs is made once, not per run."""
    tmp = runs.root / "embedded-tmp"
    tmp.mkdir(mode=0o755, exist_ok=True)
    tmp.chmod(0o755)
    return tmp


EMBEDDED = {
    "inspect": lambda bad: ["inspect", str(XBOT / "legacy.sql"), str(bad)],
    "verify": lambda bad: [*_verify_with("--compat")(str(bad)), "--examples", "1"],
}


@_examples(1)
@given(data=st.sampled_from(SQL_SOURCES).flatmap(_truncated).filter(sql_error_certain))
@pytest.mark.parametrize("command", sorted(EMBEDDED))
def test_the_embedded_server_is_gone_after_bad_input(runs, scratch, embedded_tmp, command, data):
    """Without --dsn: the bad file is found after the server started; server and its
    directory must be gone when the command exits."""
    bad = _write(_fresh(scratch), "bad.sql", data)
    run = runs.run(EMBEDDED[command](bad), tmp=embedded_tmp)
    check_run(run, [2], f"error: {bad}")
