"""One verification run: identical worlds, static checks, deterministic probes, then the random
search, the rollback, and the coverage report."""

from __future__ import annotations

import dataclasses
import math
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import hypothesis
import psycopg
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisWarning
from pglast import ast, parse_sql

from migverify.catalog import Catalog, Relation, load_catalog
from migverify.errors import InputError
from migverify.legacy import legacy_state
from migverify.quoting import ident, qualified
from migverify.rows import Row
from migverify.sandbox import Sandbox
from migverify.sqlload import Statement as ScriptStatement
from migverify.sqlload import load_sql, read_script, split_script
from migverify.usercache import keep_hypothesis_here
from migverify.verify import Counterexample, VerifyRequest, VerifyResult, script_lines
from migverify.verify.calibrate import unstable_columns
from migverify.verify.clock import TOKEN as CLOCK_TOKEN
from migverify.verify.clock import Clock, clock_type
from migverify.verify.compare import (
    FAIL,
    INFO,
    WARN,
    Difference,
    compare_contents,
    compare_outcomes,
    diverges,
)
from migverify.verify.coverage import CoverageRecorder
from migverify.verify.facts import read_facts
from migverify.verify.fixes import with_fixes
from migverify.verify.probes import BaseRow, ProbeBuilder, sql_value
from migverify.verify.probes import probes as build_probes
from migverify.verify.replay import read_queries, replayable
from migverify.verify.shrink import minimise
from migverify.verify.statement import (
    MERGE_SINCE,
    OPERATIONS,
    WRITES,
    Actor,
    Probe,
    Statement,
    user_actor,
)
from migverify.verify.static import (
    neighbour_differences,
    rollback_differences,
    shape_differences,
    unchanged,
)
from migverify.verify.unavoidable import unavoidable
from migverify.verify.workload import TableModel, edge_table, fresh_rows, workloads
from migverify.verify.worlds import ExampleRun, World, masked_columns

SAMPLES_PER_COLUMN = 12
MIN_ROWS = 3  # rows each compared table holds before the run (added when the seed has fewer)
FRESH_ROWS = 4  # rows per compared table built for inserts, not stored
PROBES_PER_CALL = 200
WORKLOADS_PER_CALL = 20
AHEAD = 2  # batches queued in the worlds while the caller compares
_USERS = uuid.UUID("0d3c1f0e-8f5a-4b7e-9a51-5f0c7e2b9d33")  # ids of users migverify adds
MAX_COUNTEREXAMPLES = 12  # distinct ones reported; further failing probes are only counted
T = TypeVar("T")


class Finding:
    """The first difference of a workload: at statement INDEX (len = the final contents).

    KEY tells findings apart cheaply; a contents difference is explained (which rows differ,
    read again in both worlds) only when it is reported.
    """

    def __init__(
        self,
        index: int,
        difference: Difference | None = None,
        explain: Callable[[], Difference] | None = None,
        key: str | None = None,
    ) -> None:
        self.index = index
        self._difference = difference
        self._explain = explain
        self.key = key or (difference.diagnosis if difference else "")

    @property
    def difference(self) -> Difference:
        if self._difference is None:
            assert self._explain is not None
            self._difference = self._explain()
        return self._difference


Findings = list[tuple[int, Finding]]  # (index of the workload in its batch, its finding)


def _paired(pair: tuple[Future, Future]) -> list[tuple[ExampleRun, ExampleRun]]:
    """The two worlds' runs of one batch, workload by workload."""
    ref, mig = pair
    return list(zip(ref.result(), mig.result(), strict=True))


class _Divergence(BaseException):
    """A batch differed: ends the search at once. Not an Exception, so hypothesis does not
    take it for a test failure to replay (each replay redraws a whole batch, and would only
    raise this again)."""

    def __init__(self, workload: tuple[Statement, ...], finding: Finding) -> None:
        super().__init__(finding.key)
        self.workload = workload
        self.finding = finding


@dataclass
class _Script:
    name: str
    text: str

    def statements(self) -> list[ScriptStatement]:
        """The script's statements without top-level BEGIN/COMMIT (run inside our transaction)."""
        kept = []
        for statement in split_script(self.text, self.name):
            parsed = parse_sql(statement.text)
            if parsed and isinstance(parsed[0].stmt, ast.TransactionStmt):
                continue
            kept.append(statement)
        return kept


class Verification:
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
        self.load_layer(mig_conn, compat_text, compat_name)
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
            if not tables:
                raise InputError("the legacy SQL defines no tables to compare")
            return [catalog.relation(r.qualified_name) for r in tables]
        chosen = []
        for name in self.request.tables:
            relation = legacy.find(name)
            if relation is None:
                known = ", ".join(r.name for r in tables) or "none"
                raise InputError(f"unknown table {name!r}: legacy tables are {known}")
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
        tables the seed left with fewer than MIN_ROWS get more (parents first), the same in
        both worlds; and FRESH_ROWS more per compared table, built and rolled back, for the
        probes and the random search to insert. What cannot be built is noted with why."""
        from migverify.rows import RowFactory

        self.unbuildable: dict[str, str] = {}
        tables = [r.qualified_name for r in (*subjects, *self._neighbours(subjects, catalog))]
        self.say("building rows the legacy tables accept")
        fresh: dict[str, tuple[Row, ...]] = {}
        with conn.transaction():
            factory = RowFactory(conn, catalog)
            added, failed = factory.fill(tables, MIN_ROWS)
            for table in tables:
                rows, reason = factory.fresh(table, FRESH_ROWS)
                fresh[table] = tuple(rows)
                if reason and table not in failed:
                    failed[table] = reason
        if added:
            counts = ", ".join(
                f"{catalog.relation(t).display_name} {n}" for t, n in sorted(added.items())
            )
            self.coverage.compared(
                f"rows migverify added before the run, the same in both worlds (the seed had "
                f"fewer than {MIN_ROWS}): {counts}"
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
            user_id = str(uuid.uuid5(_USERS, str(n)))
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
                f"LIMIT {SAMPLES_PER_COLUMN}"
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
            difference = compare_outcomes(statement.table, statement.operation, a, b)
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
        """find() for each batch, in order, with up to AHEAD batches queued in the worlds while
        the caller compares and takes in this one's findings (what it runs in the worlds to
        shrink them queues behind those)."""
        queued: deque[Callable[[], Findings]] = deque()
        try:
            for index in range(len(batches)):
                while len(queued) < AHEAD and index + len(queued) < len(batches):
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

    # --- probes --------------------------------------------------------------------------------

    def probes(self) -> list[Counterexample]:
        """The deterministic probes of every compared relation, as roles and options say."""
        found: list[Counterexample] = []
        seen: set[str] = set()  # finding keys
        diagnoses: set[str] = set()
        others = {f.relation.qualified_name: f for f in self.facts}
        operations = tuple(self.request.operations)
        chunks: list[list[Probe]] = []
        for facts in self.facts:
            builder = ProbeBuilder(
                facts,
                others,
                operations
                if not facts.neighbour
                else tuple(
                    op for op in operations if op in ("select", "insert", "update", "delete")
                ),
                self.actors if not facts.neighbour else (),
                self.server_version,
            )
            base = self._base(builder)
            probes = [p for p in build_probes(builder, base) if p.statements]
            for note in builder.notes:
                self.coverage.note(note)
            self.say(f"probing {facts.name}: {len(probes)} probes")
            chunks += [
                probes[start : start + PROBES_PER_CALL]
                for start in range(0, len(probes), PROBES_PER_CALL)
            ]
        batches = [[p.statements for p in chunk] for chunk in chunks]
        for chunk, findings in zip(chunks, self.find_each(batches), strict=True):
            for probe in chunk:
                self.coverage.probe(probe)
            for index, finding in findings:
                probe = chunk[index]
                self.failed_probes += 1
                if finding.key in seen or len(found) >= MAX_COUNTEREXAMPLES:
                    continue
                seen.add(finding.key)
                statements = self.shrink(probe.statements, finding)
                shrunk = self._explained(statements, finding)
                if shrunk.difference.diagnosis in diagnoses:
                    continue
                diagnoses.add(shrunk.difference.diagnosis)
                found.append(self._counterexample(statements, shrunk.difference, probe.name))
        return found

    def replay(self, room: int) -> list[Counterexample]:
        """The statements of --queries that touch compared relations, each run alone from the
        prepared state in both worlds (like a probe); each one's outcome is kept."""
        found: list[Counterexample] = []
        compared = [f for f in self.facts if not f.neighbour]
        groups = [(str(path), read_queries(path)) for path in self.request.queries]
        if self.request.code_queries:
            groups.append(("the code (raw SQL the scan found)", list(self.request.code_queries)))
        for path, queries in groups:
            replay = replayable(self.ref.conn, queries, compared)
            probes = [
                Probe(
                    f"query {query.source}",
                    (statement,),
                    (("operation", statement.table, statement.operation),),
                )
                for query, statement in replay.statements
            ]
            failing: dict[int, str] = {}
            chunks = [
                probes[start : start + PROBES_PER_CALL]
                for start in range(0, len(probes), PROBES_PER_CALL)
            ]
            batches = [[p.statements for p in chunk] for chunk in chunks]
            offset = 0
            for chunk, findings in zip(chunks, self.find_each(batches), strict=True):
                for probe in chunk:
                    self.coverage.probe(probe)
                for index, finding in findings:
                    probe = chunk[index]
                    explained = self._explained(probe.statements, finding)
                    failing[offset + index] = explained.difference.diagnosis
                    if len(found) < room:
                        found.append(
                            self._counterexample(probe.statements, explained.difference, probe.name)
                        )
                offset += len(chunk)
            outcomes = [
                (query.source, f"differs: {failing[n]}" if n in failing else "same")
                for n, (query, _) in enumerate(replay.statements)
            ]
            outcomes += [(source, f"not replayed: {why}") for source, why in replay.skipped]
            self.replayed += sorted(outcomes, key=lambda o: _source_order(o[0]))
            self.coverage.note(replay.summary(path))
            reasons: dict[str, int] = {}
            for _, why in replay.skipped:
                reasons[why] = reasons.get(why, 0) + 1
            for why, count in sorted(reasons.items(), key=lambda r: (-r[1], r[0]))[:8]:
                self.coverage.note(f"{path}: {count} not replayed: {why}")
        return found

    def _explained(self, statements: tuple[Statement, ...], finding: Finding) -> Finding:
        """The finding of the shrunk statements (its rows explained for those statements)."""
        if len(statements) == finding.index + 1 or finding._difference is not None:
            return finding
        again = self.find([statements])
        return again[0][1] if again else finding

    def _base(self, builder: ProbeBuilder) -> tuple[BaseRow, BaseRow] | None:
        """The first pair of base rows the reference world accepts (both inserted together)."""
        candidates = builder.base_candidates()
        if not candidates:
            return None
        trials = [
            (
                *a.prerequisites,
                builder.insert(a.values),
                *b.prerequisites,
                builder.insert(b.values),
            )
            for a, b in candidates
        ]
        for pair, run in zip(candidates, self.ref.run_examples(trials, self.masked), strict=True):
            if all(o.ok for o in run.outcomes):
                return pair
        failed = next(
            o for o in self.ref.run_examples(trials[:1], self.masked)[0].outcomes if not o.ok
        )
        self.coverage.note(
            f"{builder.table}: no base row for probes (a copy of a seeded row with fresh keys "
            f"fails: {failed.message}): insert probes untested"
        )
        return None

    # --- random search -------------------------------------------------------------------------

    def search(self, actor: Actor | None, seed: int | None = None) -> Counterexample | None:
        """Hypothesis workloads (after the probes) for interactions between statements."""
        request = self.request
        seed = request.seed_value if seed is None else seed
        keep_hypothesis_here()
        operations = tuple(
            op for op in request.operations if op != "merge" or self.server_version >= MERGE_SINCE
        )
        batch = max(1, min(WORKLOADS_PER_CALL, request.examples))
        verification = self
        # Each batch runs in the worlds' threads while hypothesis draws the next; it is compared
        # at the next call, once that call's batch is queued behind it (the last one's after
        # hypothesis is done). Once a batch differs (or fails), every later call raises that
        # again: hypothesis replays the failing call.
        pending: list[tuple[list[tuple[Statement, ...]], Callable[[], Findings]]] = []
        failed: list[BaseException] = []

        def compare(batch_: list[tuple[Statement, ...]], findings: Callable[[], Findings]) -> None:
            try:
                found = findings()
            except Exception as error:
                failed.append(error)
                raise
            if found:
                index, finding = found[0]
                failed.append(_Divergence(batch_[index], finding))
                raise failed[0]

        @settings(
            max_examples=max(1, math.ceil(request.examples / batch)),
            deadline=None,
            database=None,
            derandomize=False,
            print_blob=False,
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
        )
        @given(
            st.lists(
                workloads(self.models, operations, actor or Actor(), request.steps),
                min_size=batch,
                max_size=batch,
            )
        )
        def test(batch_: list[tuple[Statement, ...]]) -> None:
            if failed:
                raise failed[0]
            self.coverage.search(s for w in batch_ for s in w)
            # Queued behind the previous batch, which is compared while this one runs.
            pending.append((batch_, verification.queue(batch_)))
            if len(pending) > 1:
                compare(*pending.pop(0))

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", HypothesisWarning)  # long reprs of workloads
                hypothesis.seed(seed)(test)()
                while pending:
                    compare(*pending.pop(0))
        except Flaky as error:
            detail = str(error).splitlines()[0]
            self._tolerate(
                Difference(
                    WARN,
                    "-",
                    "behaviour",
                    f"a workload behaved differently when replayed ({detail})",
                ),
                None,
                None,
            )
            return None
        except _Divergence as divergence:
            statements = self.shrink(divergence.workload, divergence.finding)
            explained = self._explained(statements, divergence.finding)
            found = self._counterexample(statements, explained.difference, None)
            return dataclasses.replace(found, seed_value=seed)
        finally:  # batches queued after a difference: the worlds are idle again before return
            self.settle()
        return None

    def _counterexample(
        self, statements: Sequence[Statement], difference: Difference, probe: str | None
    ) -> Counterexample:
        roles = {s.role for s in statements}
        return Counterexample(
            role=next(iter(roles)) if len(roles) == 1 else None,
            statements=script_lines(statements),
            difference=self._name_users(statements, difference),
            seed_value=self.request.seed_value,
            probe=probe,
        )

    def _name_users(self, statements: Sequence[Statement], difference: Difference) -> Difference:
        """A difference seen by a signed-in user names that user, and any other user whose
        rows it concerns (a view that leaks rows across users)."""
        actors = {a.claims: a for a in self.actors if a.claims}
        acting = [actors[s.claims] for s in statements if s.claims in actors]
        if not acting:
            return difference
        me = acting[-1]
        evidence = f"{difference.reference}\n{difference.migrated}"
        theirs = [a for a in actors.values() if a is not me and a.user_id and a.user_id in evidence]
        suffix = f" (as {me.name}, sub {me.user_id}"
        if theirs:
            suffix += f"; rows of {', '.join(f'{a.name} (sub {a.user_id})' for a in theirs)}"
        return dataclasses.replace(difference, diagnosis=difference.diagnosis + suffix + ")")

    # --- rollback ------------------------------------------------------------------------------

    def rollback_checks(self, workloads_: Sequence[tuple[Statement, ...]]) -> list[Difference]:
        """The rollback right after cutover, then after each workload: the legacy tables must
        come back with every row written through the layer."""
        assert self.rollback is not None
        found: list[Difference] = []
        for workload in ((), *workloads_):
            difference = self._rollback_after(workload)
            if difference:
                found.append(difference)
                break
        return found

    def rolled_back_contents(self) -> Difference | None:
        """The first relation whose rows differ from the reference world's after a rollback."""
        for relation in self.relations:
            masked = self.masked[relation.display_name]
            ref = self.ref.contents(relation, masked)
            mig = self.mig.contents(relation, masked, cached=False)
            difference = compare_contents(
                relation.display_name, "rollback", ref, mig, relation.column_names
            )
            if difference:
                return difference
        return None

    def _rollback_after(self, workload: tuple[Statement, ...]) -> Difference | None:
        assert self.rollback is not None
        for world in (self.ref, self.mig):
            world.begin_example()
        try:
            if workload:
                ref_run, mig_run = self._both(
                    lambda world: world.run_in_transaction(workload, self.masked)
                )
                if self.compare(workload, ref_run, mig_run):
                    return None  # a difference the workload shows is reported elsewhere
            error = self._apply_rollback()
            if error:
                return error
            restored = load_catalog(self.mig.conn)
            if not workload:
                for relation in self.relations:
                    problems = rollback_differences(
                        relation, restored.find(relation.qualified_name)
                    )
                    if problems:
                        return problems[0]
            difference = self.rolled_back_contents()
            if difference:
                return dataclasses.replace(
                    difference,
                    diagnosis=difference.diagnosis
                    + (f" (after: {'; '.join(s.sql for s in workload)})" if workload else ""),
                )
            return self._sequence_difference()
        finally:
            for world in (self.ref, self.mig):
                world.end_example()

    def _apply_rollback(self) -> Difference | None:
        """The rollback script, in the workload's transaction but as in one of its own: the
        constraints declared INITIALLY DEFERRED are checked at its end, not per statement."""
        assert self.rollback is not None
        deferred = self.mig.conn.execute(
            "SELECT format('%I.%I', n.nspname, c.conname) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.condeferred ORDER BY 1"
        ).fetchall()
        if deferred:
            self.mig.conn.execute(f"SET CONSTRAINTS {', '.join(d[0] for d in deferred)} DEFERRED")
        steps = [(s.text, s.line) for s in self.rollback.statements()]
        for text, line in [*steps, ("SET CONSTRAINTS ALL IMMEDIATE", None)]:
            outcome = self.mig.execute(text)
            if not outcome.ok:
                self.mig.settle(False)
                where = f"{self.rollback.name}:{line}" if line else f"{self.rollback.name} (end)"
                return Difference(
                    FAIL,
                    "-",
                    "rollback",
                    f"{where}: rollback fails: {outcome.message} (SQLSTATE {outcome.sqlstate})",
                )
            self.mig.settle(True)
        return None

    def _sequence_difference(self) -> Difference | None:
        ref = self.ref.next_values(self.relations)
        mig = self.mig.next_values(self.relations)
        for key, value in ref.items():
            if mig.get(key) != value:
                return Difference(
                    FAIL,
                    key.split(".")[0],
                    "rollback",
                    f"after rollback the sequence of {key} continues at {mig.get(key)}, "
                    f"legacy at {value}",
                )
        return None

    def _rollback_workloads(self) -> list[tuple[Statement, ...]]:
        """A deterministic write workload over every table, then a few random ones."""
        others = {f.relation.qualified_name: f for f in self.facts}
        mixed: list[Statement] = []
        for facts in self.facts:
            builder = ProbeBuilder(facts, others, (), (), self.server_version)
            base = self._base(builder)
            if base:
                mixed += [*base[0].prerequisites, builder.insert(base[0].values)]
                keyed = {
                    c.name for c in facts.relation.columns if c.identity or c.default_uses_sequence
                }
                without = {c: v for c, v in base[1].values.items() if c not in keyed}
                if keyed and without:
                    mixed.append(builder.insert(without))
            if len(facts.seeded) >= 2 and builder.writable:
                column = builder.writable[-1]
                value = facts.seeded[1].get(column.name)
                mixed.append(
                    builder.update(
                        f"{ident(column.name)} = {sql_value(value, column)}", facts.seeded[0]
                    )
                )
        return [tuple(mixed)] if mixed else []

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
            counterexamples += self.replay(MAX_COUNTEREXAMPLES - len(counterexamples))
        if self.rollback is not None:
            self.say("checking the rollback")
            differences += self.rollback_checks(self._rollback_workloads())
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
        self.prepare()
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

    def untested_writes(self) -> list[str]:
        """A sentence per compared table (not a neighbour) on which a requested write was
        never accepted by the legacy table: a verdict needs that evidence."""
        wanted = [op for op in ("insert", "update", "delete") if op in self.request.operations]
        sentences = []
        for relation in self.relations:
            name = relation.display_name
            missing = [op for op in wanted if not self.coverage.accepted[(name, op)]]
            if relation in self.neighbours or not missing:
                continue
            why = self.unbuildable.get(name) or "the legacy table accepted none of the statements"
            sentences.append(f"{name}: {', '.join(missing)} not tested ({why})")
        return sentences

    def result(
        self, differences: Sequence[Difference], counterexamples: Sequence[Counterexample], **run
    ) -> VerifyResult:
        """The verdict on DIFFERENCES (the counterexamples' included); RUN: the fields that
        depend on the kind of run (tables, rollback_checked, coverage, …)."""
        fixed = {
            d: f
            for d, f in zip(
                differences,
                with_fixes(differences, self.ref_catalog, self.mig_catalog),
                strict=True,
            )
        }
        differences = [fixed[d] for d in differences]
        counterexamples = [
            dataclasses.replace(c, difference=fixed.get(c.difference, c.difference))
            for c in counterexamples
        ]
        failures, warnings, notes = self.classified(differences)
        return VerifyResult(
            equivalent=not failures and not self.incomplete,
            differences=failures,
            warnings=warnings,
            counterexample=counterexamples[0] if counterexamples else None,
            counterexamples=tuple(counterexamples),
            operations=self.request.operations,
            roles=self.request.roles,
            examples=self.request.examples,
            statements_compared=self.compared,
            seed_value=self.request.seed_value,
            incomplete=tuple(self.incomplete),
            notes=notes,
            replayed=tuple(self.replayed),
            **run,
        )

    def classified(
        self, differences: Sequence[Difference]
    ) -> tuple[tuple[Difference, ...], tuple[Difference, ...], tuple[Difference, ...]]:
        """DIFFERENCES and the tolerated ones seen on the way, as failures (warnings too with
        --strict), warnings, and notes (information)."""
        strict = self.request.strict
        failures = tuple(
            d for d in differences if d.severity == FAIL or (strict and d.severity == WARN)
        )
        warnings = tuple(d for d in differences if d.severity == WARN and not strict)
        warnings += tuple(
            self._warning(k) for k in sorted(self.warnings) if self.warnings[k].severity == WARN
        )
        notes = tuple(
            self._warning(k) for k in sorted(self.warnings) if self.warnings[k].severity == INFO
        )
        return failures, warnings, notes

    def _warning(self, key: str) -> Difference:
        """One warning per kind, with the SQLSTATE pairs seen (legacy -> through the layer)."""
        codes = sorted(self.warning_codes.get(key, ()))
        shown = "; ".join(codes[:4]) + (f"; +{len(codes) - 4} more" if len(codes) > 4 else "")
        warning = self.warnings[key]
        return dataclasses.replace(warning, diagnosis=f"{warning.diagnosis} ({shown})")


def _source_order(source: str) -> tuple[str, int]:
    path, _, line = source.rpartition(":")
    return (path, int(line) if line.isdigit() else 0)
