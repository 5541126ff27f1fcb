"""One verification run: prepare both worlds, static checks, then hypothesis workloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from pglast import ast, parse_sql

from migverify.catalog import Catalog, Relation, load_catalog
from migverify.errors import InputError
from migverify.quoting import ident, qualified
from migverify.sandbox import Sandbox
from migverify.sqlload import Statement as ScriptStatement
from migverify.sqlload import load_sql, load_sql_files, read_script, split_script
from migverify.verify import Counterexample, VerifyRequest, VerifyResult
from migverify.verify.compare import FAIL, WARN, Difference, compare_contents, compare_outcomes
from migverify.verify.workload import Statement, TableModel, statements
from migverify.verify.worlds import World, masked_columns

SAMPLES_PER_COLUMN = 12
RECENT_VALUES = 8
T = TypeVar("T")


class _Divergence(Exception):
    def __init__(self, statements: Sequence[Statement], difference: Difference) -> None:
        super().__init__(difference.diagnosis)
        self.statements = tuple(statements)
        self.difference = difference


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
        ref_db = self.box.create_database("reference")
        ref_conn = ref_db.connect()
        load_sql_files(ref_conn, request.legacy)
        legacy_only = load_catalog(ref_conn)
        load_sql_files(ref_conn, request.seed)
        self.say("preparing the migrated world")
        mig_db = self.box.create_database("migrated")
        mig_conn = mig_db.connect()
        load_sql_files(mig_conn, [*request.legacy, *request.seed, *request.target])
        load_sql(mig_conn, compat_text, compat_name)
        self.ref = World("reference", ref_conn)
        self.mig = World("migrated", mig_conn)
        self.ref_catalog = load_catalog(ref_conn)
        self.mig_catalog = load_catalog(mig_conn)
        self.relations = self._legacy_relations(legacy_only)
        self._check_roles(ref_conn)
        self.masked = masked_columns({r.name: r for r in self.relations})
        # Contents are compared on the columns both worlds have; shape() reports the others.
        self.common = {}
        for relation in self.relations:
            other = self.mig_catalog.find(relation.qualified_name)
            names = set(other.column_names) if other else set()
            self.common[relation.name] = tuple(c for c in relation.column_names if c in names)
        self.models = [TableModel(r, self._samples(r)) for r in self.relations]
        self.ref.capture_sequences()
        self.mig.capture_sequences()

    def _legacy_relations(self, legacy: Catalog) -> list[Relation]:
        tables = [r for r in legacy.tables if r.kind in ("table", "partitioned table")]
        if not self.request.tables:
            if not tables:
                raise InputError("the legacy SQL defines no tables to compare")
            return [self.ref_catalog.relation(r.qualified_name) for r in tables]
        chosen = []
        for name in self.request.tables:
            relation = legacy.find(name)
            if relation is None:
                known = ", ".join(r.name for r in tables) or "none"
                raise InputError(f"unknown table {name!r}: legacy tables are {known}")
            chosen.append(self.ref_catalog.relation(relation.qualified_name))
        return chosen

    def _check_roles(self, conn) -> None:
        for role in self.request.roles:
            if (
                conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                is None
            ):
                raise InputError(f"unknown role {role!r}: the legacy SQL does not create it")

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

    # --- static checks -------------------------------------------------------------------------

    def shape(self) -> list[Difference]:
        found = []
        for relation in self.relations:
            other = self.mig_catalog.find(relation.qualified_name)
            if other is None:
                found.append(
                    Difference(
                        FAIL,
                        relation.name,
                        "shape",
                        f'relation "{relation.name}" does not exist after cutover',
                    )
                )
                continue
            legacy_cols = relation.column_names
            new_cols = other.column_names
            missing = [c for c in legacy_cols if c not in new_cols]
            extra = [c for c in new_cols if c not in legacy_cols]
            if missing:
                found.append(
                    Difference(
                        FAIL,
                        relation.name,
                        "shape",
                        f"{relation.name} lost column(s) {', '.join(missing)}: code that reads or "
                        f"writes them fails",
                        columns=tuple(missing),
                    )
                )
            if extra:
                found.append(
                    Difference(
                        FAIL,
                        relation.name,
                        "shape",
                        f"{relation.name} exposes {len(extra)} column(s) the legacy table does not "
                        f"have ({', '.join(extra[:8])}{', …' if len(extra) > 8 else ''}): "
                        f"SELECT * and positional INSERT change meaning",
                    )
                )
            if not missing and not extra and legacy_cols != new_cols:
                found.append(
                    Difference(
                        FAIL,
                        relation.name,
                        "shape",
                        f"{relation.name} has its columns in a different order",
                    )
                )
            for column in relation.columns:
                if column.name in new_cols and other.column(column.name).type != column.type:
                    found.append(
                        Difference(
                            WARN,
                            relation.name,
                            "shape",
                            f"{relation.name}.{column.name} is {other.column(column.name).type}, "
                            f"was {column.type}",
                        )
                    )
        return found

    def data_after_cutover(self) -> list[Difference]:
        found = []
        self.ref.begin_example()
        self.mig.begin_example()
        try:
            for relation in self.relations:
                difference = self._contents_difference(relation, "cutover")
                if difference:
                    found.append(difference)
        finally:
            self.ref.end_example()
            self.mig.end_example()
        return found

    def _contents_difference(self, relation: Relation, operation: str) -> Difference | None:
        masked = self.masked[relation.name]
        common = self.common[relation.name]
        ref_digest, mig_digest = self._both(lambda world: world.digest(relation, masked, common))
        if ref_digest == mig_digest:
            return None
        ref = self.ref.contents(relation, masked, common)
        mig = self.mig.contents(relation, masked, common)
        return compare_contents(relation.name, operation, ref, mig, common)

    def rollback_static(self) -> list[Difference]:
        """Right after cutover, the rollback must give back the legacy tables exactly."""
        assert self.rollback is not None
        found: list[Difference] = []
        self.ref.begin_example()
        self.mig.begin_example()
        try:
            error = self._apply_rollback()
            if error:
                return [error]
            restored = load_catalog(self.mig.conn)
            for relation in self.relations:
                found += _compare_relation(relation, restored.find(relation.qualified_name))
                difference = self._contents_difference(relation, "rollback")
                if difference:
                    found.append(difference)
            found += self._sequence_differences()
        finally:
            self.ref.end_example()
            self.mig.end_example()
        return found

    def _apply_rollback(self) -> Difference | None:
        assert self.rollback is not None
        for statement in self.rollback.statements():
            outcome = self.mig.execute(statement.text, None)
            if not outcome.ok:
                self.mig.settle(False)
                return Difference(
                    FAIL,
                    "-",
                    "rollback",
                    f"{self.rollback.name}:{statement.line}: rollback fails: {outcome.message} "
                    f"(SQLSTATE {outcome.sqlstate})",
                )
            self.mig.settle(True)
        return None

    def _sequence_differences(self) -> list[Difference]:
        ref = self.ref.next_values(self.relations)
        mig = self.mig.next_values(self.relations)
        found = []
        for key, value in ref.items():
            if mig.get(key) != value:
                table = key.split(".")[0]
                found.append(
                    Difference(
                        FAIL,
                        table,
                        "rollback",
                        f"after rollback the sequence of {key} continues at {mig.get(key)}, "
                        f"legacy at {value}",
                    )
                )
        return found

    # --- behaviour -----------------------------------------------------------------------------

    def _both(self, action: Callable[[World], T]) -> tuple[T, T]:
        """Run ACTION in both worlds at once (each on its own connection and thread)."""
        pending = self.pool.submit(action, self.mig)
        return action(self.ref), pending.result()

    def step(self, statement: Statement) -> Difference | None:
        """Run one statement in both worlds; keep its effects only when both agree."""
        masked = self.masked.get(statement.table, frozenset())
        ref, mig = self._both(lambda world, s=statement, m=masked: world.execute(s.sql, s.role, m))
        self.compared += 1
        difference = compare_outcomes(statement.table, statement.operation, ref, mig)
        tolerated = difference and difference.severity == WARN and not self.request.strict
        keep = ref.ok and mig.ok and not difference
        self._both(lambda world, k=keep: world.settle(k))
        if difference and not tolerated:
            return difference
        if tolerated:
            self.warnings.setdefault(difference.diagnosis, difference)
            codes = f"{ref.sqlstate or 'ok'} -> {mig.sqlstate or 'ok'}"
            self.warning_codes.setdefault(difference.diagnosis, set()).add(codes)
        if keep and statement.operation != "select":
            return self._changed_relations(statement.operation)
        return None

    def _changed_relations(self, operation: str) -> Difference | None:
        """Compare every legacy relation: digests in one query per world, rows only if needed."""
        ref_digests, mig_digests = self._both(
            lambda world: world.digests(self.relations, self.masked, self.common)
        )
        for relation, ref, mig in zip(self.relations, ref_digests, mig_digests, strict=True):
            if ref != mig:
                changed = self._contents_difference(relation, operation)
                if changed:
                    return changed
        return None

    def rollback_after_workload(self) -> Difference | None:
        """Run the rollback in the migrated world; the legacy tables must match the reference."""
        error = self._apply_rollback()
        if error:
            return error
        for relation in self.relations:
            changed = self._contents_difference(relation, "rollback")
            if changed:
                return changed
        sequences = self._sequence_differences()
        return sequences[0] if sequences else None

    def search(
        self,
        role: str | None,
        operations: tuple[str, ...] | None = None,
        examples: int | None = None,
        shrink: bool = True,
    ) -> Counterexample | None:
        """Hypothesis stateful testing: each rule runs one generated statement in both worlds."""
        verification, request = self, self.request
        operations = operations or request.operations
        strategies: dict[tuple, st.SearchStrategy[Statement]] = {}

        def statement_strategy(recent: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Statement]:
            key = tuple(sorted(recent.items()))
            if key not in strategies:
                strategies[key] = statements(self.models, operations, role, recent)
            return strategies[key]

        class Workload(RuleBasedStateMachine):
            def __init__(self) -> None:
                super().__init__()
                self.done: list[Statement] = []
                self.recent: dict[str, tuple[str, ...]] = {}
                verification._both(World.begin_example)

            @rule(data=st.data())
            def run_statement(self, data: st.DataObject) -> None:
                statement = data.draw(statement_strategy(dict(self.recent)), label="statement")
                self.done.append(statement)
                difference = verification.step(statement)
                if difference:
                    raise _Divergence(self.done, difference)
                for column, value in statement.written:  # reusable as key/FK/conflict values
                    values = self.recent.get(column, ())
                    if value not in values:
                        self.recent[column] = (*values, value)[-RECENT_VALUES:]

            def teardown(self) -> None:
                try:
                    if verification.rollback is not None and self.done:
                        difference = verification.rollback_after_workload()
                        if difference:
                            raise _Divergence(self.done, difference)
                finally:
                    verification._both(World.end_example)

        config = settings(
            max_examples=examples or request.examples,
            stateful_step_count=request.steps,
            deadline=None,
            database=None,
            derandomize=False,
            print_blob=False,
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            phases=(Phase.generate, Phase.shrink) if shrink else (Phase.generate,),
            suppress_health_check=list(HealthCheck),
        )
        try:
            machine = hypothesis.seed(request.seed_value)(Workload)  # replayable runs
            run_state_machine_as_test(machine, settings=config, _min_steps=1)
        except Flaky as error:
            # The same workload behaved differently on a rerun: something nondeterministic
            # (volatile values feeding a predicate, concurrency) that a test cannot pin down.
            detail = str(error).splitlines()[0]
            self.warnings.setdefault(
                "nondeterministic",
                Difference(
                    WARN,
                    "-",
                    "behaviour",
                    f"a workload behaved differently when replayed ({detail})",
                ),
            )
            return None
        except _Divergence as divergence:
            statements_sql = tuple(s.sql for s in divergence.statements)
            return Counterexample(role, statements_sql, divergence.difference, request.seed_value)
        return None

    def _warning(self, diagnosis: str) -> Difference:
        """One warning per kind, with the SQLSTATE pairs seen (legacy -> through the layer)."""
        codes = sorted(self.warning_codes.get(diagnosis, ()))
        shown = "; ".join(codes[:4]) + (f"; +{len(codes) - 4} more" if len(codes) > 4 else "")
        return dataclasses.replace(self.warnings[diagnosis], diagnosis=f"{diagnosis} ({shown})")

    def behaviour(self) -> list[Counterexample]:
        """Mixed workloads per role; after a failure, short searches per operation so that every
        kind of statement the code runs gets its own counterexample."""
        found: list[Counterexample] = []
        seen: set[str] = set()
        operations = self.request.operations
        for role in (None, *self.request.roles):
            self.say(f"running workloads{f' as {role}' if role else ''}")
            first = self.search(role)
            if first is None:
                continue
            candidates = [first]
            if len(operations) > 1:
                budget = max(5, self.request.examples // 6)
                for operation in operations:
                    if operation != first.difference.operation:
                        # extra evidence, not the verdict: no shrinking, it costs the most
                        candidates.append(self.search(role, (operation,), budget, shrink=False))
            for candidate in candidates:
                if candidate and candidate.difference.diagnosis not in seen:
                    seen.add(candidate.difference.diagnosis)
                    found.append(candidate)
        return found

    def run(self) -> VerifyResult:
        with ThreadPoolExecutor(1, thread_name_prefix="migrated-world") as self.pool:
            return self._run()

    def _run(self) -> VerifyResult:
        self.prepare()
        differences = self.shape()
        differences += self.data_after_cutover()
        if self.rollback is not None:
            self.say("checking the rollback right after cutover")
            differences += self.rollback_static()
        counterexamples = self.behaviour()
        differences += [c.difference for c in counterexamples]
        failures = tuple(d for d in differences if d.severity == FAIL or self.request.strict)
        warnings = tuple(d for d in differences if d.severity == WARN and not self.request.strict)
        warnings += tuple(self._warning(k) for k in sorted(self.warnings))
        return VerifyResult(
            equivalent=not failures,
            differences=failures,
            warnings=warnings,
            counterexample=counterexamples[0] if counterexamples else None,
            counterexamples=tuple(counterexamples),
            tables=tuple(r.name for r in self.relations),
            operations=self.request.operations,
            roles=self.request.roles,
            examples=self.request.examples,
            statements_compared=self.compared,
            seed_value=self.request.seed_value,
            rollback_checked=self.rollback is not None,
        )


def _compare_relation(legacy: Relation, restored: Relation | None) -> list[Difference]:
    name = legacy.name
    if restored is None:
        return [Difference(FAIL, name, "rollback", f'rollback leaves no relation "{name}"')]
    found = []
    if restored.kind != legacy.kind:
        found.append(
            Difference(
                FAIL,
                name,
                "rollback",
                f"after rollback {name} is a {restored.kind}, not a {legacy.kind}",
            )
        )
        return found

    def column_shape(relation: Relation) -> list[tuple]:
        return [
            (
                c.name,
                c.type,
                c.not_null,
                "<sequence>" if c.default_uses_sequence else c.default,
                c.identity,
                c.generated,
            )
            for c in relation.columns
        ]

    if column_shape(restored) != column_shape(legacy):
        before, after = column_shape(legacy), column_shape(restored)
        changed = [a[0] for a, b in zip(before, after, strict=False) if a != b]
        changed += [c[0] for c in before[len(after) :]] + [c[0] for c in after[len(before) :]]
        found.append(
            Difference(
                FAIL,
                name,
                "rollback",
                f"after rollback the columns of {name} differ: {', '.join(changed)}",
            )
        )
    constraints = {(c.kind, c.definition) for c in legacy.constraints}
    restored_constraints = {(c.kind, c.definition) for c in restored.constraints}
    for kind, definition in sorted(constraints - restored_constraints):
        found.append(
            Difference(
                FAIL, name, "rollback", f"after rollback {name} lacks the {kind} {definition}"
            )
        )
    grants = {(g.grantee, g.privilege, g.column) for g in legacy.grants}
    restored_grants = {(g.grantee, g.privilege, g.column) for g in restored.grants}
    for grantee, privilege, _column in sorted(grants - restored_grants, key=str):
        found.append(
            Difference(
                FAIL, name, "rollback", f"after rollback {grantee} lacks {privilege} on {name}"
            )
        )
    if (legacy.rls_enabled, legacy.rls_forced) != (restored.rls_enabled, restored.rls_forced):
        found.append(
            Difference(
                FAIL, name, "rollback", f"after rollback row-level security of {name} differs"
            )
        )
    policies = {(p.command, p.permissive, p.roles, p.using, p.with_check) for p in legacy.policies}
    restored_policies = {
        (p.command, p.permissive, p.roles, p.using, p.with_check) for p in restored.policies
    }
    if policies != restored_policies:
        found.append(
            Difference(
                FAIL,
                name,
                "rollback",
                f"after rollback the row-level security policies of {name} differ",
            )
        )
    return found
