"""The online cutover, proved on verify's worlds rather than assumed.

The migrated world starts in the expand phase's state: legacy SQL + seed + target SQL +
`online/expand.sql` (the sync triggers installed). Each workload runs there in one transaction
the way the phases interleave with it in production — its first half, one batch of the backfill
per table, its second half, the rest of the backfill, then the switch — while the reference world
runs the same workload on the legacy tables. Every statement must have had the same outcome (a
sync trigger must not make a write fail), and the legacy names, views by then, must show what the
reference world holds. The phases are run by the driver of `migverify apply` (`apply.py`), the
same code that runs them on a live database.

Workloads: the probes' writes, in chunks (a chunk is one longer workload), and random workloads
from the search's strategies (run through `Verification.find` and `queue`, which this class
replaces, so the search and the shrinking of counterexamples are verify's own). Then each phase's rollback after
a write workload: rollback-expand and rollback-backfill must give back the legacy tables and
leave the targets empty; rollback-switch must give back every row written through the views,
with the sync triggers again (the expand phase's state), after which rollback-expand gives back
the database as it was before expand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError

from migverify.apply import Retry, run_backfill, run_script
from migverify.catalog import Catalog, Relation, load_catalog
from migverify.errors import InputError, MigverifyError
from migverify.sandbox import Sandbox
from migverify.sqlload import read_script
from migverify.verify import Counterexample, VerifyRequest, VerifyResult
from migverify.verify.compare import FAIL, Difference
from migverify.verify.findings import Finding, Findings
from migverify.verify.probes import ProbeBuilder
from migverify.verify.probes import probes as build_probes
from migverify.verify.run import Verification
from migverify.verify.statement import WRITES, Statement
from migverify.verify.static import rollback_differences
from migverify.verify.worlds import ExampleRun, World

T = TypeVar("T")
BATCH = 64  # rows per backfill batch in the migrated world: several batches for a seed
PROBE_CHUNK = 60  # probe writes per workload
PHASES = ("expand", "backfill", "switch")
FILES = {
    "expand": "expand.sql",
    "backfill": "backfill.sql",
    "switch": "switch.sql",
    "rollback_switch": "rollback-switch.sql",
    "rollback_backfill": "rollback-backfill.sql",
    "rollback_expand": "rollback-expand.sql",
}


@dataclass(frozen=True)
class OnlineScripts:
    """The phase scripts of `online/` (as `migverify generate` writes them)."""

    expand: str
    backfill: str
    switch: str
    rollback_switch: str
    rollback_backfill: str
    rollback_expand: str

    @classmethod
    def from_files(cls, files: Mapping[str, str]) -> OnlineScripts:
        return cls(**{field: files[f"online/{name}"] for field, name in FILES.items()})

    @classmethod
    def from_directory(cls, directory: Path) -> OnlineScripts:
        if not directory.is_dir():
            raise InputError(f"{directory}: no such directory (--online)")
        return cls(**{field: read_script(directory / name) for field, name in FILES.items()})


@dataclass(frozen=True)
class OnlineSummary:
    """What the online check ran (for the report)."""

    workloads: int
    statements: int
    rollbacks: tuple[str, ...]  # phases whose rollback was checked


def verify_online(
    request: VerifyRequest,
    scripts: OnlineScripts,
    progress: Callable[[str], None] | None = None,
) -> VerifyResult:
    """Run the online check alone (its own sandbox and worlds)."""
    with Sandbox(request.sandbox) as box:
        return OnlineVerification(request, scripts, box, progress or (lambda m: None)).run()


def merged(main: VerifyResult, online: VerifyResult) -> VerifyResult:
    """The verification of the one-transaction layer and of the online phases as one result."""

    def tagged(difference: Difference) -> Difference:
        return dataclasses.replace(difference, diagnosis=f"online cutover: {difference.diagnosis}")

    examples = tuple(
        dataclasses.replace(c, difference=tagged(c.difference)) for c in online.counterexamples
    )
    differences = main.differences + tuple(tagged(d) for d in online.differences)
    counterexamples = main.counterexamples + examples
    return dataclasses.replace(
        main,
        equivalent=main.equivalent and online.equivalent,
        differences=differences,
        warnings=main.warnings + tuple(tagged(w) for w in online.warnings),
        notes=main.notes + tuple(tagged(n) for n in online.notes),
        counterexample=counterexamples[0] if counterexamples else None,
        counterexamples=counterexamples,
        statements_compared=main.statements_compared + online.statements_compared,
        incomplete=main.incomplete + tuple(f"online cutover: {s}" for s in online.incomplete),
        online=online.online,
    )


class OnlineVerification(Verification):
    """Verify's worlds and workloads, the migrated world cut over by the online phases."""

    def __init__(
        self,
        request: VerifyRequest,
        scripts: OnlineScripts,
        box: Sandbox,
        say: Callable[[str], None],
    ) -> None:
        super().__init__(
            dataclasses.replace(
                request,
                compat=Path("online/expand.sql"),
                compat_sql=scripts.expand,
                rollback=None,
                rollback_sql=None,
                examples=max(5, request.examples // 4),
            ),
            box,
            say,
        )
        self.scripts = scripts
        self.before_expand: Catalog | None = None
        self.switched: Catalog | None = None
        self.workloads_run = 0

    def load_layer(self, conn: psycopg.Connection, compat_text: str, compat_name: str) -> None:
        from migverify.sqlload import load_sql

        self.load_target(conn)
        self.before_expand = load_catalog(conn)
        load_sql(conn, compat_text, compat_name)
        # The probes' target side (types, CHECKs the sync triggers write into) is what the
        # legacy names show once switched: backfill and switch once, read it, roll back.
        try:
            with conn.transaction(force_rollback=True):
                run_backfill(conn, self.scripts.backfill, BATCH, Retry(), self.say)
                run_script(
                    conn, self.scripts.switch, "online/switch.sql", Retry(), self.say, inside=True
                )
                self.switched = load_catalog(conn)
        except MigverifyError:
            self.switched = None  # the workloads will show why the switch fails

    @property
    def facts_catalog(self) -> Catalog:
        return self.switched or self.mig_catalog

    # --- the phases in the migrated world --------------------------------------------------

    def _phases(
        self, workload: Sequence[Statement], read: Callable[[], T] | None = None
    ) -> ExampleRun | Difference | T:
        """WORKLOAD with the backfill between its halves, then the switch; then READ (default:
        the outcomes and the digest)."""
        mig = self.mig
        mig.begin_example()
        try:
            half = len(workload) // 2
            first = mig.run_in_transaction(workload[:half], self.masked)
            self._backfill(limit=1)
            second = mig.run_in_transaction(workload[half:], self.masked)
            self._backfill()
            self._script(self.scripts.switch, "switch.sql")
            if read is not None:
                return read()
            return ExampleRun(first.outcomes + second.outcomes, mig.digest_now())
        except MigverifyError as error:
            return Difference(FAIL, "-", "cutover", f"after the workload, {error}")
        finally:
            mig.end_example()

    def _backfill(self, limit: int | None = None) -> None:
        run_backfill(
            self.mig.conn,
            self.scripts.backfill,
            BATCH,
            Retry(),
            self.say,
            limit_batches=limit,
        )

    def _contents_after(self, world: World, workload: Sequence[Statement], relation: Relation):
        """The rows of RELATION after WORKLOAD (in the migrated world: and the phases)."""
        if world is not self.mig:
            return super()._contents_after(world, workload, relation)

        def read() -> Any:
            return world.contents(relation, self.masked[relation.name], self.common[relation.name])

        found = self._phases(workload, read)
        return found.diagnosis if isinstance(found, Difference) else found

    def shrink(self, workload: tuple[Statement, ...], finding: Finding) -> tuple[Statement, ...]:
        """The smallest part of WORKLOAD that still shows the same difference: chunks first
        (each candidate runs every phase, so one-at-a-time removal alone would be slow)."""
        wanted = finding.key
        current = workload[: finding.index + 1]

        def fails(candidate: tuple[Statement, ...]) -> bool:
            compared = self.compared
            found = self.find([candidate])
            self.compared = compared  # replays are not new evidence
            return bool(found) and found[0][1].key == wanted

        parts = 2
        while len(current) > 1:
            size = -(-len(current) // parts)
            for start in range(0, len(current), size):
                candidate = current[:start] + current[start + size :]
                if candidate and fails(candidate):
                    current, parts = candidate, max(parts - 1, 2)
                    break
            else:
                if parts >= len(current):
                    break
                parts = min(parts * 2, len(current))
        return current

    def _script(self, text: str, name: str) -> None:
        run_script(self.mig.conn, text, f"online/{name}", Retry(), self.say, inside=True)

    def queue(self, batch: Sequence[tuple[Statement, ...]]) -> Callable[[], Findings]:
        """find(BATCH) now (the phases run one workload at a time)."""
        found = self.find(batch)
        return lambda: found

    def find(self, workloads_: Sequence[tuple[Statement, ...]]) -> Findings:
        """Each workload in the reference world, and in the migrated world through the phases."""
        found = []
        for index, workload in enumerate(workloads_):
            self.workloads_run += 1
            ref = self._slow(self.ref, workload)
            mig = self._phases(workload)
            if isinstance(mig, Difference):
                found.append((index, Finding(len(workload), mig)))
                continue
            finding = self.compare(workload, ref, mig)
            if finding is not None:
                found.append((index, finding))
        return found

    # --- workloads -------------------------------------------------------------------------

    def _probe_writes(self) -> list[tuple[Statement, ...]]:
        """The probes' writes, in chunks (each chunk one workload)."""
        others = {f.relation.qualified_name: f for f in self.facts}
        statements: list[Statement] = []
        for facts in self.facts:
            operations = tuple(self.request.operations)
            if facts.neighbour:
                operations = tuple(op for op in operations if op in ("insert", "update", "delete"))
            actors = self.actors if not facts.neighbour else ()
            builder = ProbeBuilder(facts, others, operations, actors, self.server_version)
            for probe in build_probes(builder, self._base(builder)):
                statements += [s for s in probe.statements if s.operation in WRITES]
        # Deletes last, in chunks of their own: a chunk is compared only at its end (after the
        # switch), and a DELETE of every row would hide what the writes before it stored.
        keys = {
            f.relation.name: set(f.relation.primary_key.columns if f.relation.primary_key else ())
            | {c for u in f.relation.unique_keys for c in u.columns}
            for f in self.facts
        }
        chunks = []
        for last in (False, True):
            part = [s for s in statements if _moves_rows(s, keys) == last]
            chunks += [tuple(part[i : i + PROBE_CHUNK]) for i in range(0, len(part), PROBE_CHUNK)]
        return chunks

    def _examples(self) -> list[Counterexample]:
        found: list[Counterexample] = []
        seen: set[str] = set()
        chunks = self._probe_writes()
        self.say(f"online phases: {len(chunks)} workloads of probe writes")
        for index, finding in self.find(chunks):
            if finding.key in seen:
                continue
            seen.add(finding.key)
            statements = self.shrink(chunks[index], finding)
            explained = self._explained(statements, finding)
            found.append(self._counterexample(statements, explained.difference, "online writes"))
        for example in self.searches():
            if example.difference.diagnosis not in {c.difference.diagnosis for c in found}:
                found.append(example)
        return found

    # --- rollbacks -------------------------------------------------------------------------

    def _rollbacks(self) -> list[Difference]:
        workloads = self._rollback_workloads()
        workload = workloads[0] if workloads else ()
        checks = (
            ("expand", self._rollback_expand),
            ("backfill", self._rollback_backfill),
            ("switch", self._rollback_switch),
        )
        found = []
        for phase, check in checks:
            self.say(f"online phases: rollback of the {phase}")
            difference = self._in_both(workload, check)
            if difference is not None:
                found.append(
                    dataclasses.replace(
                        difference, diagnosis=f"rollback of the {phase}: {difference.diagnosis}"
                    )
                )
        return found

    def _in_both(
        self,
        workload: tuple[Statement, ...],
        check: Callable[[tuple[Statement, ...]], Difference | None],
    ) -> Difference | None:
        for world in (self.ref, self.mig):
            world.begin_example()
        try:
            self.ref.run_in_transaction(workload, self.masked)
            return check(workload)
        except MigverifyError as error:
            return Difference(FAIL, "-", "rollback", str(error))
        finally:
            for world in (self.ref, self.mig):
                world.end_example()

    def _rollback_expand(self, workload: tuple[Statement, ...]) -> Difference | None:
        self.mig.run_in_transaction(workload, self.masked)
        self._script(self.scripts.rollback_expand, "rollback-expand.sql")
        return self._as_before_expand()

    def _rollback_backfill(self, workload: tuple[Statement, ...]) -> Difference | None:
        self.mig.run_in_transaction(workload, self.masked)
        self._backfill()
        self._script(self.scripts.rollback_backfill, "rollback-backfill.sql")
        return self._legacy_contents() or self._targets_empty() or self._expanded_shape()

    def _rollback_switch(self, workload: tuple[Statement, ...]) -> Difference | None:
        half = len(workload) // 2
        self.mig.run_in_transaction(workload[:half], self.masked)
        self._backfill()
        self._script(self.scripts.switch, "switch.sql")
        self.mig.run_in_transaction(workload[half:], self.masked)  # through the views
        self._script(self.scripts.rollback_switch, "rollback-switch.sql")
        found = self._legacy_contents() or self._expanded_shape()
        if found:
            return found
        self._script(self.scripts.rollback_expand, "rollback-expand.sql")
        return self._as_before_expand()

    # --- what a rollback must restore ------------------------------------------------------

    def _subjects(self) -> list[Relation]:
        return [r for r in self.relations if r not in self.neighbours]

    def _legacy_contents(self) -> Difference | None:
        return self.rolled_back_contents() or self._sequence_difference()

    def _targets(self) -> list[Relation]:
        assert self.before_expand is not None
        legacy = {r.qualified_name for r in self.ref_catalog.relations}
        return [r for r in self.before_expand.tables if r.qualified_name not in legacy]

    def _targets_empty(self) -> Difference | None:
        for target in self._targets():
            rows = self.mig.contents(target, (), cached=False)
            if isinstance(rows, str) or sum(rows.values()):
                count = rows if isinstance(rows, str) else f"{sum(rows.values())} rows"
                return Difference(
                    FAIL, target.name, "rollback", f"{target.name} is not empty after it ({count})"
                )
        return None

    def _expanded_shape(self) -> Difference | None:
        """The legacy tables as the expand phase left them (sync triggers included)."""
        now = load_catalog(self.mig.conn)
        for relation in self._subjects():
            expected = self.mig_catalog.find(relation.qualified_name)
            restored = now.find(relation.qualified_name)
            assert expected is not None
            problems = rollback_differences(expected, restored)
            if not problems and restored is not None and _triggers(restored) != _triggers(expected):
                problems = [_trigger_difference(relation, expected, restored)]
            if problems:
                return problems[0]
        return None

    def _as_before_expand(self) -> Difference | None:
        """Legacy tables (rows, shape, triggers) as in the reference world; targets empty with
        the constraints the target SQL gave them."""
        found = self._legacy_contents() or self._targets_empty()
        if found:
            return found
        now = load_catalog(self.mig.conn)
        for relation in self._subjects():
            restored = now.find(relation.qualified_name)
            problems = rollback_differences(relation, restored)
            if not problems and restored is not None and _triggers(restored) != _triggers(relation):
                problems = [_trigger_difference(relation, relation, restored)]
            if problems:
                return problems[0]
        for target in self._targets():
            restored = now.find(target.qualified_name)
            before = {(c.kind, c.definition) for c in target.constraints}
            after = {(c.kind, c.definition) for c in restored.constraints} if restored else set()
            for kind, definition in sorted(before - after):
                return Difference(
                    FAIL, target.name, "rollback", f"{target.name} lacks the {kind} {definition}"
                )
        return None

    # --- the whole run ---------------------------------------------------------------------

    def run(self) -> VerifyResult:
        with self.threads():
            return self._online()

    def _online(self) -> VerifyResult:
        self.say("online phases: preparing the expand phase's world")
        self.prepare()
        counterexamples = self._examples()
        differences = [c.difference for c in counterexamples]
        differences += self._rollbacks()
        return self.result(
            differences,
            counterexamples,
            tables=tuple(r.name for r in self.relations),
            rollback_checked=True,
            coverage=None,
            online=OnlineSummary(
                workloads=self.workloads_run,
                statements=self.compared,
                rollbacks=PHASES,
            ),
        )


def _moves_rows(statement: Statement, keys: Mapping[str, set[str]]) -> bool:
    """A DELETE, TRUNCATE or an UPDATE of a key column: the later statements of a chunk would
    no longer find the rows (`WHERE id = 1`) whose values the chunk is meant to compare."""
    if statement.operation in ("delete", "truncate"):
        return True
    if statement.operation != "update":
        return False
    try:
        node = parse_sql(statement.sql)[0].stmt
    except ParseError:
        return True
    if not isinstance(node, ast.UpdateStmt):
        return True
    columns = keys.get(node.relation.relname, set())
    return any(target.name in columns for target in node.targetList or ())


def _triggers(relation: Relation) -> set[tuple[str, str, str]]:
    return {(t.name, t.definition, t.firing) for t in relation.triggers}


def _trigger_difference(legacy: Relation, expected: Relation, restored: Relation) -> Difference:
    missing = sorted(t[0] for t in _triggers(expected) - _triggers(restored))
    extra = sorted(t[0] for t in _triggers(restored) - _triggers(expected))
    parts = []
    if missing:
        parts.append(f"lacks the trigger(s) {', '.join(missing)}")
    if extra:
        parts.append(f"has the trigger(s) {', '.join(extra)} too")
    return Difference(FAIL, legacy.name, "rollback", f"{legacy.name} {' and '.join(parts)}")
