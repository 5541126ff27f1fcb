"""What a workload showed: its first difference, found cheaply and explained when reported."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from migverify.verify.compare import (
    Difference,
)
from migverify.verify.statement import (
    Statement,
)
from migverify.verify.worlds import ExampleRun


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
