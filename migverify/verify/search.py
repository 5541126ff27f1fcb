"""The random part of a run: hypothesis workloads, after the probes, for interactions between
statements; a finding comes back minimised as a counterexample. A mixin of Verification
(run.py)."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisWarning

from migverify.usercache import keep_hypothesis_here
from migverify.verify import Counterexample, script_lines, tuning
from migverify.verify.compare import (
    WARN,
    Difference,
)
from migverify.verify.findings import Findings, _Divergence
from migverify.verify.statement import (
    MERGE_SINCE,
    Actor,
    Statement,
)
from migverify.verify.workload import workloads


class RandomSearch:
    """Hypothesis workloads (see the module)."""

    def search(self, actor: Actor | None, seed: int | None = None) -> Counterexample | None:
        """Hypothesis workloads (after the probes) for interactions between statements."""
        request = self.request
        seed = request.seed_value if seed is None else seed
        keep_hypothesis_here()
        operations = tuple(
            op for op in request.operations if op != "merge" or self.server_version >= MERGE_SINCE
        )
        batch = max(1, min(tuning.WORKLOADS_PER_CALL, request.examples))
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
