"""What SQL creates and what it refers to, read with pglast: the objects (schemas, relations,
functions, types, roles, extensions, publications, default privileges) that decide whether a
schema needs the Supabase shim and which parts of the shim the schema brings itself.

Keys are tuples: ("schema", s), ("relation", s, n), ("function", s, n), ("type", s, n),
("role", r), ("extension", e), ("publication", p), ("default privileges", s). Unqualified
names are taken to live in `public` (pg_dump and the Supabase CLI qualify what lives elsewhere).
Function bodies count as references; DO blocks, which run while the script loads, also create.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pglast import ast, enums, parse_plpgsql, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream
from pglast.visitors import Visitor

from migverify.quoting import literal

Key = tuple[str, ...]


@dataclass
class Objects:
    """The keys one statement (or a whole script) creates and refers to."""

    creates: set[Key] = field(default_factory=set)
    references: set[Key] = field(default_factory=set)

    def update(self, other: Objects) -> None:
        self.creates |= other.creates
        self.references |= other.references


def statement_objects(node: ast.Node) -> Objects:
    """The objects one parsed statement creates (run at load time) and refers to."""
    found = _Collector()
    found(node)
    return found.objects


def _name(parts: tuple[ast.Node, ...] | None) -> tuple[str, str] | None:
    names = [p.sval for p in parts or () if isinstance(p, ast.String)]
    if len(names) == 2:
        return names[0], names[1]
    if len(names) == 1:
        return "public", names[0]
    return None


class _Collector(Visitor):
    def __init__(self) -> None:
        self.objects = Objects()

    def _create(self, *key: str) -> None:
        self.objects.creates.add(key)

    def _refer(self, *key: str) -> None:
        self.objects.references.add(key)

    # --- references ---------------------------------------------------------------------------

    def visit_RangeVar(self, ancestors: object, node: ast.RangeVar) -> None:
        self._refer("relation", node.schemaname or "public", node.relname)
        if node.schemaname:
            self._refer("schema", node.schemaname)

    def visit_FuncCall(self, ancestors: object, node: ast.FuncCall) -> None:
        names = [p.sval for p in node.funcname or () if isinstance(p, ast.String)]
        if len(names) == 2:
            self._refer("function", *names)
            self._refer("schema", names[0])

    def visit_TypeName(self, ancestors: object, node: ast.TypeName) -> None:
        names = [p.sval for p in node.names or () if isinstance(p, ast.String)]
        if len(names) == 2 and names[0] != "pg_catalog":
            self._refer("type", *names)
            self._refer("schema", names[0])

    def visit_RoleSpec(self, ancestors: object, node: ast.RoleSpec) -> None:
        if node.rolename:
            self._refer("role", node.rolename)

    def visit_GrantStmt(self, ancestors: object, node: ast.GrantStmt) -> None:
        if node.objtype == enums.ObjectType.OBJECT_SCHEMA:
            for item in node.objects or ():
                if isinstance(item, ast.String):
                    self._refer("schema", item.sval)

    def visit_CommentStmt(self, ancestors: object, node: ast.CommentStmt) -> None:
        kinds = enums.ObjectType
        target = node.object
        if node.objtype in (kinds.OBJECT_TABLE, kinds.OBJECT_VIEW, kinds.OBJECT_COLUMN):
            parts = tuple(target) if isinstance(target, tuple | list) else ()
            if node.objtype == kinds.OBJECT_COLUMN:
                parts = parts[:-1]
            name = _name(parts)
            if name:
                self._refer("relation", *name)
                self._refer("schema", name[0])
        elif node.objtype == kinds.OBJECT_FUNCTION and isinstance(target, ast.ObjectWithArgs):
            name = _name(target.objname)
            if name:
                self._refer("function", *name)
                self._refer("schema", name[0])

    def visit_GrantRoleStmt(self, ancestors: object, node: ast.GrantRoleStmt) -> None:
        for item in node.granted_roles or ():
            if isinstance(item, ast.AccessPriv) and item.priv_name:
                self._refer("role", item.priv_name)

    def visit_AlterPublicationStmt(self, ancestors: object, node: ast.AlterPublicationStmt) -> None:
        self._refer("publication", node.pubname)

    # --- creations ------------------------------------------------------------------------------

    def visit_CreateSchemaStmt(self, ancestors: object, node: ast.CreateSchemaStmt) -> None:
        if node.schemaname:
            self._create("schema", node.schemaname)

    def visit_CreateStmt(self, ancestors: object, node: ast.CreateStmt) -> None:
        self._create_relation(node.relation)

    def visit_ViewStmt(self, ancestors: object, node: ast.ViewStmt) -> None:
        self._create_relation(node.view)

    def visit_CreateTableAsStmt(self, ancestors: object, node: ast.CreateTableAsStmt) -> None:
        if node.into is not None:
            self._create_relation(node.into.rel)

    def _create_relation(self, relation: ast.RangeVar | None) -> None:
        if relation is not None:
            self._create("relation", relation.schemaname or "public", relation.relname)

    def visit_CreateFunctionStmt(self, ancestors: object, node: ast.CreateFunctionStmt) -> None:
        name = _name(node.funcname)
        if name:
            self._create("function", *name)
        for statement in body_statements(node):
            self.objects.references |= statement_objects(statement).references

    def visit_DoStmt(self, ancestors: object, node: ast.DoStmt) -> None:
        for statement in body_statements(node):
            self.objects.update(statement_objects(statement))

    def visit_CreateRoleStmt(self, ancestors: object, node: ast.CreateRoleStmt) -> None:
        self._create("role", node.role)

    def visit_CreateExtensionStmt(self, ancestors: object, node: ast.CreateExtensionStmt) -> None:
        self._create("extension", node.extname)
        schema = extension_schema(node)
        if schema:
            self._refer("schema", schema)

    def visit_CreatePublicationStmt(
        self, ancestors: object, node: ast.CreatePublicationStmt
    ) -> None:
        self._create("publication", node.pubname)

    def visit_AlterDefaultPrivilegesStmt(
        self, ancestors: object, node: ast.AlterDefaultPrivilegesStmt
    ) -> None:
        schemas = [
            item.sval
            for option in node.options or ()
            if option.defname == "schemas"
            for item in option.arg or ()
            if isinstance(item, ast.String)
        ]
        for schema in schemas or ["*"]:
            self._create("default privileges", schema)

    def visit_CreateEnumStmt(self, ancestors: object, node: ast.CreateEnumStmt) -> None:
        self._create_type(node.typeName)

    def visit_CreateDomainStmt(self, ancestors: object, node: ast.CreateDomainStmt) -> None:
        self._create_type(node.domainname)

    def visit_CompositeTypeStmt(self, ancestors: object, node: ast.CompositeTypeStmt) -> None:
        if node.typevar is not None:
            self._create("type", node.typevar.schemaname or "public", node.typevar.relname)

    def _create_type(self, parts: tuple[ast.Node, ...] | None) -> None:
        name = _name(parts)
        if name:
            self._create("type", *name)


def extension_schema(node: ast.CreateExtensionStmt) -> str | None:
    for option in node.options or ():
        if option.defname == "schema" and isinstance(option.arg, ast.String):
            return option.arg.sval
    return None


# --- function bodies --------------------------------------------------------------------------


def _body(node: ast.CreateFunctionStmt | ast.DoStmt) -> tuple[str, str | None]:
    """(language, body text) of a function or DO block."""
    language = "plpgsql" if isinstance(node, ast.DoStmt) else "sql"
    body = None
    options = node.options if isinstance(node, ast.CreateFunctionStmt) else node.args
    for option in options or ():
        if option.defname == "language" and isinstance(option.arg, ast.String):
            language = option.arg.sval
        elif option.defname == "as":
            arg = option.arg
            first = arg[0] if isinstance(arg, tuple | list) else arg
            body = first.sval if isinstance(first, ast.String) else None
    return language.lower(), body


def body_statements(node: ast.CreateFunctionStmt | ast.DoStmt) -> Iterator[ast.Node]:
    """The SQL statements and expressions inside a SQL or PL/pgSQL body, parsed (what does not
    parse, e.g. dynamic SQL built at run time, is left out)."""
    language, body = _body(node)
    if body is None:
        return
    if getattr(node, "sql_body", None) is not None:  # BEGIN ATOMIC … END
        yield node.sql_body
    if language == "sql":
        yield from _parsed(body)
    elif language == "plpgsql":
        if isinstance(node, ast.CreateFunctionStmt):
            text = RawStream()(node)  # its own return type: RETURN QUERY, NEW and OLD parse
        else:
            text = (
                f"CREATE FUNCTION migverify_do() RETURNS void LANGUAGE plpgsql AS {literal(body)}"
            )
        try:
            tree = parse_plpgsql(text)
        except (ParseError, Exception):  # noqa: B014 - pglast raises plain Exceptions here
            return
        for query in _queries(tree):
            yield from _parsed(query)


def _parsed(text: str) -> Iterator[ast.Node]:
    for candidate in (text, f"SELECT {text}"):
        try:
            statements = parse_sql(candidate)
        except ParseError:
            continue
        for raw in statements:
            yield raw.stmt
        return


def _queries(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "PLpgSQL_expr" and isinstance(value, dict) and "query" in value:
                yield value["query"]
            else:
                yield from _queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _queries(item)
