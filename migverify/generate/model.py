"""The plan's data: what generate decided for each legacy table (its column map, view strategy,
sequences, and what it carries from the table's surroundings), as frozen dataclasses.

plan.py builds these; foreign_keys.py, triggers.py, policies.py and online.py each fill in one
part; the templates read them. Nothing here imports those workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migverify.catalog import Column, Relation, Sequence
from migverify.quoting import bounded_identifier


@dataclass(frozen=True)
class RetargetedKey:
    """One referencing constraint: where it points before cutover (legacy) and after (target)."""

    table: str  # qualified referencing table
    name: str
    columns: tuple[str, ...]
    legacy_table: str  # qualified
    legacy_columns: tuple[str, ...]
    target_table: str  # qualified
    target_columns: tuple[str, ...]
    match: str  # FULL | PARTIAL | SIMPLE
    on_update: str
    on_delete: str
    on_delete_columns: tuple[str, ...]
    deferrable: bool
    initially_deferred: bool
    validated: bool  # False: it was NOT VALID on the legacy table and stays so
    partitioned: bool  # a partitioned referencing table: added validated (no NOT VALID there)

    @property
    def renamed(self) -> bool:
        return self.legacy_columns != self.target_columns


@dataclass(frozen=True)
class SuspendedKey:
    """A foreign key between tables being filled (or emptied) that the copy would trip over:
    dropped before it and added back after it (NOT VALID, validated after COMMIT) or, when
    deferrable, only deferred until it is done (see copy_keys.py, online.py)."""

    table: str  # qualified referencing table, as named when the key is added back
    name: str
    definition: str  # FOREIGN KEY … REFERENCES <schema>.<table> (…) …, without NOT VALID
    validated: bool  # False: it was NOT VALID and stays so
    partitioned: bool = False  # a partitioned referencing table: added back validated
    deferrable: bool = False
    copy_table: str = ""  # the referencing table's name during the copy, if another one

    @property
    def dropped_from(self) -> str:
        return self.copy_table or self.table

    @property
    def original(self) -> str:
        """The definition as it was (NOT VALID where it was)."""
        return self.definition + ("" if self.validated else " NOT VALID")

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]


@dataclass(frozen=True)
class CopyKeys:
    """What one copy of rows does about the foreign keys of the tables it fills."""

    keys: tuple[SuspendedKey, ...] = ()  # in its way: deferred (deferrable) or dropped
    # Some key of a filled table checks at COMMIT (INITIALLY DEFERRED, or deferred for the
    # copy): the checks run right after the copy, as ALTER TABLE cannot run on a table with
    # checks pending.
    pending_checks: bool = False

    @property
    def deferred(self) -> tuple[SuspendedKey, ...]:
        return tuple(key for key in self.keys if key.deferrable)

    @property
    def dropped(self) -> tuple[SuspendedKey, ...]:
        return tuple(key for key in self.keys if not key.deferrable)

    @property
    def revalidated(self) -> tuple[SuspendedKey, ...]:
        """The dropped keys that are validated after COMMIT (valid before, not partitioned)."""
        return tuple(key for key in self.dropped if key.validated and not key.partitioned)


@dataclass(frozen=True)
class FunctionCopy:
    """A copy of a trigger function whose NEW/OLD references use the target's column names."""

    name: str  # qualified
    original: str  # qualified
    definition: str  # CREATE FUNCTION …, printed by pglast
    renamed: tuple[tuple[str, str], ...]  # (legacy column, target column)
    # (TG_TABLE_NAME, TG_RELNAME or TG_TABLE_SCHEMA, the legacy table's value as an SQL constant)
    constants: tuple[tuple[str, str], ...] = ()

    @property
    def changes(self) -> str:
        """What the copy reads differently, for REVIEW.md and the comment above it."""
        return ", ".join(f"{a} → {b}" for a, b in self.renamed + self.constants)


@dataclass(frozen=True)
class CarriedTrigger:
    """A legacy trigger as it is created on the target table."""

    name: str
    legacy_table: str  # qualified
    table: str  # qualified target
    constraint: bool  # CREATE CONSTRAINT TRIGGER
    timing: str  # BEFORE | AFTER
    events: tuple[str, ...]  # INSERT | UPDATE | DELETE | TRUNCATE
    update_columns: tuple[str, ...]  # UPDATE OF, target names
    row: bool
    transitions: tuple[tuple[str, str], ...]  # ("NEW" | "OLD", transition table name)
    deferrable: bool
    initially_deferred: bool
    when: str | None  # the WHEN condition with target column names
    scope_record: str  # merges: NEW or OLD, the row the discriminator is read from
    scope: tuple[tuple[str, Any], ...]  # merges: the discriminator (column, value) pairs
    function: str  # qualified: the legacy function, or its renamed copy
    arguments: tuple[str, ...]
    firing: str  # O, D (disabled), R (replica), A (always)
    copy: FunctionCopy | None
    # A known C function whose arguments name columns (contrib_triggers.py): what it does and
    # the arguments renamed through the column map, for REVIEW.md.
    function_note: str = ""


@dataclass(frozen=True)
class TriggerCarry:
    """What carrying one legacy table's triggers produced."""

    triggers: tuple[CarriedTrigger, ...] = ()
    copies: tuple[FunctionCopy, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CarriedPolicy:
    """A legacy policy as it is created on the target table."""

    name: str  # on the target
    legacy_name: str
    table: str  # qualified target
    command: str
    permissive: bool
    roles: tuple[str, ...]
    using: str | None
    with_check: str | None
    scope: tuple[tuple[str, Any], ...]  # merges: the discriminator (column, value) pairs


@dataclass(frozen=True)
class RlsCarry:
    """What the cutover sets on the target (and the rollback takes back)."""

    enable: bool = False  # ENABLE ROW LEVEL SECURITY (the target SQL did not)
    force: bool = False  # FORCE ROW LEVEL SECURITY (the target SQL did not)
    policies: tuple[CarriedPolicy, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnMap:
    """A legacy column and where it lives now."""

    legacy: Column
    alias: str  # the FROM alias of the table holding it in the view: t, s1, s2…
    table: str  # qualified target or side table
    column: str  # its name there
    target: Column
    up: str | None = None  # a transform: the target value from the legacy columns (SQL)
    down: str | None = None  # and back: the legacy value from the target columns (SQL)
    # up and down as written in the spec (for REVIEW.md); up/down above are printed by pglast
    # with every column unqualified, for the templates to qualify per use.
    transform: tuple[str, str] | None = None

    @property
    def renamed(self) -> bool:
        return self.column != self.legacy.name

    @property
    def type_note(self) -> str:
        if self.target.type == self.legacy.type:
            return ""
        return f"{self.legacy.type} → {self.target.type}"


@dataclass(frozen=True)
class SidePlan:
    """A side table of a split, joined to the target on the key."""

    table: str
    alias: str
    join: tuple[tuple[str, str], ...]  # (target column, side column)
    columns: tuple[ColumnMap, ...]
    upsertable: bool  # the side's join columns are unique: INSERT … ON CONFLICT works


@dataclass(frozen=True)
class SequencePlan:
    """A legacy key sequence and the one the compatibility layer continues it with."""

    column: str
    legacy_sequence: str
    layer_sequence: str  # target's own sequence, or a dedicated one created by the layer
    dedicated: bool
    # Roles the cutover grants USAGE on the layer sequence (the view default calls nextval() as
    # the invoker); the rollback revokes them from a sequence it keeps.
    usage_grants: tuple[str, ...] = ()
    # The legacy sequence as the catalog shows it: a dedicated layer sequence takes its options
    # (the view's inserts step as the legacy table's did), and when it is owned by its column
    # (serial, identity) dropping the table drops it, so drop mode's rollback rebuilds it with
    # its options and grants; a sequence the column only draws from stays.
    legacy: Sequence | None = None
    owned: bool = False


@dataclass(frozen=True)
class TablePlan:
    legacy: Relation
    target: Relation
    spec_name: str  # the legacy table as the spec names it ([tables.<spec_name>])
    kept_name: str
    columns: tuple[ColumnMap, ...]
    sides: tuple[SidePlan, ...]
    discriminator: tuple[tuple[str, object], ...]
    key: tuple[str, ...]  # legacy columns that find one row (plan.row_key); () when none
    strategy: str  # "auto-updatable" | "triggers"
    why: str
    trigger_operations: tuple[str, ...]
    view_defaults: tuple[tuple[str, str], ...]  # (legacy column, default expression)
    sequences: tuple[SequencePlan, ...]
    warnings: tuple[str, ...]
    # Carried from the legacy table's surroundings (see foreign_keys, triggers, policies):
    referenced_by: tuple[RetargetedKey, ...] = ()
    triggers: TriggerCarry = TriggerCarry()
    rls: RlsCarry = RlsCarry()
    # The online cutover (see online.py): how the table is cut over, and why.
    mode: str = "offline"  # online | offline
    mode_why: str = ""
    rows: int | None = None  # pg_class.reltuples of the legacy table where generate read it
    conflict_key: tuple[str, ...] = ()  # online: the target's unique key for ON CONFLICT
    fill: tuple[tuple[str, str], ...] = ()  # (new target column, expression over legacy columns)

    @property
    def online(self) -> bool:
        return self.mode == "online"

    @property
    def sync_trigger(self) -> str:
        """The expand phase's trigger on the legacy table (also its function's name)."""
        return bounded_identifier(f"{self.name}_migverify_sync")

    @property
    def sync_truncate_trigger(self) -> str:
        return bounded_identifier(f"{self.name}_migverify_sync_truncate")

    @property
    def sync_function(self) -> str:
        return f"{self.schema}.{self.sync_trigger}"

    @property
    def name(self) -> str:
        return self.legacy.name

    @property
    def schema(self) -> str:
        return self.legacy.schema

    @property
    def target_columns(self) -> tuple[ColumnMap, ...]:
        return tuple(c for c in self.columns if c.alias == "t")

    @property
    def identity_always(self) -> bool:
        return any(c.target.identity == "always" for c in self.target_columns)

    def column(self, name: str) -> ColumnMap:
        return next(c for c in self.columns if c.legacy.name == name)

    @property
    def key_columns(self) -> tuple[ColumnMap, ...]:
        """The key's columns in key order: backfills copy in their order (a row comparison)."""
        return tuple(self.column(name) for name in self.key)

    @property
    def always_write_target(self) -> bool:
        """A carried row trigger fires on UPDATE of the target: an update through the view
        writes the target row even when only side-table columns changed, as on the legacy
        table, where every UPDATE fired it."""
        return any(t.row and "UPDATE" in t.events for t in self.triggers.triggers)

    @property
    def carried(self) -> tuple[str, ...]:
        """What the cutover carries onto the target and what it leaves, for REVIEW.md."""
        return self.triggers.notes + self.rls.notes
