"""What verify runs: statements (from probes or from the random search) and the operation kinds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from migverify.quoting import ident, literal

# Operation kinds a statement can belong to (`--ops`). DEFAULT_OPERATIONS run unless told
# otherwise; the others change or lock whole tables (truncate, lock), need a newer server
# (merge), a client protocol of their own (copy-from, copy-to: `COPY t TO` works on tables
# only, never on a view), or name a constraint of the table, which a
# view never has (`ON CONFLICT ON CONSTRAINT`, upsert-on-constraint).
OPERATIONS = (
    "insert",
    "select",
    "update",
    "delete",
    "upsert",
    "upsert-on-constraint",
    "merge",
    "copy-from",
    "copy-to",
    "truncate",
    "lock",
)
DEFAULT_OPERATIONS = ("insert", "select", "update", "delete")
WRITES = frozenset(
    {
        "insert",
        "update",
        "delete",
        "upsert",
        "upsert-on-constraint",
        "merge",
        "copy-from",
        "truncate",
    }
)
MERGE_SINCE = 150000  # server_version_num of the first release with MERGE


@dataclass(frozen=True)
class Statement:
    """One statement of a workload, run in both worlds and compared.

    `returns_rows`: its result rows are compared (a SELECT, or a write with RETURNING).
    `copy_rows`: the data of `COPY … FROM STDIN` (text format); other COPY statements send
    their rows `TO STDOUT`.
    """

    sql: str
    table: str
    operation: str
    role: str | None = None
    written: tuple[tuple[str, str], ...] = ()  # (column, literal) values a write stores
    returns_rows: bool = False
    copy_rows: str | None = None
    claims: str | None = None  # JWT claims (JSON) of a signed-in user, as PostgREST sets them

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """What hypothesis shows of a statement when it replays a failing call: the SQL alone
        (walking every field of every statement of a batch took longer than running it)."""
        printer.text(repr(self.sql))

    @property
    def is_copy(self) -> bool:
        return self.operation in ("copy-from", "copy-to")

    @property
    def prelude(self) -> str | None:
        """One statement that becomes this statement's role and user (transaction-local)."""
        settings = []
        if self.role:
            settings.append(f"set_config('role', {literal(self.role)}, true)")
        if self.claims is not None:
            settings += _claim_settings(self.claims)
        return f"SELECT {', '.join(settings)}" if settings else None

    @property
    def postlude(self) -> str | None:
        settings = []
        if self.role:
            settings.append("set_config('role', 'none', true)")
        if self.claims is not None:
            settings += [
                "set_config('request.jwt.claims', '', true)",
                "set_config('request.jwt.claim.sub', '', true)",
                "set_config('request.jwt.claim.role', '', true)",
            ]
        return f"SELECT {', '.join(settings)}" if settings else None

    def script(self) -> str:
        """The statement as it appears in a runnable script (psql syntax for COPY data)."""
        if self.copy_rows is not None:
            return f"{self.sql};\n{self.copy_rows}\\."
        return f"{self.sql};"


def _claim_settings(claims: str, local: bool = True) -> list[str]:
    """PostgREST 10+ sets request.jwt.claims; older releases set one setting per claim, which
    older `auth.uid()` versions read: both are set."""
    values = json.loads(claims)
    scope = "true" if local else "false"
    return [
        f"set_config('request.jwt.claims', {literal(claims)}, {scope})",
        f"set_config('request.jwt.claim.sub', {literal(str(values.get('sub', '')))}, {scope})",
        f"set_config('request.jwt.claim.role', {literal(str(values.get('role', '')))}, {scope})",
    ]


@dataclass(frozen=True)
class Actor:
    """Who runs a workload: the connecting user, a role (`SET ROLE`), or a signed-in user of a
    Supabase-style project (role `authenticated` plus the JWT claims of that user)."""

    role: str | None = None
    claims: str | None = None
    label: str | None = None  # "user a@example.com"
    user_id: str | None = None

    @property
    def name(self) -> str:
        return self.label or (f"role {self.role}" if self.role else "the connecting user")


def user_actor(role: str, user_id: str, email: str | None) -> Actor:
    claims = {"sub": user_id, "role": role, "aud": role}
    if email:
        claims["email"] = email
    text = json.dumps(claims, sort_keys=True)
    return Actor(role, text, f"user {email or user_id}", user_id)


def session_lines(role: str | None, claims: str | None) -> list[str]:
    """psql lines that switch a session to ROLE and the user of CLAIMS."""
    lines = [f"SET ROLE {ident(role)};" if role else "RESET ROLE;"]
    if claims is not None:
        lines += [f"SELECT {setting};" for setting in _claim_settings(claims, local=False)]
    return lines


@dataclass(frozen=True)
class Probe:
    """A deterministic, catalog-derived workload that fails for one reason only.

    `covers` names what it exercises, e.g. ("column", "items", "qty") or ("constraint",
    "items", "items_qty_check"); the coverage report is built from these names.
    """

    name: str
    statements: tuple[Statement, ...]
    covers: tuple[tuple[str, ...], ...] = ()
