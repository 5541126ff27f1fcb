"""One verification run: identical worlds, static checks, deterministic probes, then the random
search, the rollback, and the coverage report.

This module prepares the two worlds and runs and compares workloads in them (the pipeline every
stage uses); the stages are rooms of their own, mixed into Verification: probing.py (probes and
replayed statements), search.py (hypothesis workloads), rollback_check.py, verdict.py (the
classification and the result); findings.py holds what a workload showed, tuning.py the sizes."""

from __future__ import annotations

import dataclasses
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from pglast import ast, parse_sql
from pglast.stream import RawStream

from migverify.catalog import Catalog, Relation, load_catalog
from migverify.errors import InputError, SQLFileError
from migverify.legacy import LegacyState, legacy_state
from migverify.quoting import ident, qualified
from migverify.rows import Row
from migverify.sandbox import Sandbox
from migverify.sqlload import Statement as ScriptStatement
from migverify.sqlload import load_sql, read_script, split_script
from migverify.verify import Counterexample, VerifyRequest, VerifyResult, tuning
from migverify.verify.calibrate import unstable_columns
from migverify.verify.clock import TOKEN as CLOCK_TOKEN
from migverify.verify.clock import Clock, clock_type
from migverify.verify.compare import (
    FAIL,
    WARN,
    Difference,
    compare_contents,
    compare_outcomes,
    diverges,
)
from migverify.verify.coverage import CoverageRecorder
from migverify.verify.facts import read_facts
from migverify.verify.findings import Finding, Findings, _paired
from migverify.verify.probing import Probing
from migverify.verify.rollback_check import RollbackCheck
from migverify.verify.search import RandomSearch
from migverify.verify.shrink import minimise
from migverify.verify.statement import (
    MERGE_SINCE,
    OPERATIONS,
    WRITES,
    Actor,
    Statement,
    user_actor,
)
from migverify.verify.static import (
    appended_columns,
    neighbour_differences,
    shape_differences,
    unchanged,
)
from migverify.verify.unavoidable import unavoidable
from migverify.verify.verdict import Verdict
from migverify.verify.workload import TableModel, edge_table, fresh_rows
from migverify.verify.worlds import ExampleRun, World, masked_columns

T = TypeVar("T")


@dataclass
class _Script:
    name: str
    text: str
    changed: dict[str, None] = dataclasses.field(default_factory=dict)  # what statements() did

    def statements(self) -> list[ScriptStatement]:
        """The script's statements without top-level BEGIN/COMMIT (run inside our transaction),
        and as they can run there: see `runnable_in_transaction`."""
        kept = []
        for statement in split_script(self.text, self.name):
            parsed = parse_sql(statement.text)
            if parsed and isinstance(parsed[0].stmt, ast.TransactionStmt):
                continue
            changed = runnable_in_transaction(parsed[0].stmt) if len(parsed) == 1 else None
            if changed is not None:
                text, sentence = changed
                self.changed[f"{self.name}:{statement.line}: {sentence}"] = None
                if text is None:
                    continue
                statement = dataclasses.replace(statement, text=text)
            kept.append(statement)
        return kept


class _FailsOverRows(Exception):
    """The target or compat script failed over the legacy rows but runs over empty tables."""

    def __init__(self, error: SQLFileError, tables: tuple[str, ...]) -> None:
        super().__init__(str(error))
        self.error, self.tables = error, tables


def runnable_in_transaction(stmt: ast.Node) -> tuple[str | None, str] | None:
    """(the statement as it can run in the check's transaction, or None to leave it out; what
    was done) for a statement PostgreSQL runs only outside a transaction block, else None. The
    rollback is checked inside the workload's transaction: an index built or dropped
    CONCURRENTLY is built or dropped plainly (the same index, a stronger lock), a VACUUM or
    ANALYZE (no change to any row or shape) is left out."""
    if isinstance(stmt, ast.VacuumStmt):
        return None, "VACUUM/ANALYZE left out (it cannot run in the check's transaction)"
    concurrent = False
    if isinstance(stmt, (ast.IndexStmt, ast.DropStmt)) and stmt.concurrent:
        stmt.concurrent, concurrent = False, True
    elif isinstance(stmt, ast.ReindexStmt) and stmt.params:
        kept = tuple(p for p in stmt.params if p.defname != "concurrently")
        concurrent, stmt.params = len(kept) != len(stmt.params), kept or None
    elif isinstance(stmt, ast.AlterTableStmt):
        for command in stmt.cmds or ():
            definition = getattr(command, "def_", None)
            if isinstance(definition, ast.PartitionCmd) and definition.concurrent:
                definition.concurrent, concurrent = False, True
    if not concurrent:
        return None
    return RawStream()(stmt), "run without CONCURRENTLY (it cannot run in the check's transaction)"


class Verification(Probing, RandomSearch, RollbackCheck, Verdict):
    def __init__(self, request: VerifyRequest, box: Sandbox, say: Callable[[str], None]) -> None:
        self.request, self.box, self.say = request, box, say
        self.compared = 0
        self.warnings: dict[str, Difference] = {}
        self.warning_codes: dict[str, set[str]] = {}
        self.coverage = CoverageRecorder()
        self.incomplete: list[str] = []
        self.failed_probes = 0
        self.replayed: list[tuple[str, str]] = []

    # --- preparation ---------------------------------------------------------------------------

    def prepare(self) -> None:
        request = self.request
        compat_name = str(request.compat)
        compat_text = (
            request.compat_sql if request.compat_sql is not None else read_script(request.compat)
        )
        self.rollback: _Script | None = None
        if request.rollback is not None or request.rollback_sql is not None:
            text = (
                request.rollback_sql
                if request.rollback_sql is not None
                else read_script(request.rollback)
            )
            self.rollback = _Script(str(request.rollback or "rollback.sql"), text)
            self.rollback.statements()  # a syntax error is bad input: report it now
        self.say("preparing the reference world")
        later = (*request.seed, *request.target)
        state = legacy_state(self.box, request.legacy, request.supabase, later)
        plan = state.plan
        ref_db = state.copy(self.box, "reference")
        with ref_db.connect() as conn:
            legacy_only = state.catalog
            plan.prepare(conn, install=False).load(request.seed)
            self.skipped = state.untested
            for sentence in self.skipped:
                self.coverage.note(sentence)
            self.shim_relations = set(state.shim_relations)
            self.users = self._signed_in_users(conn)
            seeded = load_catalog(conn) if request.seed else legacy_only
            subjects = self._legacy_relations(legacy_only, conn, seeded)
            self.fresh = self._add_rows(conn, seeded, subjects)
        # The migrated world starts as a copy of the reference: the seed's volatile values
        # (random keys, now()) are the same in both.
        self.say("preparing the migrated world")
        mig_db = self.box.clone(ref_db, "migrated")
        ref_conn, mig_conn = ref_db.connect(), mig_db.connect()
        before = seeded  # the rows added since changed no table, view or key
        self.plan = plan
        try:
            self.load_layer(mig_conn, compat_text, compat_name)
        except SQLFileError as error:
            # over the rows the legacy tables accept; over the same tables empty, it runs: the
            # layer (a migration under test, say) fails on data, which is the finding
            if error.sqlstate is None or not self._runs_over_empty_tables(
                state, compat_text, compat_name
            ):
                raise
            ref_conn.close()
            mig_conn.close()
            raise _FailsOverRows(error, tuple(r.display_name for r in subjects)) from None
        self.ref, self.mig = World("reference", ref_conn), World("migrated", mig_conn)
        self.ref_catalog = before
        self.mig_catalog = load_catalog(mig_conn)
        self.server_version = self.ref_catalog.server_version
        subjects = [before.relation(r.qualified_name) for r in subjects]
        if unchanged(subjects, before, self.mig_catalog):
            raise InputError(
                f"{compat_name}: nothing to verify: after the target and compat scripts every "
                f"legacy table ({', '.join(r.name for r in subjects)}) is still the same table"
            )
        self.neighbours = self._neighbours(subjects)
        self.relations = [*subjects, *self.neighbours]
        self.missing = {
            r.display_name for r in subjects if self.mig_catalog.find(r.qualified_name) is None
        }
        self.appended: dict[str, tuple[str, ...]] = {}
        for r in self.relations:
            for column in appended_columns(r, self.mig_catalog.find(r.qualified_name)):
                self.appended[column] = (*self.appended.get(column, ()), r.display_name)
        self.roles = self._usable_roles()
        # Signed-in users first: PostgREST always sends an `authenticated` request with claims.
        self.actors: tuple[Actor, ...] = ()
        if "authenticated" in self.roles:
            self.actors = tuple(user_actor("authenticated", *user) for user in self.users)
        self.actors += tuple(Actor(role) for role in self.roles)
        self.masked = masked_columns({r.display_name: r for r in self.relations})
        # Contents are compared on the columns both worlds have; shape() reports the others.
        self.common = {}
        for relation in self.relations:
            other = self.mig_catalog.find(relation.qualified_name)
            names = set(other.column_names) if other else set()
            self.common[relation.display_name] = tuple(
                c for c in relation.column_names if c in names
            )
        compared = tuple(self.relations)
        self.facts = [
            read_facts(
                ref_conn,
                r,
                self.facts_catalog,
                compared,
                neighbour=r in self.neighbours,
                fresh=self.fresh.get(r.qualified_name, ()),
                reference=self.ref_catalog,
            )
            for r in self.relations
        ]
        self.models = [
            TableModel(
                f.relation,
                self._samples(f.relation),
                edge_table(f.relation, f.target_types),
                fresh_rows(f),
            )
            for f in self.facts
        ]
        for world in (self.ref, self.mig):
            world.install_runner()
            world.capture_sequences()
        # One instant for both worlds: values a clock writes from here on compare as equal.
        self.clock = Clock.capture(ref_conn)
        clocked = [
            f"{r.display_name}.{c.name}"
            for r in self.relations
            for c in r.columns
            if clock_type(c.type) and c.name not in self.masked[r.display_name]
        ]
        if clocked:
            self.coverage.compared(
                f"times and dates a clock writes during the run (now(), CURRENT_TIMESTAMP, "
                f"clock_timestamp(), CURRENT_DATE) compare as {CLOCK_TOKEN}: {', '.join(clocked)}"
            )
        for world in (self.ref, self.mig):
            world.set_digest(self.relations, self.masked, self.common, self.clock)
        self._mask_unstable()

    def _mask_unstable(self) -> None:
        """Columns a trigger or rule fills differently at each run (see calibrate.py) are
        compared by presence from here on, and named in the coverage report."""
        unstable = unstable_columns(
            self.ref, self.relations, self.facts, self.masked, self.server_version
        )
        if not unstable:
            return
        for name, columns in unstable.items():
            self.masked[name] = self.masked[name] | columns
        self.models = [
            dataclasses.replace(m, unstable=m.unstable | unstable.get(m.name, frozenset()))
            for m in self.models
        ]
        listed = ", ".join(f"{n}.{c}" for n, cs in sorted(unstable.items()) for c in sorted(cs))
        self.coverage.compared(
            "compared by presence only, since two identical runs in the legacy world give "
            f"them different values (a trigger or rule draws them): {listed}"
        )
        for world in (self.ref, self.mig):
            world.set_digest(self.relations, self.masked, self.common, self.clock)

    @property
    def facts_catalog(self) -> Catalog:
        """The catalog the probes read the target side from (verify/online.py: the world as
        the switch would leave it, not as the expand phase does)."""
        return self.mig_catalog

    def _runs_over_empty_tables(
        self, state: LegacyState, compat_text: str, compat_name: str
    ) -> bool:
        """Whether the target and compat scripts run over the legacy tables without rows."""
        with state.copy(self.box, "layer-over-empty-tables").connect() as conn:
            try:
                self.load_target(conn)
                load_sql(conn, compat_text, compat_name)
            except SQLFileError:
                return False
        return True

    def _failed_over_rows(self, failure: _FailsOverRows) -> VerifyResult:
        """The verdict when the layer does not even run over the legacy rows: that finding
        alone, nothing else verified."""
        error = failure.error
        difference = Difference(
            FAIL,
            "-",
            "cutover",
            f"{error}: this fails over rows the legacy tables accept, and runs over the same "
            "tables empty: the cutover fails on a database holding such rows",
        )
        self.coverage.note(
            "nothing else verified: the layer does not run over the legacy tables' rows"
        )
        return VerifyResult(
            equivalent=False,
            differences=(difference,),
            warnings=(),
            counterexample=None,
            counterexamples=(),
            tables=failure.tables,
            operations=self.request.operations,
            roles=self.request.roles,
            examples=self.request.examples,
            statements_compared=0,
            seed_value=self.request.seed_value,
            rollback_checked=False,
            coverage=self.coverage.build(()),
            skipped=self.skipped,
        )

    def load_layer(self, conn: psycopg.Connection, compat_text: str, compat_name: str) -> None:
        """The migrated world's change: the target SQL, then the compat script (a hook for
        verify/online.py, which looks at the world in between)."""
        self.load_target(conn)
        load_sql(conn, compat_text, compat_name)

    def load_target(self, conn: psycopg.Connection) -> None:
        """The target SQL (over the Supabase shim the reference world has, if any)."""
        self.plan.prepare(conn, install=False).load(self.request.target)

    def _legacy_relations(
        self, legacy: Catalog, conn: psycopg.Connection, catalog: Catalog
    ) -> list[Relation]:
        """The compared legacy tables (the requested ones, else every table of the legacy
        SQL), as CATALOG has them."""
        self.partitions = partitions = {
            row[0]
            for row in conn.execute(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relispartition"
            )
        }
        # Partitions are compared through their parent, as code reaches them.
        # The Supabase shim's tables (auth.users, …) are not the project's: neighbours at most.
        tables = [
            r
            for r in legacy.tables
            if r.kind in ("table", "partitioned table")
            and r.qualified_name not in partitions
            and r.qualified_name not in self.shim_relations
        ]
        if not self.request.tables:
            # a table without columns (`CREATE TABLE t ()`) has no row to write or compare
            for r in tables:
                if not r.columns:
                    self.coverage.note(f"{r.display_name}: not compared (a table without columns)")
            if not any(r.columns for r in tables):
                raise InputError("the legacy SQL defines no tables to compare")
            return [catalog.relation(r.qualified_name) for r in tables if r.columns]
        chosen = []
        for name in self.request.tables:
            relation = legacy.find(name)
            if relation is None:
                known = ", ".join(r.name for r in tables) or "none"
                raise InputError(f"unknown table {name!r}: legacy tables are {known}")
            if not relation.columns:
                raise InputError(
                    f"{relation.display_name} has no columns: there is no row to write or "
                    "compare through a layer"
                )
            chosen.append(catalog.relation(relation.qualified_name))
        return chosen

    def _neighbours(
        self, subjects: Sequence[Relation], catalog: Catalog | None = None
    ) -> list[Relation]:
        """Tables outside the compared set that reference one of them or that one references."""
        names = {r.qualified_name for r in subjects}
        found = []
        for relation in (catalog or self.ref_catalog).tables:
            if relation.qualified_name in names or relation.qualified_name in self.partitions:
                continue
            refers = any(fk.references in names for fk in relation.foreign_keys)
            referred = any(
                fk.references == relation.qualified_name for r in subjects for fk in r.foreign_keys
            )
            if refers or referred:
                found.append(relation)
        return found

    def _add_rows(
        self, conn: psycopg.Connection, catalog: Catalog, subjects: Sequence[Relation]
    ) -> dict[str, tuple[Row, ...]]:
        """Rows the tables accept, built before the migrated world is copied from this one:
        tables the seed left with fewer than tuning.MIN_ROWS get more (parents first), the same in
        both worlds; and tuning.FRESH_ROWS more per compared table, built and rolled back, for the
        probes and the random search to insert. What cannot be built is noted with why."""
        from migverify.rows import RowFactory

        self.unbuildable: dict[str, str] = {}
        tables = [r.qualified_name for r in (*subjects, *self._neighbours(subjects, catalog))]
        self.say("building rows the legacy tables accept")
        fresh: dict[str, tuple[Row, ...]] = {}
        with conn.transaction():
            factory = RowFactory(conn, catalog)
            added, failed = factory.fill(tables, tuning.MIN_ROWS)
            for table in tables:
                rows, reason = factory.fresh(table, tuning.FRESH_ROWS)
                fresh[table] = tuple(rows)
                if reason and table not in failed:
                    failed[table] = reason
        if added:
            counts = ", ".join(
                f"{catalog.relation(t).display_name} {n}" for t, n in sorted(added.items())
            )
            self.coverage.compared(
                f"rows migverify added before the run, the same in both worlds (the seed had "
                f"fewer than {tuning.MIN_ROWS}): {counts}"
            )
        for table, reason in failed.items():
            self.unbuildable[catalog.relation(table).display_name] = reason
        return fresh

    def _signed_in_users(self, conn: psycopg.Connection) -> list[tuple[str, str | None]]:
        """Two users of a Supabase-style project (`auth.users`), for per-user workloads when
        the role `authenticated` is verified; created in the reference world if the seed has
        fewer (the migrated world is a copy of it)."""
        if "authenticated" not in self.request.roles:
            return []
        has_users = conn.execute(
            "SELECT to_regclass('auth.users') IS NOT NULL AND to_regprocedure('auth.uid()') "
            "IS NOT NULL"
        ).fetchone()[0]
        if not has_users:
            return []
        users = conn.execute(
            "SELECT id::text, email::text FROM auth.users ORDER BY id LIMIT 2"
        ).fetchall()
        for n in range(len(users), 2):
            user_id = str(uuid.uuid5(tuning.USERS, str(n)))
            email = f"migverify-user-{n + 1}@example.com"
            try:
                conn.execute("INSERT INTO auth.users (id, email) VALUES (%s, %s)", (user_id, email))
            except psycopg.Error as error:
                reason = (error.diag.message_primary or str(error)).strip()
                self.coverage.note(f"per-user workloads untested: cannot add a user ({reason})")
                return []
            self.coverage.note(f"auth.users had fewer than two users: added {email}")
            users.append((user_id, email))
        return [tuple(u) for u in users]

    def _usable_roles(self) -> tuple[str, ...]:
        """The requested roles this connection can assume; the others are reported untested."""
        usable = []
        for role in self.request.roles:
            exists = self.ref.conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
            if exists is None:
                raise InputError(f"unknown role {role!r}: the legacy SQL does not create it")
            try:
                for world in (self.ref, self.mig):
                    world.conn.execute(f"SET ROLE {ident(role)}; RESET ROLE")
            except psycopg.Error as error:
                reason = (error.diag.message_primary or str(error)).strip()
                self.incomplete.append(f"role {role} could not be assumed ({reason}): untested")
                continue
            usable.append(role)
        return tuple(usable)

    def _samples(self, relation: Relation) -> dict[str, tuple[str, ...]]:
        samples = {}
        table = qualified(relation.qualified_name)
        for column in relation.columns:
            name = ident(column.name)
            rows = self.ref.conn.execute(
                f"SELECT DISTINCT v, md5(v) FROM (SELECT {name}::text AS v FROM {table} "
                f"WHERE {name} IS NOT NULL LIMIT 2000) s ORDER BY md5(v), v "
                f"LIMIT {tuning.SAMPLES_PER_COLUMN}"
            ).fetchall()
            samples[column.name] = tuple(r[0] for r in rows)
        return samples

    # --- running and comparing workloads -------------------------------------------------------

    @contextmanager
    def threads(self) -> Iterator[None]:
        """One worker thread per world, each running its world's work in the order given: the
        reference world goes on to the next batch while the migrated one finishes this one,
        and both run while the caller compares. Work never waits for other work, so a queue
        cannot deadlock; on an error or interrupt the queued work is dropped."""
        self.pools = (
            ThreadPoolExecutor(1, thread_name_prefix="reference"),
            ThreadPoolExecutor(1, thread_name_prefix="migrated"),
        )
        try:
            yield
        except BaseException:
            for pool in self.pools:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            for pool in self.pools:
                pool.shutdown(wait=True)

    def _submit(self, action: Callable[[World], T]) -> tuple[Future, Future]:
        """ACTION queued in both worlds (each on its own connection and thread)."""
        ref_pool, mig_pool = self.pools
        return ref_pool.submit(action, self.ref), mig_pool.submit(action, self.mig)

    def _both(self, action: Callable[[World], T]) -> tuple[T, T]:
        """Run ACTION in both worlds at once, after the work queued before it."""
        ref, mig = self._submit(action)
        return ref.result(), mig.result()

    def run_workloads(
        self, batch: Sequence[Sequence[Statement]]
    ) -> list[tuple[ExampleRun, ExampleRun]]:
        """Each workload from the prepared state in both worlds."""
        return _paired(self._submit_workloads(batch))

    def _submit_workloads(self, batch: Sequence[Sequence[Statement]]) -> tuple[Future, Future]:
        return self._submit(lambda world: self._in_world(world, batch))

    def _in_world(self, world: World, batch: Sequence[Sequence[Statement]]) -> list[ExampleRun]:
        """Each workload from the prepared state in WORLD; COPY takes the slow path."""
        fast = [i for i, w in enumerate(batch) if not any(s.is_copy for s in w)]
        results: dict[int, ExampleRun] = {}
        if fast:
            runs = world.run_examples([batch[i] for i in fast], self.masked)
            results.update(zip(fast, runs, strict=True))
        for i, workload in enumerate(batch):
            if i not in results:
                results[i] = self._slow(world, workload)
        return [results[i] for i in range(len(batch))]

    def _slow(self, world: World, workload: Sequence[Statement]) -> ExampleRun:
        world.begin_example()
        try:
            return world.run_in_transaction(workload, self.masked)
        finally:
            world.end_example()

    def compare(
        self, workload: Sequence[Statement], ref: ExampleRun, mig: ExampleRun
    ) -> Finding | None:
        """The first difference a workload shows; tolerated ones are recorded as warnings."""
        for index, (statement, a, b) in enumerate(
            zip(workload, ref.outcomes, mig.outcomes, strict=True)
        ):
            self.compared += 1
            if a.ok and (a.rowcount or statement.operation not in WRITES):
                self.coverage.accept(statement.table, statement.operation)
            difference = compare_outcomes(statement.table, statement.operation, a, b, self.appended)
            if difference is None:
                continue
            found = unavoidable(statement, self._relation(statement.table), a, b)
            if found is not None:
                why, column = found
                tolerated = dataclasses.replace(
                    difference, severity=WARN, diagnosis=why, columns=(column,)
                )
                self._tolerate(tolerated, "ok", b.sqlstate)
                self.coverage.note(f"{why}: not compared")
                return None  # the worlds now differ: stop comparing
            if difference.severity == FAIL or (self.request.strict and difference.severity == WARN):
                return Finding(index, difference)
            self._tolerate(difference, a.sqlstate, b.sqlstate)
            if diverges(difference):
                return None  # the worlds now differ for a tolerated reason: stop comparing
        if ref.digest != mig.digest:
            differing = [
                r.name
                for r, a, b in zip(self.relations, ref.digest, mig.digest, strict=False)
                if a != b
            ]
            return Finding(
                len(workload),
                explain=lambda: self._contents_difference(workload, ref, mig),
                key=f"contents of {', '.join(differing) or 'the compared tables'}",
            )
        return None

    def _relation(self, name: str) -> Relation | None:
        return next((r for r in self.relations if r.display_name == name), None)

    def _tolerate(self, difference: Difference, ref_code: str | None, mig_code: str | None) -> None:
        if mig_code == "42P01" and difference.table in self.missing:
            return  # the relation is gone after cutover: that error says it, not one per code
        key = f"{difference.severity}:{difference.diagnosis}"
        self.warnings.setdefault(key, difference)
        self.warning_codes.setdefault(key, set()).add(f"{ref_code or 'ok'} -> {mig_code or 'ok'}")

    def _contents_difference(
        self, workload: Sequence[Statement], ref: ExampleRun, mig: ExampleRun
    ) -> Difference:
        """Which relation differs after the workload, with the rows that differ."""
        operation = next(
            (s.operation for s in reversed(workload) if s.operation in WRITES), "cutover"
        )
        for position, relation in enumerate(self.relations):
            a = ref.digest[position] if position < len(ref.digest) else ref.digest[0]
            b = mig.digest[position] if position < len(mig.digest) else mig.digest[0]
            if a == b:
                continue
            rows = self._both(lambda world, r=relation: self._contents_after(world, workload, r))
            found = compare_contents(
                relation.display_name,
                operation,
                rows[0],
                rows[1],
                self.common[relation.display_name],
            )
            if found:
                return found
        return Difference(FAIL, "-", operation, "the compared tables differ after the workload")

    def _contents_after(self, world: World, workload: Sequence[Statement], relation: Relation):
        world.begin_example()
        try:
            if workload:
                world.run_in_transaction(workload, self.masked)
            return world.contents(
                relation, self.masked[relation.display_name], self.common[relation.display_name]
            )
        finally:
            world.end_example()

    def find(self, workloads_: Sequence[tuple[Statement, ...]]) -> Findings:
        """Run WORKLOADS; the ones that show a difference, with it."""
        return self._findings(workloads_, self.run_workloads(workloads_))

    def _findings(
        self,
        workloads_: Sequence[tuple[Statement, ...]],
        runs: Sequence[tuple[ExampleRun, ExampleRun]],
    ) -> Findings:
        return [
            (i, finding)
            for i, (workload, (ref, mig)) in enumerate(zip(workloads_, runs, strict=True))
            if (finding := self.compare(workload, ref, mig)) is not None
        ]

    def queue(self, batch: Sequence[tuple[Statement, ...]]) -> Callable[[], Findings]:
        """find(BATCH), queued in the worlds now; call the result for the findings (it waits
        for the runs, then compares them in the caller's thread)."""
        queued = self._submit_workloads(batch)
        return lambda: self._findings(batch, _paired(queued))

    def settle(self) -> None:
        """Wait until both worlds have done every piece of work queued in them."""
        wait(self._submit(lambda world: None))

    def find_each(self, batches: Sequence[Sequence[tuple[Statement, ...]]]) -> Iterator[Findings]:
        """find() for each batch, in order, with up to tuning.AHEAD batches queued in the worlds while
        the caller compares and takes in this one's findings (what it runs in the worlds to
        shrink them queues behind those)."""
        queued: deque[Callable[[], Findings]] = deque()
        try:
            for index in range(len(batches)):
                while len(queued) < tuning.AHEAD and index + len(queued) < len(batches):
                    queued.append(self.queue(batches[index + len(queued)]))
                yield queued.popleft()()
        finally:
            self.settle()  # the caller may have stopped early

    def shrink(self, workload: tuple[Statement, ...], finding: Finding) -> tuple[Statement, ...]:
        """The smallest part of WORKLOAD that still shows the same difference."""
        wanted = finding.key
        workload = workload[: finding.index + 1]

        def still_fails(candidates: list[tuple[Statement, ...]]) -> list[bool]:
            compared = self.compared
            verdicts = [False] * len(candidates)
            for i, found in self.find(candidates):
                verdicts[i] = found.key == wanted
            self.compared = compared  # replays are not new evidence
            return verdicts

        return minimise(workload, still_fails)

    # --- static checks -------------------------------------------------------------------------

    def static(self) -> list[Difference]:
        found = shape_differences(self.relations, self.mig_catalog)
        found += neighbour_differences(self.neighbours, self.mig_catalog)
        ref_digest, mig_digest = self._both(lambda world: world.digest_now())
        if ref_digest != mig_digest:
            found.append(
                self._contents_difference(
                    (), ExampleRun((), ref_digest), ExampleRun((), mig_digest)
                )
            )
        return found

    # --- the whole run -------------------------------------------------------------------------

    def run(self) -> VerifyResult:
        with self.threads():
            return self._run()

    def deterministic(self) -> tuple[list[Difference], list[Counterexample]]:
        """Everything that does not depend on the seed: static checks and the probes."""
        differences = self.static()
        for op in self.request.operations:
            if op == "merge" and self.server_version < MERGE_SINCE:
                self.incomplete.append(
                    f"merge not tested: the server is PostgreSQL {self.server_version // 10000}"
                )
        self.say("running probes")
        counterexamples = self.probes()
        if self.request.queries or self.request.code_queries:
            self.say("replaying the application's statements")
            counterexamples += self.replay(tuning.MAX_COUNTEREXAMPLES - len(counterexamples))
        if self.rollback is not None:
            self.say("checking the rollback")
            differences += self.rollback_checks(self._rollback_workloads())
            for sentence in self.rollback.changed:
                self.coverage.compared(f"rollback: {sentence}")
        return differences, counterexamples

    def searches(self, seed: int | None = None) -> list[Counterexample]:
        """The random search, without and with each role and signed-in user."""
        found = []
        for actor in (None, *self.actors):
            self.say(f"searching random workloads{f' as {actor.name}' if actor else ''}")
            example = self.search(actor, seed)
            if example:
                found.append(example)
        return found

    def _run(self) -> VerifyResult:
        try:
            self.prepare()
        except _FailsOverRows as failure:
            return self._failed_over_rows(failure)
        differences, counterexamples = self.deterministic()
        seen = {c.difference.diagnosis for c in counterexamples}
        for example in self.searches():
            if example.difference.diagnosis not in seen:
                counterexamples.append(example)
        differences += [c.difference for c in counterexamples]
        unrequested = [op for op in OPERATIONS if op not in self.request.operations]
        if unrequested:
            self.coverage.note(
                f"{', '.join(unrequested)}: not tested (not requested; add to --ops)"
            )
        self.incomplete += self.untested_writes()
        for sentence in self.incomplete:
            self.coverage.note(sentence)
        return self.result(
            differences,
            counterexamples,
            tables=tuple(r.display_name for r in self.relations),
            rollback_checked=self.rollback is not None,
            coverage=self.coverage.build(self.facts),
            skipped=self.skipped,
        )
