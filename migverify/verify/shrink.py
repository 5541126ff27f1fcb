"""Minimising a failing workload: drop statements while the same difference still shows.

Every candidate is a whole workload run again from the prepared state, so a statement that
only set up the failure stays and one that merely came before it goes. The candidates of one
pass run in one round trip per world.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migverify.verify.statement import Statement

Workload = tuple[Statement, ...]


def minimise(
    workload: Sequence[Statement],
    still_fails: Callable[[list[Workload]], list[bool]],
) -> Workload:
    """The shortest sub-sequence (by one-at-a-time removal) for which STILL_FAILS holds."""
    current = tuple(workload)
    while len(current) > 1:
        candidates = [current[:i] + current[i + 1 :] for i in range(len(current))]
        verdicts = still_fails(candidates)
        smaller = next((c for c, bad in zip(candidates, verdicts, strict=True) if bad), None)
        if smaller is None:
            break
        current = smaller
    return current
