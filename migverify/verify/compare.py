"""Comparing what a statement did in the reference and in the migrated world."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from migverify.verify.worlds import Outcome, row_sort_key

FAIL, WARN, INFO = "fail", "warning", "info"


@dataclass(frozen=True)
class Difference:
    """A way the migrated world behaves differently; `severity` fail, warning or info."""

    severity: str
    table: str
    operation: str
    diagnosis: str
    reference: str = ""
    migrated: str = ""
    columns: tuple[str, ...] = ()  # the legacy columns concerned, when known (shape)
    fix: str = ""  # SQL (or a sentence) that mends it, when known (fixes.py)


def _check_order(ref: str, mig: str) -> bool:
    """Both rejected, one for privileges and one for the data: PostgreSQL checks privileges
    of a view's base table at another point than a table's, so which error comes first
    legitimately differs; the statement fails either way."""
    classes = {ref, mig}
    return "42501" in classes and any(c[:2] in ("22", "23") for c in classes)


def compare_outcomes(
    table: str,
    operation: str,
    ref: Outcome,
    mig: Outcome,
    appended: Mapping[str, tuple[str, ...]] | None = None,
) -> Difference | None:
    """The difference between one statement's outcomes, or None. APPENDED: the columns legacy
    tables altered in place gained after their own (static.appended_columns), each with the
    tables that gained it: rows that carry them too, and are the legacy rows otherwise, are a
    warning (one per table, whichever statement showed it)."""
    appended = appended or {}

    def diff(severity: str, diagnosis: str) -> Difference:
        return Difference(severity, table, operation, diagnosis, ref.describe(), mig.describe())

    if ref.ok and not mig.ok:
        return diff(FAIL, f"{mig.message} (SQLSTATE {mig.sqlstate})")
    if not ref.ok and mig.ok:
        if ref.sqlstate and ref.sqlstate.startswith("22"):
            return diff(
                WARN, f"{table} accepts values the legacy table rejects (SQLSTATE {ref.sqlstate})"
            )
        if ref.sqlstate and ref.sqlstate.startswith("23"):
            return diff(
                FAIL,
                f"lost guarantee: {table} accepted what the legacy table rejects "
                f"({ref.message}, SQLSTATE {ref.sqlstate})",
            )
        return diff(
            FAIL,
            f"{table} accepted what the legacy table rejects ({ref.message}, SQLSTATE "
            f"{ref.sqlstate})",
        )
    if not ref.ok and not mig.ok:
        if ref.sqlstate == mig.sqlstate:
            return None
        if _check_order(ref.sqlstate or "", mig.sqlstate or ""):
            return diff(INFO, f"{table}: privilege and value errors come in another order")
        return diff(WARN, f"{table}: both reject some {operation}s, with different errors")
    if ref.same_rows(mig):
        if ref.rowcount != mig.rowcount:
            return diff(
                FAIL,
                f"{table}: {operation} {'returned' if ref.returns_rows else 'affected'} "
                f"{mig.rowcount} rows, legacy {ref.rowcount}",
            )
        return None
    if ref.has_rows and mig.has_rows and ref.columns != mig.columns:
        new = _with_appended(ref, mig, appended)
        if new:
            owners = appended[new[0]]
            owner = table if table in owners else owners[0]
            return Difference(
                WARN,
                owner,
                operation,
                f"{owner}: rows read or returned carry its new column(s) {', '.join(new)} too "
                "(SELECT *, RETURNING *, joins)",
                ref.describe(),
                mig.describe(),
            )
        extra = [c for c in mig.columns if c not in ref.columns]
        missing = [c for c in ref.columns if c not in mig.columns]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"extra {', '.join(extra)}")
        if not detail:
            detail.append("different column order")
        return diff(FAIL, f"{table}: {operation} returns different columns ({'; '.join(detail)})")
    if ref.rows != mig.rows or ref.rowcount != mig.rowcount:
        only_ref, only_mig = _row_difference(ref.rows, mig.rows, ref.columns or mig.columns)
        if ref.rowcount != mig.rowcount:
            verb = "returned" if ref.returns_rows else "affected"
            diagnosis = f"{table}: {operation} {verb} {mig.rowcount} rows, legacy {ref.rowcount}"
        else:
            diagnosis = f"{table}: {operation} returned different rows"
        return Difference(
            FAIL,
            table,
            operation,
            diagnosis,
            "\n".join([ref.describe(), *only_ref]),
            "\n".join([mig.describe(), *only_mig]),
        )
    return None


def _row_difference(
    ref: tuple[tuple, ...], mig: tuple[tuple, ...], columns: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """Up to three rows only one world returned, each way, as `column=value` lists."""
    a, b = Counter(ref), Counter(mig)

    def show(label: str, rows: Counter) -> list[str]:
        shown = sorted(rows.elements(), key=repr)[:3]
        return [
            f"{label}: ("
            + ", ".join(f"{c}={v!r}" for c, v in zip(columns, row, strict=False))
            + ")"
            for row in shown
        ]

    return show("only here", a - b), show("only here", b - a)


def _with_appended(
    ref: Outcome, mig: Outcome, appended: Mapping[str, tuple[str, ...]]
) -> list[str]:
    """The APPENDED columns MIG's rows carry besides REF's, when without them the rows are
    REF's (same columns in the same order, same values); else []."""
    if ref.rowcount != mig.rowcount or len(mig.columns) <= len(ref.columns):
        return []
    # `c.*, p.*` of a join may name a column twice: the new `c."createdAt"` before
    # `p."createdAt"`, which REF has too. Which of the two is the new one: first try taking
    # each appended name as new whenever REF's columns still fit in what follows, then as
    # REF's whenever it can be.
    for drop_first in (True, False):
        keep = _aligned(ref.columns, mig.columns, appended, drop_first)
        if keep is None:
            continue
        rows = sorted((tuple(row[i] for i in keep) for row in mig.rows), key=row_sort_key)
        if tuple(rows) == ref.rows:
            kept = set(keep)
            return list(dict.fromkeys(c for i, c in enumerate(mig.columns) if i not in kept))
    return []


def _aligned(
    want: tuple[str, ...],
    have: tuple[str, ...],
    appended: Mapping[str, tuple[str, ...]],
    drop_first: bool,
) -> list[int] | None:
    """Positions in HAVE of WANT's columns in order, every other one an APPENDED name."""
    # fits[i][j]: WANT[j:] can be found in HAVE[i:], skipping appended names only
    fits = [[False] * (len(want) + 1) for _ in range(len(have) + 1)]
    fits[len(have)][len(want)] = True
    for i in range(len(have) - 1, -1, -1):
        for j in range(len(want), -1, -1):
            fits[i][j] = (have[i] in appended and fits[i + 1][j]) or (
                j < len(want) and have[i] == want[j] and fits[i + 1][j + 1]
            )
    if not fits[0][0]:
        return None
    keep, j = [], 0
    for i, column in enumerate(have):
        drop = column in appended and fits[i + 1][j]
        take = j < len(want) and column == want[j] and fits[i + 1][j + 1]
        if take and not (drop and drop_first):
            keep.append(i)
            j += 1
    return keep


def diverges(difference: Difference) -> bool:
    """Whether a tolerated difference left the two worlds in different states."""
    return (
        difference.severity == WARN
        and difference.reference.startswith("ERROR")
        and not (difference.migrated.startswith("ERROR"))
    )


def compare_contents(
    table: str, operation: str, ref: Counter | str, mig: Counter | str, columns: tuple[str, ...]
) -> Difference | None:
    if isinstance(ref, str) or isinstance(mig, str):
        if ref == mig:
            return None
        problem = mig if isinstance(mig, str) else ref
        return Difference(FAIL, table, operation, str(problem))
    if ref == mig:
        return None
    only_ref = list((ref - mig).elements())
    only_mig = list((mig - ref).elements())
    lines = []
    for label, rows in (("only in legacy", only_ref), ("only through the layer", only_mig)):
        for row in sorted(rows, key=repr)[:3]:
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(columns, row, strict=False))
            lines.append(f"{label}: ({shown})")
    return Difference(
        FAIL,
        table,
        operation,
        f"{table} holds different rows after {operation}: {len(only_ref)} row(s) only in the "
        f"legacy world, {len(only_mig)} only through the layer",
        reference="\n".join(line for line in lines if line.startswith("only in legacy")),
        migrated="\n".join(line for line in lines if line.startswith("only through")),
    )
