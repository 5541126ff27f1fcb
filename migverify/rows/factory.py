"""Rows the legacy tables accept, for any schema: parents first along the foreign keys, values
for every required column, CHECKs solved by the server, unique and exclusion keys kept apart,
partition keys inside a partition. What the server still rejects is repaired from the error it
reports (the constraint or column it names), a few times, then given up with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
from pglast import ast, parse_sql

from migverify.catalog import Catalog, Constraint, Relation
from migverify.quoting import ident, literal, qualified
from migverify.rows.checks import Check, hints, read_checks, solve
from migverify.rows.types import ColumnType, _array, candidates, read_types

ATTEMPTS = 16  # inserts tried for one row before it is given up
PARENT_ROWS = 4  # existing parent rows a new child row may reference

_CASTABLE = """
CREATE OR REPLACE FUNCTION pg_temp.migverify_castable(vals text[], typ text)
RETURNS boolean[] LANGUAGE plpgsql AS $$
DECLARE
  result boolean[] := '{}';
  v text;
BEGIN
  FOREACH v IN ARRAY vals LOOP
    BEGIN
      EXECUTE format('SELECT %L::%s', v, typ);
      result := result || true;
    EXCEPTION WHEN OTHERS THEN
      result := result || false;
    END;
  END LOOP;
  RETURN result;
END
$$
"""


class Unbuildable(Exception):
    """No row of TABLE could be built; REASON says why, for the coverage report."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"{table}: {reason}")
        self.table, self.reason = table, reason


@dataclass(frozen=True)
class Row:
    """A row a table accepted: every written column's value as text (None: NULL; a column left
    to its default is absent) and the INSERTs of new parent rows it needs first."""

    table: str  # qualified
    values: dict[str, str | None]
    prerequisites: tuple[tuple[str, str], ...] = ()  # (qualified table, INSERT …)
    statement: str = ""  # the INSERT that wrote it
    # INSERTs that must run in the same statement (a cycle of deferrable keys: the rows that
    # reference this one and that it references), e.g. as a writable CTE
    companions: tuple[tuple[str, str], ...] = ()


@dataclass
class _Table:
    """What the factory reads once about a table."""

    relation: Relation
    types: dict[str, ColumnType]
    checks: list[Check]
    partition_hints: dict[str, list[str]]
    hints: dict[str, list[str]] = field(default_factory=dict)
    next: int = 0


class RowFactory:
    """Builds rows in the database CONN is connected to, inside the caller's transaction.

    EXPLICIT gives every writable column a value (no default, no sequence consumed): rows
    whose INSERTs are replayed elsewhere. Otherwise columns with defaults are left to them
    unless a CHECK or foreign key reads them, as an application would write the row.
    """

    def __init__(self, conn: psycopg.Connection, catalog: Catalog) -> None:
        self.conn, self.catalog = conn, catalog
        self.explicit = False
        self._tables: dict[str, _Table] = {}
        self._building: list[str] = []
        # Key values chosen before a row of a table on a foreign-key cycle is built: a row of
        # the cycle referencing it through a deferrable key uses them before it exists.
        self._pending: dict[str, dict[str, str | None]] = {}
        self._referenced_ahead: set[str] = set()  # tables whose pending keys a row used
        self._after: list[tuple[str, dict[str, str | None]]] = []  # parents inserted next
        self.last_own = -1  # log index of the row the last insert() built
        self._castable: dict[tuple[str, str], bool] = {}
        # Every INSERT that succeeded, in order: (qualified table, statement, values written).
        self.log: list[tuple[str, str, dict[str, str | None]]] = []
        conn.execute(_CASTABLE)

    # --- public -------------------------------------------------------------------------------

    def fill(self, tables: Iterable[str], rows: int) -> tuple[dict[str, int], dict[str, str]]:
        """Insert rows until each of TABLES (qualified) holds at least ROWS; the rows added per
        table (parents included) and, per table that got none it needed, why."""
        added: dict[str, int] = {}
        failed: dict[str, str] = {}
        mark = len(self.log)
        for table in tables:
            have = self._count(table)
            for _ in range(max(0, rows - have)):
                try:
                    self.insert(table)
                except Unbuildable as error:
                    failed.setdefault(table, error.reason)
                    break
            if table not in failed:
                self._add_leaf(table)
        for table, statement, _ in self.log[mark:]:
            if not statement.startswith("DELETE"):  # a row a parent's trigger made
                added[table] = added.get(table, 0) + 1
        return added, failed

    def fresh(self, table: str, count: int) -> tuple[list[Row], str | None]:
        """COUNT rows TABLE accepts that it does not hold, each with every writable column
        given (replayable INSERTs), built and then rolled back; fewer, with the reason, when
        no more can be built."""
        found: list[Row] = []
        reason = None
        self.explicit = True
        start = len(self.log)
        try:
            with self.conn.transaction(force_rollback=True):
                for _ in range(count):
                    mark = len(self.log)
                    try:
                        self.insert(table)
                    except Unbuildable as error:
                        reason = error.reason
                        break
                    own = self.last_own
                    parents = tuple((t, sql) for t, sql, _ in self.log[mark:own])
                    companions = tuple((t, sql) for t, sql, _ in self.log[own + 1 :])
                    _, statement, values = self.log[own]
                    found.append(Row(table, values, parents, statement, companions))
        finally:
            self.explicit = False
            del self.log[start:]  # rolled back
        return found, reason

    def insert(self, table: str, fixed: dict[str, str | None] | None = None) -> dict[str, str]:
        """Insert one row into TABLE (parents first where it needs new ones); the row as
        stored, as text by column."""
        info = self._table(table)
        k = info.next
        info.next += 1
        values = dict(fixed or {})
        given = frozenset(values)  # the caller's values come from rows that exist
        if self._on_cycle(info):
            values.update(self._keys_ahead(info, values, k))
            self._pending[table] = values
        self._building.append(table)
        mark = len(self.log)
        try:
            try:
                return self._insert_with_parents(info, dict(values), given, k, fresh=False)
            except Unbuildable:
                del self.log[mark:]
                if not info.relation.foreign_keys:
                    raise
            # Existing parents may not do (a CHECK that two keys differ, say): new ones.
            return self._insert_with_parents(info, dict(values), given, k, fresh=True)
        except Unbuildable:
            del self.log[mark:]
            raise
        finally:
            self._pending.pop(table, None)
            self._referenced_ahead.discard(table)
            self._building.pop()

    def _insert_with_parents(
        self,
        info: _Table,
        values: dict[str, str | None],
        given: frozenset[str],
        k: int,
        fresh: bool,
    ) -> dict[str, str]:
        table = info.relation.qualified_name
        with self.conn.transaction():  # a row given up leaves no parent row behind
            after = len(self._after)
            values = self._parents(info, values, given, k, fresh)
            stored = self._insert(info, values, k)
            own = len(self.log) - 1
            while len(self._after) > after:  # parents this row referenced ahead
                self.insert(*self._after.pop(after))
            if table in self._referenced_ahead:  # rows referencing it exist already
                self._referenced_ahead.discard(table)
                self._check_deferred(info)
            self.last_own = own  # the log entry of the row itself (the outermost call's)
            return stored

    # --- reading ----------------------------------------------------------------------------

    def _table(self, table: str) -> _Table:
        if table not in self._tables:
            relation = self.catalog.relation(table)
            checks = read_checks(self.conn, qualified(table))
            info = _Table(
                relation,
                read_types(self.conn, table),
                checks,
                self._partition_hints(table),
                next=self._count(table),
            )
            for check in checks:
                for column, values in hints(check).items():
                    info.hints.setdefault(column, []).extend(values)
            for column, ct in info.types.items():  # a domain's checks: VALUE is the column
                for expression in ct.checks:
                    domain = Check("domain", expression, ("value",))
                    info.hints.setdefault(column, []).extend(hints(domain).get("value", []))
            self._tables[table] = info
        return self._tables[table]

    def _add_leaf(self, table: str) -> None:
        """One more row of TABLE when every row it holds is one another row's foreign key
        forbids deleting (a journal line that is its entry's first line): a delete needs a row
        it can take away. Best effort: a table that cannot have one is left as it is."""
        query = leaf_row_query(self.catalog, table)
        if query is None or self.conn.execute(f"SELECT EXISTS ({query})").fetchone()[0]:
            return
        # Under parents that exist: a row of a foreign-key cycle made with new parents is the
        # row they reference (the entry's first line), one under an existing parent is not.
        relation = self._table(table).relation
        fixed: dict[str, str | None] = {}
        for fk in relation.foreign_keys:
            if fk.references and fk.references != table:
                parent = self._existing(relation, fk, {}, 0, False)
                for column, referenced in zip(fk.columns, fk.referenced_columns, strict=True):
                    if parent is not None:
                        fixed.setdefault(column, parent[referenced])
        mark = len(self.log)
        for attempt in ([fixed] if fixed else []) + [{}]:
            del self.log[mark:]  # rolled back
            try:
                with self.conn.transaction():
                    self.insert(table, dict(attempt))
                    if not self.conn.execute(f"SELECT EXISTS ({query})").fetchone()[0]:
                        raise Unbuildable(table, "no row without children")
                return
            except (Unbuildable, psycopg.Error):
                continue
        del self.log[mark:]

    def _has_rows(self, table: str) -> bool:
        return self.conn.execute(f"SELECT EXISTS (SELECT FROM {qualified(table)})").fetchone()[0]

    def _count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {qualified(table)}").fetchone()[0]

    def _partition_hints(self, table: str) -> dict[str, list[str]]:
        """Values inside the partitions' bounds, for the partition key columns at each level."""
        rows = self.conn.execute(
            """
            SELECT pg_get_partkeydef(p.relid),
                   ARRAY(SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
                         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = p.relid)
            FROM pg_partition_tree(%s::regclass) p WHERE NOT p.isleaf
            """,
            (qualified(table),),
        ).fetchall()
        found: dict[str, list[str]] = {}
        for keydef, bounds in rows:
            if not keydef:
                continue
            columns = [
                c.strip().strip('"') for c in keydef.partition("(")[2].rstrip(")").split(",")
            ]
            for bound in bounds:
                for position, value in _bound_values(bound):
                    if position < len(columns):
                        found.setdefault(columns[position], []).append(value)
        return found

    def _options(self, info: _Table, column: str, k: int) -> list[str | None]:
        """Candidates for COLUMN of the K-th row: partition and CHECK hints, the type's own
        values, then NULL where allowed; only those that cast to the column's type."""
        ct = info.types[column]
        suggested = info.hints.get(column, [])
        if ct.category == "A":  # an array column: what a check compares elements with
            suggested = [s if s.startswith("{") else _array([s]) for s in suggested]
        if suggested:  # the K-th row starts at another suggestion (unique columns)
            turn = k % len(suggested)
            suggested = suggested[turn:] + suggested[:turn]
        proposed = [
            *info.partition_hints.get(column, ()),
            *_interleave(candidates(ct, info.relation.qualified_name, k), suggested),
        ]
        proposed = list(dict.fromkeys(proposed))
        unknown = [v for v in proposed if (ct.sql_type, v) not in self._castable]
        if unknown:
            (flags,) = self.conn.execute(
                "SELECT pg_temp.migverify_castable(%s::text[], %s)", (unknown, ct.sql_type)
            ).fetchone()
            self._castable.update(
                {(ct.sql_type, v): ok for v, ok in zip(unknown, flags, strict=True)}
            )
        options: list[str | None] = [v for v in proposed if self._castable[(ct.sql_type, v)]]
        if not info.relation.column(column).not_null and not ct.not_null:
            options.append(None)
        return options

    # --- parents ------------------------------------------------------------------------------

    def _parents(
        self,
        info: _Table,
        values: dict[str, str | None],
        given: frozenset[str],
        k: int,
        fresh: bool = False,
    ) -> dict:
        """VALUES with every foreign key's columns set: an existing parent row (a new one for
        each key with FRESH), or NULL where the key allows it and no parent can be had. A key
        whose columns are all GIVEN (taken from an existing parent) is left as it is; values
        chosen ahead for a cycle must still find or make their parent."""
        relation = info.relation
        keys = [set(u.columns) for u in relation.unique_keys]
        keys += [set(i.columns) for i in relation.indexes if i.unique]
        seen: dict[str, int] = {}  # parent table -> foreign keys to it resolved so far
        for fk in sorted(relation.foreign_keys, key=lambda f: (-len(f.columns), f.name)):
            if all(c in given for c in fk.columns) or not fk.references:
                continue
            pinned = {
                r: values[c]
                for c, r in zip(fk.columns, fk.referenced_columns, strict=True)
                if c in values
            }
            optional = [c for c in fk.columns if not relation.column(c).not_null]
            # MATCH SIMPLE: one NULL column and the key holds; MATCH FULL: all of them NULL
            nullable = bool(optional) and (fk.match != "FULL" or optional == list(fk.columns))
            # one row per parent (1:1) when the key's columns are unique by themselves
            unused = any(key <= set(fk.columns) for key in keys)
            if nullable and _own_key(relation) & set(fk.columns) - set(pinned):
                # a key through the row's own key (pages (id, current_revision) → revisions):
                # an existing parent would give the new row an existing row's key
                values.update(dict.fromkeys(optional))
                continue
            # Two keys to one table (course and its prerequisite) reference different rows.
            turn = seen.get(fk.references, 0)
            seen[fk.references] = turn + 1
            parent = self._parent(info, fk, pinned, k + turn, unused, nullable, fresh)
            if parent is None:  # no parent: the key's nullable columns are NULL, the rest free
                values.update(dict.fromkeys(optional))
                continue
            for column, referenced in zip(fk.columns, fk.referenced_columns, strict=True):
                values[column] = parent[referenced]
        return values

    def _parent(
        self,
        info: _Table,
        fk: Constraint,
        pinned: dict[str, str | None],
        k: int,
        unused: bool,
        nullable: bool,
        fresh: bool = False,
    ) -> dict[str, str] | None:
        parent = fk.references or ""
        own = parent == info.relation.qualified_name
        existing = self._existing(info.relation, fk, pinned, k, unused)
        if existing is not None and (own or not fresh):
            return existing
        ahead = self._pending.get(parent, {})
        known = all(ahead.get(r) is not None for r in fk.referenced_columns)
        if parent == info.relation.qualified_name and not nullable and known:
            return {r: ahead[r] for r in fk.referenced_columns}  # the row references itself
        if parent != info.relation.qualified_name and fk.deferrable and not nullable:
            parent_info = self._table(parent)
            if parent not in self._building and self._on_cycle(parent_info):
                # Inserted right after this row, with keys chosen now (checked at the end).
                keys = {**pinned, **self._keys_ahead(parent_info, dict(pinned), parent_info.next)}
                if all(keys.get(r) is not None for r in fk.referenced_columns):
                    self._defer(info, fk, parent)
                    self._after.append((parent, keys))
                    return {r: keys[r] for r in fk.referenced_columns}
        if parent == info.relation.qualified_name or parent in self._building:
            if nullable:
                return None  # a cycle broken where the key allows NULL
            if fk.deferrable and known:
                # the parent row is inserted later in this transaction, with these keys
                self._defer(info, fk, parent)
                return {r: ahead[r] for r in fk.referenced_columns}
            raise Unbuildable(
                info.relation.qualified_name,
                f"foreign key {fk.name} needs a row of {parent}, which needs this table's "
                "row first (a cycle through NOT NULL keys)",
            )
        try:
            return self.insert(parent, {r: v for r, v in pinned.items()})
        except Unbuildable as error:
            if nullable:
                return None
            raise Unbuildable(
                info.relation.qualified_name,
                f"no row of {parent} for foreign key {fk.name}: {error.reason}",
            ) from None

    def _defer(self, info: _Table, fk: Constraint, parent: str) -> None:
        self.conn.execute(f"SET CONSTRAINTS {qualified_constraint(info, fk)} DEFERRED")
        self._referenced_ahead.add(parent)

    def _existing(
        self, child: Relation, fk: Constraint, pinned: dict, k: int, unused: bool
    ) -> dict[str, str] | None:
        """A parent row matching PINNED (one no child row references when UNUSED)."""
        parent = qualified(fk.references or "")
        columns = ", ".join(f"p.{ident(c)}::text" for c in fk.referenced_columns)
        where = [f"p.{ident(c)}::text = %s" for c, v in pinned.items() if v is not None]
        params = [v for v in pinned.values() if v is not None]
        where += [f"p.{ident(c)} IS NOT NULL" for c in fk.referenced_columns]
        if unused:
            match = " AND ".join(
                f"c.{ident(a)} = p.{ident(b)}"
                for a, b in zip(fk.columns, fk.referenced_columns, strict=True)
            )
            where.append(
                f"NOT EXISTS (SELECT FROM {qualified(child.qualified_name)} c WHERE {match})"
            )
        rows = self.conn.execute(
            f"SELECT {columns} FROM {parent} p WHERE {' AND '.join(where)} "
            f"ORDER BY {columns} LIMIT {PARENT_ROWS}",
            params,
        ).fetchall()
        if not rows:
            return None
        row = rows[0] if unused else rows[k % len(rows)]
        return dict(zip(fk.referenced_columns, row, strict=True))

    def _on_cycle(self, info: _Table) -> bool:
        """Whether a foreign-key path from the table leads back to it."""
        start = info.relation.qualified_name
        seen, todo = set(), [start]
        while todo:
            table = todo.pop()
            relation = self.catalog.find(table)
            for fk in relation.foreign_keys if relation else ():
                if fk.references == start:
                    return True
                if fk.references and fk.references not in seen:
                    seen.add(fk.references)
                    todo.append(fk.references)
        return False

    def _keys_ahead(self, info: _Table, fixed: dict, k: int) -> dict[str, str | None]:
        """Values for the columns other tables' keys reference, chosen now (cycles)."""
        referenced = {
            column
            for relation in self.catalog.tables
            for fk in relation.foreign_keys
            if fk.references == info.relation.qualified_name
            for column in fk.referenced_columns
        }
        # A column of a key whose parent table has rows takes its value from one of them.
        bound = {
            c
            for fk in info.relation.foreign_keys
            if fk.references
            and not _own_key(info.relation) & set(fk.columns)
            and self._has_rows(fk.references)
            for c in fk.columns
        }
        chosen = {}
        for column in sorted(referenced - set(fixed) - bound):
            c = info.relation.column(column)
            if c.generated or c.identity == "always":
                continue
            options = [v for v in self._options(info, column, k + 7919) if v is not None]
            own = [check for check in info.checks if set(check.columns) == {column}]
            if own and options:
                types = {column: info.types[column].sql_type}
                solved = solve(self.conn, own, [column], types, {column: options})
                options = [solved[column]] if solved else []
            if options:
                chosen[column] = options[0]
        return chosen

    def _check_deferred(self, info: _Table) -> None:
        """The cycle is closed: its deferred keys must hold now."""
        try:
            with self.conn.transaction():
                self.conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        except psycopg.Error as error:
            raise Unbuildable(
                info.relation.qualified_name,
                f"a cycle of foreign keys does not close: {error.diag.message_primary}",
            ) from None

    # --- the row itself -----------------------------------------------------------------------

    def _insert(self, info: _Table, fixed: dict[str, str | None], k: int) -> dict[str, str]:
        relation = info.relation
        checked = {c for check in info.checks for c in check.columns}
        writes = [
            c.name
            for c in relation.columns
            if c.name not in fixed
            and not c.generated
            and (self.explicit or c.identity != "always")
            and (
                self.explicit
                or c.name in checked
                or not (c.default or c.identity)
                # a random default (gen_random_uuid(), now()) would make the rows, and the
                # report, differ from run to run
                or c.nondeterministic_default
            )
        ]
        offsets = dict.fromkeys(writes, 0)
        skips: dict[int, int] = {}
        last: psycopg.Error | None = None
        for _ in range(ATTEMPTS):
            options = {c: self._options(info, c, k + offsets[c]) for c in writes}
            row = self._choose(info, fixed, writes, options, skips)
            try:
                return self._execute(info, row)
            except psycopg.Error as error:
                last = error
                if self._made_by_trigger(info, error, row, fixed):
                    continue
                if not self._repair(info, error, fixed, writes, offsets, skips):
                    break
        message = (last.diag.message_primary or str(last)) if last else "no values"
        state = f" (SQLSTATE {last.sqlstate})" if last else ""
        raise Unbuildable(
            relation.qualified_name, f"every row migverify built was rejected: {message}{state}"
        )

    def _choose(
        self,
        info: _Table,
        fixed: dict[str, str | None],
        writes: list[str],
        options: dict[str, list[str | None]],
        skips: dict[int, int],
    ) -> dict[str, str | None]:
        row: dict[str, str | None] = dict(fixed)
        for number, (checks, columns) in enumerate(_components(info, fixed, writes)):
            choices = {c: [fixed[c]] if c in fixed else options[c] for c in columns}
            types = {c: info.types[c].sql_type for c in columns}
            solved = solve(self.conn, checks, columns, types, choices, skips.get(number, 0))
            if solved is None:
                names = ", ".join(c.name for c in checks)
                raise Unbuildable(
                    info.relation.qualified_name,
                    f"no values found that satisfy CHECK {names} (tried up to "
                    f"{max(1, len(next(iter(choices.values()), [])))} values per column)",
                )
            row.update({c: v for c, v in solved.items() if c not in fixed})
        for column in writes:
            if column not in row:
                choices = options[column]
                if not choices:
                    ct = info.types[column]
                    raise Unbuildable(
                        info.relation.qualified_name,
                        f"no value of type {ct.sql_type} for column {column}",
                    )
                row[column] = choices[0]
        return row

    def _execute(self, info: _Table, row: dict[str, str | None]) -> dict[str, str]:
        relation = info.relation
        always = any(relation.column(c).identity == "always" for c in row)
        statement = insert_sql(relation.qualified_name, row, overriding=always)
        returning = ", ".join(f"{ident(c.name)}::text" for c in relation.columns)
        with self.conn.transaction():
            stored = self.conn.execute(f"{statement} RETURNING {returning}").fetchone()
        self.log.append((relation.qualified_name, statement, row))
        return dict(zip(relation.column_names, stored, strict=True))

    def _made_by_trigger(
        self, info: _Table, error: psycopg.Error, row: dict[str, str | None], fixed: dict
    ) -> bool:
        """A key taken whole from a parent row this factory just inserted, already held by a row
        it did not insert: the parent's trigger made it (Supabase's handle_new_user() inserts
        the profile of every new auth.users row). That row goes (DELETE, logged so that a
        replay does the same) and the row is inserted again. False for anything else."""
        constraint = error.diag.constraint_name
        if error.sqlstate != "23505" or not constraint:
            return False
        relation = info.relation
        columns = _key_columns(relation, constraint)
        if not columns or any(c not in fixed or row.get(c) is None for c in columns):
            return False
        table = relation.qualified_name

        def logged(name: str, values: dict[str, str | None]) -> bool:
            return any(
                t == name and all(v.get(c) == value for c, value in values.items())
                for t, sql, v in self.log
                if not sql.startswith("DELETE")
            )

        if logged(table, {c: row[c] for c in columns}):
            return False  # its own row: not a trigger's
        parent_made = any(
            set(columns) <= set(fk.columns)
            and fk.references
            and logged(
                fk.references,
                {r: row[c] for c, r in zip(fk.columns, fk.referenced_columns, strict=True)},
            )
            for fk in relation.foreign_keys
        )
        if not parent_made:
            return False
        where = " AND ".join(f"{ident(c)} = {literal(row[c])}" for c in columns)
        statement = f"DELETE FROM {qualified(table)} WHERE {where}"
        try:
            with self.conn.transaction():
                if self.conn.execute(statement).rowcount != 1:
                    raise Unbuildable(table, "not one row")
        except (psycopg.Error, Unbuildable):
            return False
        self.log.append((table, statement, {}))
        return True

    def _repair(
        self,
        info: _Table,
        error: psycopg.Error,
        fixed: dict[str, str | None],
        writes: list[str],
        offsets: dict[str, int],
        skips: dict[int, int],
    ) -> bool:
        """Change what the error names; False when nothing can be changed for it."""
        state = error.sqlstate or ""
        constraint = error.diag.constraint_name
        column = error.diag.column_name
        relation = info.relation
        if state == "23502" and column:
            if column not in writes and column not in fixed:
                writes.append(column)
                offsets[column] = 0
                return True
            return False
        if state in ("23505", "23P01") and constraint:
            columns = _key_columns(relation, constraint)
            movable = [c for c in columns if c in writes]
            for c in columns:
                if c not in writes and c not in fixed and not relation.column(c).generated:
                    writes.append(c)
                    offsets[c] = 0
                    return True
            if not movable:
                return False
            for c in movable:
                offsets[c] += 1
            return True
        if state == "23514":
            components = _components(info, fixed, writes)
            for number, (checks, _) in enumerate(components):
                if any(c.name == constraint for c in checks):
                    skips[number] = skips.get(number, 0) + 1
                    return True
            for c in writes:  # a partition's bounds or a domain: other values everywhere
                offsets[c] += 1
            return True
        return False


def leaf_row_query(catalog: Catalog, table: str, columns: str = "1") -> str | None:
    """SELECT COLUMNS of TABLE's rows that no row references through a foreign key that forbids
    deleting them (NO ACTION, RESTRICT; a self-reference counts unless the row references
    itself); None when no such key references TABLE."""
    conditions = []
    for relation in catalog.tables:
        for fk in relation.foreign_keys:
            if fk.references != table or fk.on_delete not in ("NO ACTION", "RESTRICT"):
                continue
            match = " AND ".join(
                f"c.{ident(a)} = p.{ident(b)}"
                for a, b in zip(fk.columns, fk.referenced_columns, strict=True)
            )
            if relation.qualified_name == table:
                match += " AND (c.tableoid, c.ctid) <> (p.tableoid, p.ctid)"
            conditions.append(
                f"NOT EXISTS (SELECT FROM {qualified(relation.qualified_name)} c WHERE {match})"
            )
    if not conditions:
        return None
    return f"SELECT {columns} FROM {qualified(table)} p WHERE {' AND '.join(conditions)}"


def qualified_constraint(info: _Table, fk: Constraint) -> str:
    return f"{ident(info.relation.schema)}.{ident(fk.name)}"


def insert_sql(table: str, row: dict[str, str | None], *, overriding: bool = False) -> str:
    """INSERT of ROW (text values, None for NULL) into TABLE (qualified); OVERRIDING writes
    an identity ALWAYS column too."""
    if not row:
        return f"INSERT INTO {qualified(table)} DEFAULT VALUES"
    columns = ", ".join(ident(c) for c in row)
    values = ", ".join("NULL" if v is None else literal(v) for v in row.values())
    override = " OVERRIDING SYSTEM VALUE" if overriding else ""
    return f"INSERT INTO {qualified(table)} ({columns}){override} VALUES ({values})"


def _components(
    info: _Table, fixed: dict[str, str | None], writes: Sequence[str]
) -> list[tuple[list[Check], list[str]]]:
    """The table's CHECKs grouped by the columns they share, each with its columns (those
    written or fixed); CHECKs reading a column nobody writes are left to the server."""
    present = set(fixed) | set(writes)
    groups: list[tuple[list[Check], set[str]]] = []
    for check in info.checks:
        if not check.columns or not set(check.columns) <= present:
            continue
        joined = [g for g in groups if g[1] & set(check.columns)]
        merged_checks = [check] + [c for g in joined for c in g[0]]
        merged_columns = set(check.columns).union(*(g[1] for g in joined))
        groups = [g for g in groups if g not in joined] + [(merged_checks, merged_columns)]
    order = [c.name for c in info.relation.columns]
    return [
        (sorted(checks, key=lambda c: c.name), sorted(columns, key=order.index))
        for checks, columns in sorted(groups, key=lambda g: min(c.name for c in g[0]))
    ]


def _own_key(relation: Relation) -> set[str]:
    """The columns of the relation's primary key (else its first unique key)."""
    keys = relation.unique_keys
    return set(keys[0].columns) if keys else set()


def _key_columns(relation: Relation, name: str) -> list[str]:
    for constraint in relation.constraints:
        if constraint.name == name:
            return list(constraint.columns)
    for index in relation.indexes:
        if index.name == name:
            return [c for c in relation.column_names if c in index.columns or _mentions(index, c)]
    return []


def _mentions(index: object, column: str) -> bool:
    return any(column in expression for expression in getattr(index, "columns", ()))


def _interleave(first: list[str], second: list[str]) -> list[str]:
    merged: list[str] = []
    for i in range(max(len(first), len(second))):
        merged += [*first[i : i + 1], *second[i : i + 1]]
    return merged


def _bound_values(bound: str) -> list[tuple[int, str]]:
    """(key position, value) of a partition bound (`FOR VALUES FROM (…) TO (…)`, `IN (…)`)."""
    try:
        statement = parse_sql(f"CREATE TABLE x PARTITION OF y {bound}")[0].stmt
    except Exception:  # noqa: BLE001 - DEFAULT, or a bound pglast cannot read
        return []
    spec = getattr(statement, "partbound", None)
    if spec is None:
        return []
    found: list[tuple[int, str]] = []
    for datum in spec.listdatums or ():
        value = _datum(datum)
        if value is not None:
            found.append((0, value))
    for position, datum in enumerate(spec.lowerdatums or ()):
        value = _datum(datum)
        if value is not None:
            found.append((position, value))
    return found


def _datum(node: object) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        for attribute in ("sval", "ival", "fval", "boolval"):
            if hasattr(value, attribute):
                return str(getattr(value, attribute))
    return None
