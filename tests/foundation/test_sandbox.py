"""Sandbox lifecycle on real PostgreSQL: scratch databases come and go, other databases stay untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from migverify.errors import ServerError
from migverify.sandbox import LocalCluster, Sandbox, SandboxConfig, connect


def _databases(dsn: str) -> set[str]:
    with connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_scratch_databases_are_dropped_at_exit(pg):
    before = _databases(pg.dsn)
    with Sandbox(pg.config) as box:
        db = box.create_database("lifecycle")
        assert db.name.startswith("migverify_lifecycle_")
        with db.connect() as conn:
            conn.execute("CREATE TABLE t (id int)")
        assert db.name in _databases(pg.dsn)
    assert _databases(pg.dsn) == before


def test_scratch_databases_are_dropped_after_an_exception(pg):
    before = _databases(pg.dsn)
    with pytest.raises(RuntimeError):
        with Sandbox(pg.config) as box:
            box.create_database("boom")
            raise RuntimeError("boom")
    assert _databases(pg.dsn) == before


def test_clone_copies_a_prepared_world(sandbox):
    source = sandbox.create_database("world")
    with source.connect() as conn:
        conn.execute("CREATE TABLE t AS SELECT generate_series(1, 100) AS id")
    copy = sandbox.clone(source, "copy")
    with copy.connect() as conn:
        conn.execute("DELETE FROM t WHERE id > 10")
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 10
    with source.connect() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 100


def _dump(pg, dbname: str) -> str:
    dsn = psycopg.conninfo.make_conninfo(pg.dsn, dbname=dbname)
    result = subprocess.run(
        [str(pg.bin_dir / "pg_dump"), "--no-sync", "-d", dsn],
        capture_output=True,
        text=True,
        check=True,
    )
    # pg_dump >= 15.14 adds \restrict lines with a random key; they are not database content.
    return "\n".join(line for line in result.stdout.splitlines() if "restrict " not in line)


def test_dsn_leaves_an_existing_database_untouched(pg, tmp_path):
    """inspect --dsn against a server with a user database: that database is byte-for-byte the same."""
    from click.testing import CliRunner

    from migverify.cli import cli

    with connect(pg.dsn) as admin:
        admin.execute("DROP DATABASE IF EXISTS app_prod")
        admin.execute("CREATE DATABASE app_prod")
    app_dsn = psycopg.conninfo.make_conninfo(pg.dsn, dbname="app_prod")
    try:
        with connect(app_dsn) as conn:
            conn.execute("CREATE TABLE posted_decisions (id int primary key, content text)")
            conn.execute("INSERT INTO posted_decisions VALUES (1, 'hello')")
        before_dump = _dump(pg, "app_prod")
        before_dbs = _databases(pg.dsn)
        script = tmp_path / "schema.sql"
        script.write_text("CREATE TABLE posted_decisions (id int primary key, content text);\n")
        # Point --dsn at the user's database itself: migverify must still only use its own databases.
        result = CliRunner().invoke(
            cli, ["inspect", str(script), "--dsn", app_dsn, "--format", "json"]
        )
        assert result.exit_code == 0, result.output
        assert '"posted_decisions"' in result.output
        assert _dump(pg, "app_prod") == before_dump
        assert _databases(pg.dsn) == before_dbs
    finally:
        with connect(pg.dsn) as admin:
            admin.execute("DROP DATABASE IF EXISTS app_prod WITH (FORCE)")


def test_keep_keeps_databases_and_says_how_to_connect(pg, tmp_path):
    from click.testing import CliRunner

    from migverify.cli import cli

    script = tmp_path / "s.sql"
    script.write_text("CREATE TABLE kept (id int);\n")
    before = _databases(pg.dsn)
    result = CliRunner().invoke(cli, ["inspect", str(script), "--dsn", pg.dsn, "--keep"])
    assert result.exit_code == 0, result.output
    kept = _databases(pg.dsn) - before
    assert len(kept) == 1 and next(iter(kept)).startswith("migverify_inspect_")
    assert f"kept database {next(iter(kept))}" in result.stderr
    with connect(pg.dsn) as admin:
        admin.execute(f'DROP DATABASE "{next(iter(kept))}"')


def test_local_cluster_starts_and_is_removed(pg):
    cluster = LocalCluster(pg.bin_dir)
    cluster.start()
    workdir = cluster.workdir
    try:
        with connect(cluster.dsn()) as conn:
            version = int(conn.execute("SHOW server_version_num").fetchone()[0])
        assert version // 10000 == int(pg.version)
    finally:
        cluster.stop()
    assert workdir is not None and not workdir.exists()


def test_embedded_server_is_stopped_and_removed_after_an_exception_in_a_subprocess(tmp_path):
    """The default server (no --dsn) lives in a temp dir that is gone after the process exits."""
    program = textwrap.dedent(
        """
        import sys
        from migverify.sandbox import Sandbox, SandboxConfig
        try:
            with Sandbox(SandboxConfig()) as box:
                db = box.create_database("embedded")
                with db.connect() as conn:
                    conn.execute("SELECT 1")
                print(box._cluster.workdir, flush=True)
                raise ValueError("fail on purpose")
        except ValueError:
            sys.exit(3)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stderr
    workdir = Path(result.stdout.strip())
    assert workdir.name.startswith("migverify-pg-")
    assert not workdir.exists()


def test_sigterm_stops_the_embedded_server(tmp_path):
    program = textwrap.dedent(
        """
        import time
        from migverify.sandbox import Sandbox, SandboxConfig
        with Sandbox(SandboxConfig()) as box:
            box.create_database("sigterm")
            print(box._cluster.workdir, flush=True)
            time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    workdir = Path(process.stdout.readline().strip())
    assert workdir.exists()
    process.terminate()
    process.wait(timeout=60)
    assert not workdir.exists()


def test_unreachable_server_is_one_line():
    with pytest.raises(ServerError, match=r"cannot connect to PostgreSQL at 127.0.0.1:1"):
        with Sandbox(
            SandboxConfig(dsn="host=127.0.0.1 port=1 dbname=postgres connect_timeout=2")
        ) as box:
            box.create_database("x")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="root only")
def test_server_binaries_in_a_private_directory_still_start(tmp_path):
    """As root the server runs as another user; binaries in a 0700 directory (a venv in /root or
    in `mktemp -d`) must still work, without loosening the permissions of the user's directories."""
    from migverify.sandbox import embedded_bin_dir

    prefix = embedded_bin_dir().resolve().parent
    site = tmp_path / "private" / "site-packages"
    shutil.copytree(prefix, site / prefix.parent.name / prefix.name, symlinks=True)
    for libs in prefix.parent.parent.glob("*.libs"):
        shutil.copytree(libs, site / libs.name, symlinks=True)
    (tmp_path / "private").chmod(0o700)
    cluster = LocalCluster(site / prefix.parent.name / prefix.name / "bin")
    try:
        cluster.start()
        with connect(cluster.dsn()) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        cluster.stop()
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700


def test_keep_prints_a_stop_command_that_works(tmp_path):
    script = tmp_path / "s.sql"
    script.write_text("CREATE TABLE kept (id int);\n")
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "inspect", str(script), "--keep"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if "kept server: stop it with: " in x)
    command, _, rest = line.split("stop it with: ", 1)[1].partition("  (then remove ")
    workdir = Path(rest.rstrip(")"))
    try:
        assert (workdir / "data" / "postmaster.pid").exists()
        stopped = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
        assert stopped.returncode == 0, stopped.stderr
        assert not (workdir / "data" / "postmaster.pid").exists()
    finally:
        if (workdir / "data" / "postmaster.pid").exists():
            subprocess.run(["sh", "-c", command.replace(" stop", " -m immediate stop")])
        shutil.rmtree(workdir, ignore_errors=True)


def _private_copy(prefix: Path, where: Path) -> Path:
    site = where / "site-packages"
    shutil.copytree(prefix, site / prefix.parent.name / prefix.name, symlinks=True)
    for libs in prefix.parent.parent.glob("*.libs"):
        shutil.copytree(libs, site / libs.name, symlinks=True)
    where.chmod(0o700)
    return site / prefix.parent.name / prefix.name / "bin"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="root only")
def test_copies_of_replaced_or_deleted_installations_are_removed(tmp_path):
    from migverify.sandbox import _bin_dir_for_other_users, embedded_bin_dir

    prefix = embedded_bin_dir().resolve().parent
    first_bin = _private_copy(prefix, tmp_path / "one")
    first = _bin_dir_for_other_users(first_bin)
    cache = Path(str(first).split(f"/{prefix.parent.name}/")[0])
    assert (cache / ".prefix").read_text() == str(first_bin.parent)
    # The installation is replaced (new binaries): its old copy goes when the new one is made.
    os.utime(first_bin / "postgres", ns=(1, 1))
    second = _bin_dir_for_other_users(first_bin)
    second_cache = Path(str(second).split(f"/{prefix.parent.name}/")[0])
    assert second_cache != cache and second_cache.exists() and not cache.exists()
    # The installation is deleted (a CI venv): its copy goes when another one is made.
    shutil.rmtree(tmp_path / "one")
    other = _bin_dir_for_other_users(_private_copy(prefix, tmp_path / "two"))
    assert not second_cache.exists()
    shutil.rmtree(Path(str(other).split(f"/{prefix.parent.name}/")[0]))
