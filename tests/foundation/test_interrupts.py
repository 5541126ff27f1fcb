"""Real SIGINT and SIGTERM sent to a running `verify` or `check`: exit 130 or 143, the word
"interrupted" on stderr, no verdict on stdout, and nothing left behind (no server process, no
temporary directory, no scratch database)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, servers_under

from migverify.sandbox import SCRATCH_PREFIX, connect

XBOT = FIXTURES / "xbot"
VERIFY = [
    "verify",
    "--legacy", str(XBOT / "legacy.sql"),
    "--seed", str(XBOT / "seed.sql"),
    "--target", str(XBOT / "target.sql"),
    "--compat", str(XBOT / "migrations" / "forward.sql"),
    "--examples", "100000",
]  # fmt: skip
CHECK = ["check", str(XBOT), "--examples", "100000"]


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A temp dir for the run's own temp dirs. Not under pytest's basetemp: pytest keeps
    /tmp/pytest-of-<user> at mode 0700, which the server user (as root) cannot traverse."""
    directory = Path(tempfile.mkdtemp(prefix="migverify-signals-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _scratch_databases(dsn: str) -> set[str]:
    with connect(dsn) as conn:
        rows = conn.execute("SELECT datname FROM pg_database").fetchall()
    return {name for (name,) in rows if name.startswith(SCRATCH_PREFIX)}


def _interrupt(args: list[str], signum: int, tmp_path: Path, ready) -> subprocess.CompletedProcess:
    """Start the CLI, wait until READY() says the run is under way, then send SIGNUM."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # its temp dirs, and only its, land here
    process = subprocess.Popen(
        [sys.executable, "-m", "migverify", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never got under way"
            time.sleep(0.2)
        time.sleep(3)  # into the workloads (or whatever comes first: any moment must be safe)
        assert process.poll() is None, ("finished before the signal", process.communicate())
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _assert_interrupted(result: subprocess.CompletedProcess, signum: int) -> None:
    assert result.returncode == 128 + signum, result.stderr
    name = signal.Signals(signum).name
    assert result.stderr == f"migverify: interrupted ({name}): no verdict\n"
    assert result.stdout == ""  # no verdict, not even a partial one


def _server_dirs(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("migverify-pg-*"))


# Every pair: SIGINT (Ctrl-C) and SIGTERM (a cancelled CI job) during verify and check.
COMMANDS = pytest.mark.parametrize("args", [VERIFY, CHECK], ids=["verify", "check"])
SIGNALS = pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])


@COMMANDS
@SIGNALS
def test_interrupt_on_the_embedded_server(tmp_path, args, signum):
    result = _interrupt(args, signum, tmp_path, lambda: bool(_server_dirs(tmp_path)))
    _assert_interrupted(result, signum)
    assert _server_dirs(tmp_path) == []
    assert servers_under(tmp_path) == []


@COMMANDS
@SIGNALS
def test_interrupt_with_dsn(pg, tmp_path, args, signum):
    before = _scratch_databases(pg.dsn)
    result = _interrupt(
        [*args, "--dsn", pg.dsn], signum, tmp_path, lambda: _scratch_databases(pg.dsn) - before
    )
    _assert_interrupted(result, signum)
    assert _scratch_databases(pg.dsn) == before
    assert list(tmp_path.iterdir()) == []
