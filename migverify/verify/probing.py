"""The deterministic part of a run: the catalog-derived probes, and the application's own
statements replayed (--queries, and the raw SQL check's scan found). A mixin of Verification
(run.py), whose worlds, facts and coverage it uses."""

from __future__ import annotations

from collections.abc import Iterator

from migverify.verify import Counterexample, tuning
from migverify.verify.findings import Finding
from migverify.verify.probes import BaseRow, ProbeBuilder
from migverify.verify.probes import probes as build_probes
from migverify.verify.replay import Replay, read_queries, replayable, source_position
from migverify.verify.statement import (
    Probe,
    Statement,
)


class Probing:
    """Probes and replay (see the module)."""

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
                probes[start : start + tuning.PROBES_PER_CALL]
                for start in range(0, len(probes), tuning.PROBES_PER_CALL)
            ]
        for probe, finding in self._failing(chunks):
            self.failed_probes += 1
            if finding.key in seen or len(found) >= tuning.MAX_COUNTEREXAMPLES:
                continue
            seen.add(finding.key)
            statements = self.shrink(probe.statements, finding)
            shrunk = self._explained(statements, finding)
            if shrunk.difference.diagnosis in diagnoses:
                continue
            diagnoses.add(shrunk.difference.diagnosis)
            found.append(self._counterexample(statements, shrunk.difference, probe.name))
        return found

    def _failing(self, chunks: list[list[Probe]]) -> Iterator[tuple[Probe, Finding]]:
        """Run CHUNKS of probes through the worlds' pipeline (coverage recorded): each probe
        that shows a difference, with its finding, in order."""
        batches = [[p.statements for p in chunk] for chunk in chunks]
        for chunk, findings in zip(chunks, self.find_each(batches), strict=True):
            for probe in chunk:
                self.coverage.probe(probe)
            for index, finding in findings:
                yield chunk[index], finding

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
            self._drop_unsteady(replay)
            probes = [
                Probe(
                    f"query {query.source}",
                    (statement,),
                    (("operation", statement.table, statement.operation),),
                )
                for query, statement in replay.statements
            ]
            failing: dict[int, str] = {}  # id(probe) -> diagnosis
            chunks = [
                probes[start : start + tuning.PROBES_PER_CALL]
                for start in range(0, len(probes), tuning.PROBES_PER_CALL)
            ]
            for probe, finding in self._failing(chunks):
                explained = self._explained(probe.statements, finding)
                failing[id(probe)] = explained.difference.diagnosis
                if len(found) < room:
                    found.append(
                        self._counterexample(probe.statements, explained.difference, probe.name)
                    )
            outcomes = [
                (
                    query.source,
                    f"differs: {failing[id(probe)]}" if id(probe) in failing else "same",
                )
                for (query, _), probe in zip(replay.statements, probes, strict=True)
            ]
            outcomes += [(source, f"not replayed: {why}") for source, why in replay.skipped]
            self.replayed += sorted(outcomes, key=lambda o: source_position(o[0]))
            self.coverage.note(replay.summary(path))
            reasons: dict[str, int] = {}
            for _, why in replay.skipped:
                reasons[why] = reasons.get(why, 0) + 1
            for why, count in sorted(reasons.items(), key=lambda r: (-r[1], r[0]))[:8]:
                self.coverage.note(f"{path}: {count} not replayed: {why}")
        return found

    def _drop_unsteady(self, replay: Replay) -> None:
        """Statements whose two runs in the legacy world differ (random(), gen_random_uuid(),
        a volatile function of the application's) tell nothing when the worlds differ: they
        are not replayed, and say why."""
        if not replay.statements:
            return
        workloads = [[statement] for _, statement in replay.statements]
        first = self.ref.run_examples(workloads, self.masked)
        second = self.ref.run_examples(workloads, self.masked)
        steady = []
        for (query, statement), a, b in zip(replay.statements, first, second, strict=True):
            same = a.digest == b.digest and all(
                x.ok == y.ok and x.sqlstate == y.sqlstate and x.same_rows(y)
                for x, y in zip(a.outcomes, b.outcomes, strict=True)
            )
            if same:
                steady.append((query, statement))
            else:
                reason = "its result differs between two runs in the legacy world (random?)"
                replay.skipped.append((query.source, reason))
        replay.statements = steady

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
