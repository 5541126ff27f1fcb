"""The schema catalog: pg_catalog of a database read into frozen dataclasses.

Only user schemas are read (not pg_catalog, information_schema, pg_toast or temporary schemas).
Everything is ordered deterministically so that two reads of equal schemas compare equal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import psycopg
from pglast import parse_sql
from pglast.visitors import Visitor
from psycopg import sql
from psycopg.rows import dict_row

from migverify.errors import InputError

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
# The comment on each function of migverify's stand-in for an extension the server lacks
# (+ the extension's name): left out of the catalog, like the functions of an extension.
STAND_IN_COMMENT = "migverify stand-in for extension "
_VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}
_FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_FK_MATCH = {"f": "FULL", "p": "PARTIAL", "s": "SIMPLE"}
_RELKINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}
_CONSTRAINT_KINDS = {
    "p": "primary key",
    "u": "unique",
    "f": "foreign key",
    "c": "check",
    "x": "exclusion",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as format_type() prints it
    not_null: bool
    default: str | None
    default_volatility: str | None  # immutable | stable | volatile, of the default expression
    default_uses_sequence: str | None  # qualified sequence name when the default is nextval(...)
    identity: str | None  # "always" | "by default"
    generated: str | None  # the expression of a GENERATED ... AS (expr) column
    generated_kind: str | None  # "stored" | "virtual"
    updatable: bool  # for views: whether the column is auto-updatable; always True for tables
    comment: str | None = None
    collation: str | None = None  # COLLATE of a column whose collation is not its type's

    @property
    def nondeterministic_default(self) -> bool:
        """A default whose value differs between two runs (now(), random(), gen_random_uuid())."""
        return (
            self.default_volatility in ("stable", "volatile") and self.default_uses_sequence is None
        )


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # primary key | unique | foreign key | check | exclusion
    columns: tuple[str, ...]
    definition: str
    references: str | None = None  # qualified table of a foreign key
    referenced_columns: tuple[str, ...] = ()
    on_delete: str | None = None
    on_update: str | None = None
    deferrable: bool = False
    validated: bool = True
    initially_deferred: bool = False
    match: str | None = None  # FULL | PARTIAL | SIMPLE, of a foreign key
    on_delete_columns: tuple[str, ...] = ()  # ON DELETE SET NULL/DEFAULT (columns), PG 15+
    inherited: bool = False  # cloned from a partitioned parent's constraint (conparentid)


@dataclass(frozen=True)
class Index:
    name: str
    definition: str
    unique: bool
    primary: bool
    columns: tuple[str, ...]  # key columns; expressions appear as their text
    # The key columns' names, None where a key is an expression (index on lower(email) …).
    column_names: tuple[str | None, ...] = ()
    partial: bool = False  # has a WHERE predicate: unique only among the rows it covers
    immediate: bool = True  # checked per row (not DEFERRABLE): ON CONFLICT can use it

    @property
    def plain_key(self) -> tuple[str, ...] | None:
        """The columns of a unique index that identifies every row (no predicate, no
        expression), else None."""
        if not self.unique or self.partial or None in self.column_names or not self.column_names:
            return None
        return tuple(name for name in self.column_names if name is not None)


@dataclass(frozen=True)
class Trigger:
    name: str
    timing: str  # BEFORE | AFTER | INSTEAD OF
    events: tuple[str, ...]  # INSERT, UPDATE, DELETE, TRUNCATE
    level: str  # ROW | STATEMENT
    function: str
    enabled: bool
    definition: str
    firing: str = "O"  # pg_trigger.tgenabled: O origin, D disabled, R replica, A always
    function_qualified: str = ""  # schema.name of the trigger function
    function_language: str = ""
    function_source: str = ""  # the body (pg_proc.prosrc)
    function_definition: str = ""  # pg_get_functiondef


@dataclass(frozen=True)
class Policy:
    name: str
    command: str  # ALL | SELECT | INSERT | UPDATE | DELETE
    permissive: bool
    roles: tuple[str, ...]
    using: str | None
    with_check: str | None


@dataclass(frozen=True)
class Grant:
    grantee: str  # a role name, or PUBLIC
    privilege: str  # SELECT, INSERT, ...
    column: str | None = None  # for column-level grants
    grantable: bool = False


@dataclass(frozen=True)
class DefaultPrivilege:
    """One grant of ALTER DEFAULT PRIVILEGES: what objects ROLE creates later receive."""

    role: str  # whose new objects
    schema: str | None  # in this schema; None: in every schema
    kind: str  # table | sequence | function | type | schema
    grantee: str  # a role name, or PUBLIC
    privilege: str


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    kind: str  # table | partitioned table | view | materialized view | foreign table
    owner: str
    columns: tuple[Column, ...]
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    rls_enabled: bool = False
    rls_forced: bool = False
    policies: tuple[Policy, ...] = ()
    grants: tuple[Grant, ...] = ()
    comment: str | None = None
    view_definition: str | None = None
    view_options: tuple[str, ...] = ()  # reloptions, e.g. security_invoker=true, check_option=local
    updatable_operations: tuple[str, ...] = ()  # auto-updatable ops of a view (no triggers counted)
    trigger_operations: tuple[str, ...] = ()  # ops a view supports through INSTEAD OF triggers
    view_relations: tuple[str, ...] = ()  # qualified names of the relations a view reads
    partition_of: str | None = None  # qualified parent of a partition

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def display_name(self) -> str:
        """The name as code usually writes it: bare in public, schema-qualified elsewhere."""
        return self.name if self.schema == "public" else self.qualified_name

    @property
    def is_view(self) -> bool:
        return self.kind == "view"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.qualified_name} has no column {name!r}")

    @property
    def primary_key(self) -> Constraint | None:
        return next((c for c in self.constraints if c.kind == "primary key"), None)

    @property
    def unique_keys(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.kind in ("primary key", "unique"))

    @property
    def foreign_keys(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.kind == "foreign key")

    @property
    def row_keys(self) -> tuple[tuple[str, ...], ...]:
        """Every set of columns that finds one row, best first: the primary key, then unique
        constraints, then unique indexes (plain columns, no predicate) whose columns are all NOT
        NULL (a NULL would let two rows share the key). Their types are btree-orderable
        (PostgreSQL builds unique indexes only with btree)."""
        keys: list[tuple[str, ...]] = []
        if self.primary_key is not None:
            keys.append(self.primary_key.columns)
        constraints = {c.name for c in self.unique_keys}
        for index in sorted(self.indexes, key=lambda i: (i.name not in constraints, i.name)):
            columns = index.plain_key
            if columns and columns not in keys and all(self.column(c).not_null for c in columns):
                keys.append(columns)
        return tuple(keys)

    def option(self, name: str) -> str | None:
        for option in self.view_options:
            key, _, value = option.partition("=")
            if key == name:
                return value
        return None

    @property
    def auto_updatable(self) -> bool:
        return set(self.updatable_operations) >= {"insert", "update", "delete"}


@dataclass(frozen=True)
class Sequence:
    schema: str
    name: str
    data_type: str
    start: int
    increment: int
    minimum: int
    maximum: int
    cycle: bool
    last_value: int
    is_called: bool
    owned_by: str | None  # table.column
    grants: tuple[Grant, ...] = ()  # USAGE, SELECT, UPDATE (the owner's included)
    cache: int = 1

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def usable_by(self, role: str) -> bool:
        """Whether ROLE holds USAGE on the sequence by a grant to it or to PUBLIC."""
        return any(g.privilege == "USAGE" and g.grantee in (role, "PUBLIC") for g in self.grants)

    @property
    def next_value(self) -> int:
        return self.last_value + self.increment if self.is_called else self.last_value


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    arguments: str
    returns: str
    language: str
    volatility: str
    security_definer: bool

    @property
    def signature(self) -> str:
        return f"{self.schema}.{self.name}({self.arguments})"


@dataclass(frozen=True)
class Catalog:
    """Everything migverify needs to know about a database's user schemas."""

    server_version: int
    relations: tuple[Relation, ...]
    sequences: tuple[Sequence, ...]
    functions: tuple[Function, ...]
    roles: tuple[str, ...] = ()  # non-system roles that exist on the server
    default_privileges: tuple[DefaultPrivilege, ...] = ()

    def find(self, name: str) -> Relation | None:
        """The relation named NAME (`table` looks in public first, `schema.table` exactly)."""
        schema, _, table = name.rpartition(".")
        matches = [
            r for r in self.relations if r.name == table and (not schema or r.schema == schema)
        ]
        if not schema and len(matches) > 1:
            matches = [r for r in matches if r.schema == "public"] or matches[:1]
        return matches[0] if matches else None

    def relation(self, name: str) -> Relation:
        found = self.find(name)
        if found is None:
            raise InputError(f"relation {name!r} does not exist")
        return found

    def sequence(self, qualified_name: str) -> Sequence | None:
        return next((s for s in self.sequences if s.qualified_name == qualified_name), None)

    @property
    def tables(self) -> tuple[Relation, ...]:
        return tuple(r for r in self.relations if r.kind in ("table", "partitioned table"))

    @property
    def views(self) -> tuple[Relation, ...]:
        return tuple(r for r in self.relations if r.kind == "view")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (deterministic: everything is already sorted)."""
        data = dataclasses.asdict(self)
        for relation in data["relations"]:
            relation["qualified_name"] = f"{relation['schema']}.{relation['name']}"
        return data


def load_catalog(conn: psycopg.Connection) -> Catalog:
    """Read the catalog of the database CONN is connected to."""
    with conn.cursor(row_factory=dict_row) as cursor:
        version = int(cursor.execute("SHOW server_version_num").fetchone()["server_version_num"])
        reader = _Reader(cursor, version)
        return Catalog(
            server_version=version,
            relations=reader.relations(),
            sequences=reader.sequences(),
            functions=reader.functions(),
            roles=reader.roles(),
            default_privileges=reader.default_privileges(),
        )


class _Reader:
    """Reads every relation's parts with one query per kind of part (columns, constraints, …)
    for all relations at once: a schema of hundreds of tables is read in a few round trips."""

    def __init__(self, cursor: psycopg.Cursor, version: int) -> None:
        self.cursor = cursor
        self.version = version
        self._volatility: dict[tuple[str | None, str], int] = {}
        self._expressions: dict[str, str] = {}  # many columns share a default (now(), 0, …)

    def rows(self, query: str, *params: Any) -> list[dict[str, Any]]:
        return self.cursor.execute(query, params or None).fetchall()

    def by_relation(self, query: str, *params: Any) -> dict[int, list[dict[str, Any]]]:
        """QUERY's rows (its first column `relid`) grouped by relation, in the query's order."""
        grouped: dict[int, list[dict[str, Any]]] = {}
        for row in self.rows(query, *params):
            grouped.setdefault(row["relid"], []).append(row)
        return grouped

    def relations(self) -> tuple[Relation, ...]:
        # Updatability is asked of views only (see columns(): a foreign table's wrapper answers).
        rows = self.rows(
            """
            SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind,
                   pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity, c.relforcerowsecurity,
                   obj_description(c.oid, 'pg_class') AS comment,
                   CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS viewdef,
                   coalesce(c.reloptions, '{}') AS reloptions,
                   CASE WHEN c.relkind = 'v' THEN pg_relation_is_updatable(c.oid, false)
                   END AS auto_mask,
                   CASE WHEN c.relkind = 'v' THEN pg_relation_is_updatable(c.oid, true)
                   END AS full_mask,
                   (SELECT pn.nspname || '.' || p.relname FROM pg_inherits i
                    JOIN pg_class p ON p.oid = i.inhparent
                    JOIN pg_namespace pn ON pn.oid = p.relnamespace
                    WHERE c.relispartition AND i.inhrelid = c.oid) AS partition_of
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND n.nspname <> ALL (%s) AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
              AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
            ORDER BY n.nspname, c.relname
            """,
            list(_SYSTEM_SCHEMAS),
        )
        oids = [row["oid"] for row in rows]
        parts = {
            "columns": self.columns(oids),
            "constraints": self.constraints(oids),
            "indexes": self.indexes(oids),
            "triggers": self.triggers(oids),
            "policies": self.policies(oids),
            "grants": self.grants(oids),
            "view_relations": self.view_relations(oids),
        }
        return tuple(
            self.relation(row, {name: found.get(row["oid"], ()) for name, found in parts.items()})
            for row in rows
        )

    def relation(self, row: dict[str, Any], parts: dict[str, Any]) -> Relation:
        kind = _RELKINDS[row["relkind"]]
        auto_ops = _mask_ops(row["auto_mask"]) if kind == "view" else ()
        full_ops = _mask_ops(row["full_mask"]) if kind == "view" else ()
        return Relation(
            schema=row["schema"],
            name=row["name"],
            kind=kind,
            owner=row["owner"],
            rls_enabled=row["relrowsecurity"],
            rls_forced=row["relforcerowsecurity"],
            comment=row["comment"],
            view_definition=row["viewdef"],
            view_options=tuple(sorted(row["reloptions"])),
            updatable_operations=auto_ops,
            trigger_operations=tuple(op for op in full_ops if op not in auto_ops),
            partition_of=row["partition_of"],
            **parts,
        )

    def view_relations(self, oids: list[int]) -> dict[int, tuple[str, ...]]:
        found = self.by_relation(
            """
            SELECT DISTINCT r.ev_class AS relid, n.nspname || '.' || c.relname AS name
            FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
            JOIN pg_class c ON c.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
            WHERE r.ev_class = ANY (%s) AND c.oid <> r.ev_class ORDER BY 1, 2
            """,
            oids,
        )
        return {oid: tuple(r["name"] for r in rows) for oid, rows in found.items()}

    def columns(self, oids: list[int]) -> dict[int, tuple[Column, ...]]:
        generated = "a.attgenerated" if self.version >= 120000 else "''::\"char\""
        # Only views are asked: for a foreign table the server asks its wrapper's handler,
        # which a wrapper without one (CREATE FOREIGN DATA WRAPPER dummy) cannot answer.
        updatable = (
            "CASE WHEN rel.relkind = 'v' THEN pg_column_is_updatable(a.attrelid, a.attnum, false)"
            " ELSE true END"
        )
        found = self.by_relation(
            f"""
            SELECT a.attrelid AS relid, rel.relkind = 'v' AS is_view,
                   a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                   a.attnotnull AS not_null, a.attidentity AS identity,
                   {generated} AS generated,
                   pg_get_expr(d.adbin, d.adrelid) AS default,
                   col_description(a.attrelid, a.attnum) AS comment,
                   {updatable} AS updatable,
                   (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                      FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                     WHERE co.oid = a.attcollation
                       AND a.attcollation <> (SELECT typcollation FROM pg_type
                                              WHERE oid = a.atttypid)) AS collation,
                   (SELECT sn.nspname || '.' || sc.relname FROM pg_depend dep
                      JOIN pg_class sc ON sc.oid = dep.refobjid
                      JOIN pg_namespace sn ON sn.oid = sc.relnamespace
                     WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                       AND dep.refclassid = 'pg_class'::regclass AND sc.relkind = 'S'
                     LIMIT 1) AS sequence
            FROM pg_attribute a
            JOIN pg_class rel ON rel.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = ANY (%s) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum
            """,
            oids,
        )
        return {
            oid: tuple(self.column(row, row["is_view"]) for row in rows)
            for oid, rows in found.items()
        }

    def column(self, row: dict[str, Any], is_view: bool) -> Column:
        gen = row["generated"] or ""
        expression = row["default"]
        is_generated = gen in ("s", "v")
        volatility = None
        if expression is not None and not is_generated:
            volatility = self.expression_volatility(expression)
        sequence = row["sequence"] if expression and "nextval" in expression else None
        return Column(
            name=row["name"],
            type=row["type"],
            not_null=row["not_null"],
            default=None if is_generated else expression,
            default_volatility=volatility,
            default_uses_sequence=sequence,
            identity={"a": "always", "d": "by default"}.get(row["identity"] or ""),
            generated=expression if is_generated else None,
            generated_kind={"s": "stored", "v": "virtual"}.get(gen),
            updatable=bool(row["updatable"]) if is_view else True,
            comment=row["comment"],
            collation=row["collation"],
        )

    def expression_volatility(self, expression: str) -> str:
        """The volatility of an expression: the most volatile function it calls.

        pg_depend records no dependency on built-in functions (they are pinned), so the
        functions are found by parsing the expression and looked up in pg_proc by name.
        """
        if expression in self._expressions:
            return self._expressions[expression]
        names, value_functions = _called_functions(expression)
        rank = 1 if value_functions else 0
        for schema, name in names:
            if (schema, name) not in self._volatility:
                row = self.cursor.execute(
                    "SELECT max(p.provolatile::text) AS v FROM pg_proc p"
                    " JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE p.proname = %s AND (%s::text IS NULL OR n.nspname = %s)",
                    (name, schema, schema),
                ).fetchone()
                # max() works because 'i' < 's' < 'v' sorts by volatility.
                volatility = {"i": 0, "s": 1, "v": 2}.get((row and row["v"]) or "i", 0)
                self._volatility[(schema, name)] = volatility
            rank = max(rank, self._volatility[(schema, name)])
        self._expressions[expression] = ("immutable", "stable", "volatile")[rank]
        return self._expressions[expression]

    def constraints(self, oids: list[int]) -> dict[int, tuple[Constraint, ...]]:
        set_columns = (
            """ARRAY(SELECT a.attname FROM unnest(con.confdelsetcols) WITH ORDINALITY k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                         ORDER BY k.ord)::text[]"""
            if self.version >= 150000
            else "'{}'::text[]"
        )
        found = self.by_relation(
            f"""
            SELECT con.conrelid AS relid, con.conname AS name, con.contype,
                   pg_get_constraintdef(con.oid, true) AS definition,
                   ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                         ORDER BY k.ord)::text[] AS columns,
                   (SELECT fn.nspname || '.' || fc.relname FROM pg_class fc
                      JOIN pg_namespace fn ON fn.oid = fc.relnamespace
                     WHERE fc.oid = con.confrelid) AS ref,
                   ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                         ORDER BY k.ord)::text[] AS ref_columns,
                   con.confdeltype, con.confupdtype, con.condeferrable, con.convalidated,
                   con.condeferred, con.confmatchtype, con.conparentid <> 0 AS inherited,
                   {set_columns} AS set_columns
            FROM pg_constraint con
            WHERE con.conrelid = ANY (%s) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
            ORDER BY con.conrelid, con.contype, con.conname
            """,
            oids,
        )
        return {oid: tuple(_constraint(r) for r in rows) for oid, rows in found.items()}

    def indexes(self, oids: list[int]) -> dict[int, tuple[Index, ...]]:
        found = self.by_relation(
            """
            SELECT x.indrelid AS relid, i.relname AS name,
                   pg_get_indexdef(x.indexrelid) AS definition,
                   x.indisunique, x.indisprimary,
                   ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                         FROM generate_series(1, x.indnkeyatts) k ORDER BY k)::text[] AS columns,
                   ARRAY(SELECT a.attname FROM generate_series(0, x.indnkeyatts - 1) k
                         LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid
                          AND a.attnum = x.indkey[k] AND x.indkey[k] <> 0
                         ORDER BY k)::text[] AS column_names,
                   x.indpred IS NOT NULL AS partial, x.indimmediate
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = ANY (%s) ORDER BY x.indrelid, i.relname
            """,
            oids,
        )
        return {
            oid: tuple(
                Index(
                    name=r["name"],
                    definition=r["definition"],
                    unique=r["indisunique"],
                    primary=r["indisprimary"],
                    columns=tuple(r["columns"]),
                    column_names=tuple(r["column_names"]),
                    partial=r["partial"],
                    immediate=r["indimmediate"],
                )
                for r in rows
            )
            for oid, rows in found.items()
        }

    def triggers(self, oids: list[int]) -> dict[int, tuple[Trigger, ...]]:
        found = self.by_relation(
            """
            SELECT t.tgrelid AS relid, t.tgname AS name, t.tgtype, t.tgenabled,
                   t.tgfoid::regproc::text AS function,
                   pg_get_triggerdef(t.oid, true) AS definition,
                   n.nspname || '.' || p.proname AS function_qualified, l.lanname AS language,
                   p.prosrc AS source, pg_get_functiondef(p.oid) AS function_definition
            FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE t.tgrelid = ANY (%s) AND NOT t.tgisinternal ORDER BY t.tgrelid, t.tgname
            """,
            oids,
        )
        return {oid: tuple(_trigger(r) for r in rows) for oid, rows in found.items()}

    def policies(self, oids: list[int]) -> dict[int, tuple[Policy, ...]]:
        found = self.by_relation(
            """
            SELECT p.polrelid AS relid, p.polname AS name, p.polcmd, p.polpermissive,
                   ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END
                         FROM unnest(p.polroles) r ORDER BY 1)::text[] AS roles,
                   pg_get_expr(p.polqual, p.polrelid) AS using,
                   pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
            FROM pg_policy p WHERE p.polrelid = ANY (%s) ORDER BY p.polrelid, p.polname
            """,
            oids,
        )
        commands = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
        return {
            oid: tuple(
                Policy(
                    name=r["name"],
                    command=commands[r["polcmd"]],
                    permissive=r["polpermissive"],
                    roles=tuple(r["roles"]),
                    using=r["using"],
                    with_check=r["with_check"],
                )
                for r in rows
            )
            for oid, rows in found.items()
        }

    def grants(self, oids: list[int]) -> dict[int, tuple[Grant, ...]]:
        found = self.by_relation(
            """
            SELECT relid, grantee, privilege, "column", is_grantable FROM (
              SELECT c.oid AS relid,
                     CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END
                       AS grantee,
                     g.privilege_type AS privilege, NULL::text AS "column", g.is_grantable
              FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) g
              WHERE c.oid = ANY (%s)
              UNION ALL
              SELECT a.attrelid,
                     CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END,
                     g.privilege_type, a.attname::text, g.is_grantable
              FROM pg_attribute a, aclexplode(a.attacl) g
              WHERE a.attrelid = ANY (%s) AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attacl IS NOT NULL
            ) AS grants
            ORDER BY relid, grantee, "column" NULLS FIRST, privilege
            """,
            oids,
            oids,
        )
        return {
            oid: tuple(
                Grant(
                    grantee=r["grantee"],
                    privilege=r["privilege"],
                    column=r["column"],
                    grantable=r["is_grantable"],
                )
                for r in rows
            )
            for oid, rows in found.items()
        }

    def sequence_grants(self, oid: int) -> tuple[Grant, ...]:
        rows = self.rows(
            """
            SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END AS grantee,
                   g.privilege_type AS privilege, g.is_grantable
            FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('s', c.relowner))) g
            WHERE c.oid = %s ORDER BY 1, 2
            """,
            oid,
        )
        return tuple(
            Grant(grantee=r["grantee"], privilege=r["privilege"], grantable=r["is_grantable"])
            for r in rows
        )

    def sequences(self) -> tuple[Sequence, ...]:
        rows = self.rows(
            """
            SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS data_type,
                   s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle, s.seqcache, c.oid,
                   (SELECT tn.nspname || '.' || tc.relname || '.' || a.attname
                      FROM pg_depend dep JOIN pg_attribute a
                        ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
                      JOIN pg_class tc ON tc.oid = dep.refobjid
                      JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                     WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
                       AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
                     LIMIT 1) AS owned_by
            FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname <> ALL (%s) ORDER BY n.nspname, c.relname
            """,
            list(_SYSTEM_SCHEMAS),
        )
        # Every sequence's state in one round trip.
        states: dict[tuple[str, str], dict[str, Any]] = {}
        if rows:
            union = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {} AS n, last_value, is_called FROM {}.{}").format(
                    sql.Literal(number), sql.Identifier(r["schema"]), sql.Identifier(r["name"])
                )
                for number, r in enumerate(rows)
            )
            for state in self.cursor.execute(union).fetchall():
                r = rows[state["n"]]
                states[(r["schema"], r["name"])] = state
        result = []
        for r in rows:
            state = states[(r["schema"], r["name"])]
            result.append(
                Sequence(
                    schema=r["schema"],
                    name=r["name"],
                    data_type=r["data_type"],
                    start=r["seqstart"],
                    increment=r["seqincrement"],
                    minimum=r["seqmin"],
                    maximum=r["seqmax"],
                    cycle=r["seqcycle"],
                    last_value=state["last_value"],
                    is_called=state["is_called"],
                    owned_by=r["owned_by"],
                    grants=self.sequence_grants(r["oid"]),
                    cache=r["seqcache"],
                )
            )
        return tuple(result)

    def functions(self) -> tuple[Function, ...]:
        rows = self.rows(
            """
            SELECT n.nspname AS schema, p.proname AS name,
                   pg_get_function_identity_arguments(p.oid) AS arguments,
                   pg_get_function_result(p.oid) AS returns, l.lanname AS language,
                   p.provolatile, p.prosecdef
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            JOIN pg_language l ON l.oid = p.prolang
            WHERE n.nspname <> ALL (%s) AND p.prokind IN ('f', 'p')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                              AND d.objid = p.oid AND d.deptype = 'e')
              AND NOT EXISTS (SELECT 1 FROM pg_description c
                              WHERE c.classoid = 'pg_proc'::regclass AND c.objoid = p.oid
                                AND starts_with(c.description, %s))
            ORDER BY 1, 2, 3
            """,
            list(_SYSTEM_SCHEMAS),
            STAND_IN_COMMENT,
        )
        return tuple(
            Function(
                schema=r["schema"],
                name=r["name"],
                arguments=r["arguments"],
                returns=r["returns"] or "",
                language=r["language"],
                volatility=_VOLATILITY[r["provolatile"]],
                security_definer=r["prosecdef"],
            )
            for r in rows
        )

    def roles(self) -> tuple[str, ...]:
        rows = self.rows("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1")
        return tuple(r["rolname"] for r in rows)

    def default_privileges(self) -> tuple[DefaultPrivilege, ...]:
        rows = self.rows(
            """
            SELECT pg_get_userbyid(d.defaclrole) AS role, n.nspname AS schema,
                   d.defaclobjtype AS kind,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
                     AS grantee,
                   a.privilege_type AS privilege
            FROM pg_default_acl d
            LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
            CROSS JOIN LATERAL aclexplode(d.defaclacl) a
            ORDER BY 1, 2 NULLS FIRST, 3, 4, 5
            """
        )
        kinds = {"r": "table", "S": "sequence", "f": "function", "T": "type", "n": "schema"}
        return tuple(
            DefaultPrivilege(r["role"], r["schema"], kinds[r["kind"]], r["grantee"], r["privilege"])
            for r in rows
        )


def _mask_ops(mask: int) -> tuple[str, ...]:
    # pg_relation_is_updatable returns a bitmask of CmdType bits: UPDATE=4, INSERT=8, DELETE=16.
    return tuple(op for op, bit in (("insert", 8), ("update", 4), ("delete", 16)) if mask & bit)


def _constraint(r: dict[str, Any]) -> Constraint:
    return Constraint(
        name=r["name"],
        kind=_CONSTRAINT_KINDS[r["contype"]],
        columns=tuple(r["columns"] or ()),
        definition=r["definition"],
        references=r["ref"],
        referenced_columns=tuple(r["ref_columns"] or ()),
        on_delete=_FK_ACTIONS.get(r["confdeltype"]) if r["contype"] == "f" else None,
        on_update=_FK_ACTIONS.get(r["confupdtype"]) if r["contype"] == "f" else None,
        deferrable=r["condeferrable"],
        validated=r["convalidated"],
        initially_deferred=r["condeferred"],
        match=_FK_MATCH.get(r["confmatchtype"]) if r["contype"] == "f" else None,
        on_delete_columns=tuple(r["set_columns"] or ()),
        inherited=r["inherited"],
    )


def _trigger(row: dict[str, Any]) -> Trigger:
    tgtype = row["tgtype"]
    timing = "INSTEAD OF" if tgtype & 64 else "BEFORE" if tgtype & 2 else "AFTER"
    events = tuple(
        e
        for e, bit in (("INSERT", 4), ("UPDATE", 16), ("DELETE", 8), ("TRUNCATE", 32))
        if tgtype & bit
    )
    return Trigger(
        name=row["name"],
        timing=timing,
        events=events,
        level="ROW" if tgtype & 1 else "STATEMENT",
        function=row["function"],
        enabled=row["tgenabled"] != "D",
        definition=row["definition"],
        firing=row["tgenabled"],
        function_qualified=row["function_qualified"],
        function_language=row["language"],
        function_source=row["source"] or "",
        function_definition=row["function_definition"],
    )


class _FunctionCalls(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[tuple[str | None, str]] = set()
        self.value_functions = False

    def visit_FuncCall(self, ancestors: Any, node: Any) -> None:  # noqa: N802
        parts = [n.sval for n in node.funcname]
        self.names.add((parts[0] if len(parts) > 1 else None, parts[-1]))

    def visit_SQLValueFunction(self, ancestors: Any, node: Any) -> None:  # noqa: N802
        # CURRENT_TIMESTAMP and friends are not function calls in the tree; they are stable.
        if node.op.name.startswith(("SVFOP_CURRENT_DATE", "SVFOP_CURRENT_TIME", "SVFOP_LOCAL")):
            self.value_functions = True


def _called_functions(expression: str) -> tuple[set[tuple[str | None, str]], bool]:
    """Functions an expression calls (schema or None, name) and whether it reads the clock."""
    visitor = _FunctionCalls()
    try:
        visitor(parse_sql(f"SELECT {expression}"))
    except Exception:  # pglast cannot parse a server-printed expression: be conservative
        return {(None, "random")}, True
    return visitor.names, visitor.value_functions
