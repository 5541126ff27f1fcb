"""diesel's query DSL in Rust: tables declared by `table!`, used through their modules.

`diesel::table! { #[sql_name = "posted_decisions"] decisions (id) { id -> Int4, … } }` declares
a module `decisions` for the table `posted_decisions` (the Rust name is the table's unless
`sql_name` says otherwise; `schema.name` puts it in a schema). Code reaches the table as
`decisions::table`, as `decisions::dsl::decisions`, as a bare `decisions` where `use
…::decisions::dsl::*` (or `dsl::{decisions, …}`) brings it into scope, or through an
`alias!(decisions as earlier)`. Each such use is a reference; its operation is the diesel
function the table is the target of (`insert_into(t)`, `update(t.filter(…))`, `delete(t.find(id))`;
`insert_into(…).on_conflict(…)` an upsert), else a read (a query, a join, a subquery). Its
columns are the `t::column` paths of the same statement (and the declared columns named bare
under `dsl::*`). A struct mapped to the table (`#[diesel(table_name = decisions)]`, diesel 1's
`#[table_name = "decisions"]`, or by its name) is a reference with operation `model`, as an
ORM's model class is, and a row of it written (`diesel::update(&row)`, `row.save_changes(c)`)
a write of the table, and so is `T::delete(conn, id)` where T implements a trait whose default
`delete` runs on `Self::table()` (a shared `Crud` trait). Code in macros is parsed again as code.

A declaration is kept for the other files when it maps a legacy table or its Rust name is a
legacy table's (so that one renamed away is not taken for it), and so are module-level aliases
and every row struct (Models keeps those of the tables kept); their names send only Rust files
to the second pass. Without any declaration in the scanned tree, `t::table` of a legacy table's
name is that table. Not read: a table given as a type parameter in a generic function
(`T::table()`), a row whose type only a method's return type shows, a project's own write
helpers (`my_upsert(t::table.find(k))` reads as a read).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import cache

from tree_sitter import Language, Node, Parser, Range, Tree

from migverify.scan.found import Found
from migverify.scan.orm import Declared, Models, TraitImpl, TraitMethod, nodes_of
from migverify.scan.source import Source
from migverify.scan.tables import TableMatcher

# diesel's functions whose argument is the statement's target table
WRITES = {
    "insert_into": "insert",
    "insert_or_ignore_into": "insert",
    "replace_into": "insert",
    "update": "update",
    "delete": "delete",
}
NOT_COLUMNS = frozenset(("table", "dsl", "star", "all_columns"))
DECLARING = frozenset((
    "table", "joinable", "allow_tables_to_appear_in_same_query",
    "allow_columns_to_appear_in_same_group_by_clause", "sql_function", "define_sql_function",
    "declare_sql_function", "alias",
))  # fmt: skip
# what a file using diesel holds: `table!`, `t::table`, `table_name`, `t::dsl`, `alias!`, a
# row written through its struct
HINTS = (b"table", b"dsl", b"alias", b"update", b"delete", b"save_changes")
# where walking up from a use stops: the statement it is part of
STATEMENT = frozenset((
    "expression_statement", "let_declaration", "block", "source_file", "function_item",
    "closure_expression", "declaration_list", "match_arm",
))  # fmt: skip
# a bare name in these places (under `dsl::*`) is a value: the table
VALUE_PARENTS = frozenset((
    "arguments", "reference_expression", "tuple_expression", "return_expression",
    "array_expression",
))  # fmt: skip
PATTERNS = frozenset(("let_declaration", "parameter", "closure_parameters", "for_expression"))
KINDS = (
    "macro_invocation", "use_declaration", "attribute_item", "scoped_identifier", "identifier",
    "struct_item", "self", "trait_item", "impl_item", "call_expression",
)  # fmt: skip


def scan_diesel(tree: Tree, source: Source, found: Found, matcher: TableMatcher,
                models: Models | None) -> None:  # fmt: skip
    """References to legacy tables through diesel's DSL in one Rust file."""
    if not any(hint in source.data for hint in HINTS):
        return  # no diesel here
    nodes = nodes_of(tree, KINDS)
    here: dict[str, Declared] = {}
    for macro in (n for n in nodes if n.type == "macro_invocation"):
        for declared, at in _tables(macro, source):
            if matcher.match_text(declared.table) or matcher.match_text(declared.name):
                found.declaration(at, declared, matcher, "diesel")
                here[declared.name] = declared
    known = _known(here, matcher, models)
    for macro in (n for n in nodes if n.type == "macro_invocation"):
        for alias, table in _aliases(macro, source):
            if _module_level(macro):  # for the files using it (Models keeps those of tables kept)
                found.record(Declared("diesel", alias, table, source.path, bare=True))
            if table in known and matcher.match_text(known[table].table):
                known[alias] = replace(known[table], name=alias, bare=True)
    nodes += _in_macros(nodes, known, source)
    bare = _bare_names(nodes, known, source)
    bare_columns = {
        rust: name for name in bare for rust, _ in known[name].columns
    }  # a column of a table in scope as a bare name, and that table
    aliases = {name for name, declared in known.items() if declared.bare}
    for attribute in (n for n in nodes if n.type == "attribute_item"):
        _model(attribute, known, found, matcher, source)
    rows = _rows(nodes, known, matcher, source, found, models)
    uses: list[tuple[Node, str]] = []  # (the name's node, the Rust name)
    bound: dict[tuple[int, int], set[bytes]] = {}  # a function's own bindings (_in_scope)
    columns: dict[int, dict[str, set[str]]] = {}  # statement → table → columns

    def column(node: Node, name: str, rust: str) -> None:
        statement = statement_of(node).start_byte
        sql = dict(known[name].columns).get(rust, rust)
        columns.setdefault(statement, {}).setdefault(known[name].table, set()).add(sql)

    for node in nodes:
        if node.type == "scoped_identifier":
            use = _path_use(node, known, source)
            if use is not None:
                uses.append(use)
            elif (path_column := _column(node, known, source)) is not None:
                column(node, *path_column)
        elif node.type == "identifier" and (bare or aliases):
            name = source.text(node)
            if name in aliases:  # bound to the alias wherever it is named
                if _value(node) and not _selector(node, source):
                    uses.append((node, name))
            elif name in bare and _in_scope(node, bare[name], bound) and _value(node):
                uses.append((node, name))
            elif name in bare_columns and _in_scope(node, bare[bare_columns[name]], bound):
                if _value(node) or _receiver(node):
                    column(node, bare_columns[name], name)
    if rows or b"update(" in source.data:
        _row_writes(nodes, rows, found, matcher, source, columns, known)
    _traits(nodes, found, source)
    if rows and models is not None and models.trait_methods:
        _trait_calls(nodes, rows, models, found, matcher, source)
    for node, name in uses:
        table = matcher.match_text(known[name].table)
        if table is None:
            continue
        statement = statement_of(node)
        used = columns.get(statement.start_byte, {}).get(known[name].table, set())
        found.reference(node.start_byte, table, _operation(node, statement, source), used, "diesel")


def _in_macros(nodes: list[Node], known: dict[str, Declared], source: Source,
               depth: int = 0) -> list[Node]:  # fmt: skip
    """The nodes of code written in macros (`db_run! { conn: { users::table… } }`,
    `assert_eq!(…, t::table.count()…)`): a macro's arguments are tokens to tree-sitter, so
    those naming a table are parsed again as code, in place (positions stay the file's): a
    `(…)` or `[…]` argument list as the tuple or array it reads as, a `{…}` one by the blocks
    it holds (or whole, without any)."""
    found: list[Node] = []
    for macro in nodes:
        if macro.type != "macro_invocation" or _declaring(macro, source):
            continue
        body = next((c for c in macro.children if c.type == "token_tree"), None)
        if body is None or not body.children or not _names_table(body, known, source):
            continue
        if body.children[0].type == "{":
            blocks = [c for c in body.children if c.type == "token_tree" and c.children
                      and c.children[0].type == "{"]  # fmt: skip
            pieces = blocks or [body]
        else:
            pieces = [body]
        parser = _range_parser()
        parser.included_ranges = [
            Range(piece.start_point, piece.end_point, piece.start_byte, piece.end_byte)
            for piece in pieces
        ]
        inner = nodes_of(parser.parse(source.data), KINDS)
        found += inner
        if depth < 2:
            found += _in_macros(inner, known, source, depth + 1)
    return found


@cache
def _range_parser() -> Parser:
    import tree_sitter_rust as grammar

    return Parser(Language(grammar.language()))


def _declaring(macro: Node, source: Source) -> bool:
    """diesel's declaring macros (`table!`, `joinable!`, …), read as declarations or not at all."""
    name = macro.child_by_field_name("macro")
    last = _last(name) if name is not None else None
    return last is None or source.text(last) in DECLARING


def _names_table(body: Node, known: dict[str, Declared], source: Source) -> bool:
    """Do a macro's tokens name a table (`t::table`, `t::dsl`, a table's name under `dsl`)?"""
    text = source.data[body.start_byte : body.end_byte]
    return b"::table" in text or b"::dsl" in text or any(name.encode() in text for name in known)


def _known(
    here: dict[str, Declared], matcher: TableMatcher, models: Models | None
) -> dict[str, Declared]:
    """Rust name → its declaration: this file's, the scan's, else a legacy table's own name
    (a table declared nowhere in the tree)."""
    known = {name: Declared("diesel", name, name, "") for name in matcher.names}
    diesel = [d for d in models.declarations if d.orm == "diesel"] if models is not None else []
    for declared in diesel:
        if not declared.row and not declared.bare:
            known[declared.name] = declared
    known.update(here)
    for declared in diesel:  # an alias: the table's declaration under its name
        if declared.bare and declared.table in known:
            known[declared.name] = replace(known[declared.table], name=declared.name, bare=True)
    return known


def _tables(macro: Node, source: Source) -> Iterator[tuple[Declared, int]]:
    """Each table a `table!` invocation declares, with the offset of its name."""
    name = macro.child_by_field_name("macro")
    if name is None or source.text(name) not in ("table", "diesel::table"):
        return
    body = next((c for c in macro.children if c.type == "token_tree"), None)
    if body is None:
        return
    tokens = body.children[1:-1]
    sql_name = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "use":
            while i < len(tokens) and tokens[i].type != ";":
                i += 1
        elif token.type == "#" and i + 1 < len(tokens) and tokens[i + 1].type == "token_tree":
            sql_name = _sql_name(tokens[i + 1], source) or sql_name
            i += 1
        elif token.type == "identifier":
            schema = None
            if (
                i + 2 < len(tokens)
                and tokens[i + 1].type == "."
                and tokens[i + 2].type == "identifier"
            ):
                schema, token = source.text(token), tokens[i + 2]
                i += 2
            rust = source.text(token)
            table = sql_name or rust
            sql_name = None
            columns: tuple[tuple[str, str], ...] = ()
            # the primary key's `(…)`, then the columns' `{…}`
            while i + 1 < len(tokens) and tokens[i + 1].type == "token_tree":
                i += 1
                if tokens[i].children and tokens[i].children[0].type == "{":
                    columns = tuple(_columns(tokens[i], source))
            qualified = f"{schema}.{table}" if schema else table
            yield (
                Declared("diesel", rust, qualified, source.path, columns=columns),
                token.start_byte,
            )
        i += 1


def _columns(body: Node, source: Source) -> Iterator[tuple[str, str]]:
    """(name in code, name in the table) of each `name -> Type,` of a table's `{…}`."""
    tokens = body.children[1:-1]
    sql_name = None
    expect_name = True
    for i, token in enumerate(tokens):
        if token.type == "#" and i + 1 < len(tokens) and tokens[i + 1].type == "token_tree":
            sql_name = _sql_name(tokens[i + 1], source) or sql_name
        elif token.type == ",":
            expect_name = True
        elif expect_name and token.type == "identifier":
            if i + 1 < len(tokens) and tokens[i + 1].type == "->":
                rust = source.text(token)
                yield rust, sql_name or rust
                sql_name = None
                expect_name = False


def _module_level(macro: Node) -> bool:
    """Is MACRO written among a module's items (not in a function)?"""
    parent = macro.parent
    if parent is not None and parent.type == "expression_statement":
        parent = parent.parent
    return parent is not None and parent.type in ("source_file", "declaration_list")


def _aliases(macro: Node, source: Source) -> Iterator[tuple[str, str]]:
    """`alias!(t as t2: Shape, …)`: (each alias, the Rust name of the table it stands for)."""
    name = macro.child_by_field_name("macro")
    last = _last(name) if name is not None else None
    if last is None or source.text(last) != "alias":
        return
    body = next((c for c in macro.children if c.type == "token_tree"), None)
    tokens = body.children[1:-1] if body is not None else []
    constant = None  # `pub const NAME: Alias<…> = t as t2;`: the value is NAME
    for i in range(len(tokens) - 2):
        if tokens[i].type == "const" and tokens[i + 1].type == "identifier":
            constant = tokens[i + 1]
        if tokens[i].type == "identifier" and tokens[i + 1].type == "as":
            alias = tokens[i + 2]
            start = i  # `crate::schema::t as t2`: the path's first segment
            while start >= 2 and tokens[start - 1].type == "::":
                start -= 2
            if start > 0 and tokens[start - 1].type == "=" and constant is not None:
                alias = constant
            elif start > 0 and tokens[start - 1].type != ",":
                continue
            yield source.text(alias), source.text(tokens[i])


def _sql_name(attribute: Node, source: Source) -> str | None:
    """`#[sql_name = "t"]`'s name."""
    parts = attribute.children
    if (
        len(parts) >= 4
        and source.text(parts[1]) == "sql_name"
        and parts[3].type == "string_literal"
    ):
        content = [c for c in parts[3].children if c.type == "string_content"]
        return source.text(content[0]) if content else None
    return None


def _bare_names(
    nodes: list[Node], known: dict[str, Declared], source: Source
) -> dict[str, list[Node]]:
    """Rust names in scope as bare names (`use schema::t::dsl::*`, `dsl::{t, …}`, `dsl::t`):
    name → the scopes (block, module) the `use`s are in."""
    bare: dict[str, list[Node]] = {}
    for use in (n for n in nodes if n.type == "use_declaration"):
        scope = use.parent
        argument = use.child_by_field_name("argument")
        if argument is None or scope is None:
            continue
        for path, names in _imported(argument, source):
            parts = path.split("::")
            if len(parts) >= 2 and parts[-1] == "dsl" and parts[-2] in known:
                if names is None or parts[-2] in names:
                    bare.setdefault(parts[-2], []).append(scope)
    return bare


def _imported(argument: Node, source: Source) -> Iterator[tuple[str, set[str] | None]]:
    """(module path, the names taken from it, None for all) of a `use`'s argument."""
    if argument.type == "use_wildcard":
        path = argument.named_children[0] if argument.named_children else None
        if path is not None:
            yield source.text(path), None
    elif argument.type == "scoped_identifier":
        path, name = argument.child_by_field_name("path"), argument.child_by_field_name("name")
        if path is not None and name is not None:
            yield source.text(path), {source.text(name)}
    elif argument.type == "scoped_use_list":
        path, items = argument.child_by_field_name("path"), argument.child_by_field_name("list")
        if path is None or items is None:
            return
        prefix = source.text(path)
        names = set()
        for item in items.named_children:
            if item.type == "identifier":
                names.add(source.text(item))
            elif item.type in ("use_wildcard", "scoped_identifier", "scoped_use_list"):
                for sub, subnames in _imported(item, source):
                    yield f"{prefix}::{sub}", subnames
        if names:
            yield prefix, names


def _path_use(node: Node, known: dict[str, Declared], source: Source) -> tuple[Node, str] | None:
    """`t::table` or `t::dsl::t` (any prefix): (the node of `t`, t)."""
    path, name = node.child_by_field_name("path"), node.child_by_field_name("name")
    if path is None or name is None:
        return None
    last = _last(path)
    if last is None:
        return None
    method, module = source.text(name), source.text(last)
    if method == "table" and module in known:
        return last, module
    if module == "dsl" and method in known:
        inner = last.parent.child_by_field_name("path") if last.parent is not None else None
        if inner is not None and source.text(_last(inner) or inner) == method:
            return name, method
    return None


def _column(node: Node, known: dict[str, Declared], source: Source) -> tuple[str, str] | None:
    """`t::column` (`t::dsl::column`): (t, column)."""
    path, name = node.child_by_field_name("path"), node.child_by_field_name("name")
    if path is None or name is None or node.parent is None:
        return None
    if node.parent.type == "scoped_identifier" and node.parent.child_by_field_name("path") == node:
        return None  # a prefix of a longer path
    last = _last(path)
    if last is None:
        return None
    module = source.text(last)
    if module == "dsl" and last.parent is not None:
        inner = last.parent.child_by_field_name("path")
        module = source.text(_last(inner)) if inner is not None and _last(inner) else module
    column = source.text(name)
    if module in known and column not in NOT_COLUMNS and column != module:
        return module, column
    return None


def _last(path: Node) -> Node | None:
    """The last segment of a path (`schema::t` → `t`)."""
    if path.type == "identifier":
        return path
    if path.type == "scoped_identifier":
        return path.child_by_field_name("name")
    return None


def statement_of(node: Node) -> Node:
    """The statement NODE is part of."""
    current = node
    while current.parent is not None and current.parent.type not in STATEMENT:
        current = current.parent
    return current


def _operation(node: Node, statement: Node, source: Source) -> str:
    """What the statement does to the table at NODE: the diesel function it is the target of
    (the receiver of a chain given to `update(…)`), else a read."""
    current = node
    while current.parent is not None and current.parent.type == "scoped_identifier":
        current = current.parent  # `t` of `t::table`: the path
    while current is not statement and current.parent is not None:
        parent = current.parent
        if parent.type == "field_expression" and parent.child_by_field_name("value") == current:
            current = parent
            continue
        if parent.type == "call_expression" and parent.child_by_field_name("function") == current:
            current = parent
            continue
        if parent.type in ("generic_function", "try_expression", "await_expression",
                           "reference_expression", "parenthesized_expression"):  # fmt: skip
            current = parent
            continue
        if parent.type == "arguments" and parent.parent is not None:
            call = parent.parent
            function = call.child_by_field_name("function")
            if function is not None and function.type == "generic_function":
                function = function.child_by_field_name("function")
            write = _write(function, source) if function is not None else None
            if write is not None and parent.named_children[:1] == [current]:
                if write == "insert":
                    return _insert(call, statement, source)
                return write
        break  # anywhere else (a filter's argument, a subquery): read
    return "select"


def _write(function: Node, source: Source) -> str | None:
    """`insert_into`, `diesel::update`, …: the write it starts (not a method `.update(…)`)."""
    if function.type == "identifier":
        return WRITES.get(source.text(function))
    if function.type == "scoped_identifier":
        name = function.child_by_field_name("name")
        return WRITES.get(source.text(name)) if name is not None else None
    return None


def _insert(call: Node, statement: Node, source: Source) -> str:
    """`insert_into(t)…` with `.on_conflict(…)` / `.on_conflict_do_nothing()` up its chain:
    an upsert (`on_constraint(…)`: on a constraint)."""
    current = call
    while current is not statement and current.parent is not None:
        parent = current.parent
        if parent.type == "field_expression" and parent.child_by_field_name("value") == current:
            field = parent.child_by_field_name("field")
            method = source.text(field) if field is not None else ""
            if method == "on_conflict_do_nothing":
                return "upsert"
            if method == "on_conflict":
                call_node = parent.parent
                arguments = call_node.child_by_field_name("arguments") if call_node else None
                if arguments is not None and b"on_constraint" in (arguments.text or b""):
                    return "upsert-on-constraint"
                return "upsert"
        elif parent.type not in ("call_expression", "generic_function", "try_expression",
                                 "await_expression"):  # fmt: skip
            break
        current = parent
    return "insert"


def _in_scope(node: Node, scopes: list[Node], bound: dict[tuple[int, int], set[bytes]]) -> bool:
    """Is NODE inside one of SCOPES and not where a local binding of its name shadows the
    table? (BOUND: the names each function binds, filled as functions are met.)"""
    if not any(scope.start_byte <= node.start_byte < scope.end_byte for scope in scopes):
        return False
    function = node.parent
    while function is not None and function.type not in ("function_item", "closure_expression"):
        function = function.parent
    if function is None:
        return True
    key = (function.start_byte, function.end_byte)
    if key not in bound:
        bound[key] = _bound_names(function)
    return node.text not in bound[key]


def _bound_names(function: Node) -> set[bytes]:
    """The names FUNCTION binds itself (parameters, `let`s, `for` and closure patterns)."""
    names = set()
    stack = [function]
    while stack:
        node = stack.pop()
        if node.type in PATTERNS:
            pattern = node.child_by_field_name("pattern")
            targets: Iterable[Node] = [pattern] if pattern is not None else node.named_children
            names.update(t.text for t in targets if t.type == "identifier" and t.text)
        stack.extend(node.named_children)
    return names


def _selector(node: Node, source: Source) -> bool:
    """`alias.field(t::c)` / `alias.fields(…)`: a column of the alias, not another use of it."""
    parent = node.parent
    field = parent.child_by_field_name("field") if parent is not None else None
    return field is not None and source.text(field) in ("field", "fields")


def _receiver(node: Node) -> bool:
    """A bare column as an argument or receiver in any expression: `id.eq(x)`, `(id, name)`."""
    parent = node.parent
    return parent is not None and parent.type in ("tuple_expression", "binary_expression")


def _value(node: Node) -> bool:
    """Is a bare name used as a value (`t.filter(…)`, `update(t)`, `&t`), not a pattern,
    field, type or path segment?"""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "field_expression":
        return parent.child_by_field_name("value") == node
    if parent.type == "let_declaration":
        return parent.child_by_field_name("value") == node
    return parent.type in VALUE_PARENTS


def _model(attribute: Node, known: dict[str, Declared], found: Found, matcher: TableMatcher,
           source: Source) -> None:  # fmt: skip
    """`#[diesel(table_name = t)]` / `#[table_name = "t"]` on a struct: a model of t;
    `#[diesel(base_query = t::table.inner_join(u::table))]` (a `HasQuery` struct): reads of
    t and u."""
    inner = attribute.named_children[0] if attribute.named_children else None
    if inner is None or inner.type != "attribute" or not inner.named_children:
        return
    head = source.text(inner.named_children[0])
    target: Node | None = None
    arguments = inner.child_by_field_name("arguments")
    if head == "cfg_attr" and arguments is not None:  # `#[cfg_attr(feature = "full", diesel(…))]`
        kids = arguments.children
        for i, kid in enumerate(kids[:-1]):
            if source.text(kid) == "diesel" and kids[i + 1].type == "token_tree":
                head, arguments = "diesel", kids[i + 1]
                break
    if head == "diesel":
        tokens = arguments.children if arguments is not None else []
        for i, token in enumerate(tokens[:-2]):
            if source.text(token) == "table_name" and tokens[i + 1].type == "=":
                target = tokens[i + 2]
                # a path: `crate::schema::t` is `t`
                j = i + 2
                while j + 2 < len(tokens) and tokens[j + 1].type == "::":
                    j += 2
                    target = tokens[j]
            if source.text(token) == "base_query" and tokens[i + 1].type == "=":
                _base_query(list(leaves(arguments)), known, found, matcher, source)
    elif head == "table_name":
        value = inner.child_by_field_name("value")
        if value is not None and value.type == "string_literal":
            target = next((c for c in value.children if c.type == "string_content"), None)
    if target is None:
        return
    name = source.text(target)
    table = matcher.match_text(known[name].table) if name in known else None
    if table is not None:
        found.reference(target.start_byte, table, "model", (), "diesel")


def _base_query(tokens: list[Node], known: dict[str, Declared], found: Found,
                matcher: TableMatcher, source: Source) -> None:  # fmt: skip
    """The `t::table` paths of a base query's tokens, each a read with the `t::column` paths
    of the query as its columns."""
    paths = [
        (tokens[i], source.text(tokens[i]), source.text(tokens[i + 2]))
        for i in range(len(tokens) - 2)
        if tokens[i].type == "identifier" and tokens[i + 1].type == "::"
        and tokens[i + 2].type == "identifier" and source.text(tokens[i]) in known
    ]  # fmt: skip
    for node, name, member in paths:
        table = matcher.match_text(known[name].table)
        if member != "table" or table is None:
            continue
        renamed = dict(known[name].columns)
        used = {renamed.get(c, c) for _, n, c in paths if n == name and c not in NOT_COLUMNS}
        found.reference(node.start_byte, table, "select", used, "diesel")


def leaves(node: Node) -> Iterator[Node]:
    """The tokens under NODE (a token tree, an attribute), in order; a string is one."""
    for child in node.children:
        if child.children and child.type != "string_literal":
            yield from leaves(child)
        else:
            yield child


# derives that map a struct to a table (by `table_name`, else the struct's name in snake case
# with an `s`, as diesel infers it)
TABLE_DERIVES = frozenset(("Identifiable", "AsChangeset", "Insertable", "Selectable", "Queryable"))


def _rows(nodes: list[Node], known: dict[str, Declared], matcher: TableMatcher, source: Source,
          found: Found, models: Models | None) -> dict[str, Declared]:  # fmt: skip
    """Structs whose values are rows of a table, by name, with the table's declaration: the
    scan's and this file's (recorded for the others, with the table's Rust name)."""
    rows = {}
    for declared in models.declarations if models is not None else ():
        if declared.orm == "diesel" and declared.row and declared.table in known:
            rows[declared.name] = known[declared.table]
    for struct in (n for n in nodes if n.type == "struct_item"):
        name = struct.child_by_field_name("name")
        if name is None:
            continue
        derives, table = set(), None
        sibling = struct.prev_named_sibling
        while sibling is not None and sibling.type in ("attribute_item", "line_comment"):
            if sibling.type == "attribute_item":
                text = source.text(sibling)
                tokens = [source.text(t) for t in leaves(sibling) if t.type == "identifier"]
                if "derive" in tokens:  # also in a `cfg_attr(feature = "full", derive(…))`
                    derives.update(tokens[tokens.index("derive") + 1 :])
                if "table_name" in tokens:
                    table = _table_name(sibling, source) or table
                elif text.startswith("#[table_name"):
                    table = _table_name(sibling, source) or table
            sibling = sibling.prev_named_sibling
        if not derives & TABLE_DERIVES and table is None:
            continue
        struct_name = source.text(name)
        inferred = table is None
        table = table or _snake(struct_name) + "s"
        found.record(Declared("diesel", struct_name, table, source.path, row=True))
        if table in known:
            rows[struct_name] = known[table]
            legacy = matcher.match_text(known[table].table)
            if inferred and legacy is not None:  # a model, as one naming its table is
                found.reference(name.start_byte, legacy, "model", (), "diesel")
    return rows


def _table_name(attribute: Node, source: Source) -> str | None:
    """The table's Rust name in `#[diesel(table_name = a::t)]` or `#[table_name = "t"]`."""
    tokens = list(leaves(attribute))
    for i, token in enumerate(tokens[:-2]):
        if source.text(token) == "table_name" and tokens[i + 1].type == "=":
            value = tokens[i + 2]
            if value.type == "string_literal":
                content = [c for c in value.children if c.type == "string_content"]
                return source.text(content[0]) if content else None
            j = i + 2
            while j + 2 < len(tokens) and tokens[j + 1].type == "::":
                j += 2
            return source.text(tokens[j])
    return None


def _snake(name: str) -> str:
    """`CrateOwner` → `crate_owner`."""
    return "".join(
        ("_" if i and char.isupper() and not name[i - 1].isupper() else "") + char.lower()
        for i, char in enumerate(name)
    )


def _row_writes(nodes: list[Node], rows: dict[str, Declared], found: Found,
                matcher: TableMatcher, source: Source, columns: dict[int, dict[str, set[str]]],
                known: dict[str, Declared]) -> None:  # fmt: skip
    """A row written through its struct: `diesel::update(&row)`, `diesel::delete(row)`,
    `row.save_changes(conn)` (an update), where the row is `self` of the struct's `impl`, or a
    parameter, `let` or query result typed as the struct; or an `update(&row)` whose `.set(…)`
    names the table's columns (`t::col.eq(…)`: diesel takes only the target's)."""
    bindings: dict[tuple[int, int], dict[str, Node]] = {}
    for node in nodes:
        if node.type not in ("identifier", "self"):
            continue
        operation = _row_operation(node, source)
        if operation is None:
            continue
        struct = _type_of(node, source, bindings)
        declared = rows.get(struct) if struct is not None else None
        if declared is None and operation == "update":
            declared = _set_table(node, known, source)
        table = matcher.match_text(declared.table) if declared is not None else None
        if table is not None:
            used = columns.get(statement_of(node).start_byte, {}).get(declared.table, set())
            found.reference(node.start_byte, table, operation, used, "diesel")


def _row_operation(node: Node, source: Source) -> str | None:
    """What is done to the row NODE names: the first argument of `update(…)` / `delete(…)`
    (`&row`, `&*self`), or the receiver of `.save_changes(…)`."""
    current = node
    while current.parent is not None and current.parent.type in (
        "reference_expression", "unary_expression", "parenthesized_expression",
    ):  # fmt: skip
        current = current.parent
    parent = current.parent
    if parent is None:
        return None
    if parent.type == "arguments" and parent.named_children[:1] == [current]:
        call = parent.parent
        function = call.child_by_field_name("function") if call is not None else None
        write = _write(function, source) if function is not None else None
        return write if write in ("update", "delete") else None
    if parent.type == "field_expression" and parent.child_by_field_name("value") == current:
        field = parent.child_by_field_name("field")
        if field is not None and source.text(field) == "save_changes":
            return "update"
    return None


def _set_table(node: Node, known: dict[str, Declared], source: Source) -> Declared | None:
    """The table of the `t::col` paths in the `.set(…)` of the chain `update(NODE)` starts."""
    call = node.parent
    while call is not None and call.type != "call_expression":
        call = call.parent
    current = call
    while current is not None and current.parent is not None:
        parent = current.parent
        if parent.type == "field_expression" and parent.child_by_field_name("value") == current:
            field = parent.child_by_field_name("field")
            arguments = parent.parent.child_by_field_name("arguments") if parent.parent else None
            if field is not None and source.text(field) == "set" and arguments is not None:
                tables = {
                    module for path in _paths(arguments)
                    if (module := source.text(path).split("::")[-2]) in known
                }  # fmt: skip
                return known[tables.pop()] if len(tables) == 1 else None
        elif parent.type not in ("call_expression", "generic_function"):
            return None
        current = parent
    return None


def _paths(node: Node) -> Iterator[Node]:
    """The `a::b` paths under NODE."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "scoped_identifier":
            yield current
        else:
            stack.extend(current.named_children)


def _type_of(
    node: Node, source: Source, bindings: dict[tuple[int, int], dict[str, Node]]
) -> str | None:
    """The struct a name's value is, as far as its function shows: `self` in an `impl T`, a
    parameter `x: &T`, `let x: T`, `let x = ….first::<T>(conn)`, `let x = T { … }`
    (BINDINGS: each function's, collected once)."""
    name = source.text(node)
    scope = node.parent
    while scope is not None and scope.type not in ("function_item", "closure_expression"):
        scope = scope.parent
    if name == "self" or node.type == "self":
        impl = scope
        while impl is not None and impl.type != "impl_item":
            impl = impl.parent
        return _type_name(impl.child_by_field_name("type"), source) if impl is not None else None
    if scope is None:
        return None
    key = (scope.start_byte, scope.end_byte)
    if key not in bindings:  # the function's parameters and `let`s, the first of each name
        bindings[key] = {}
        stack = [scope]
        while stack:
            current = stack.pop()
            if current.type in ("parameter", "let_declaration"):
                pattern = current.child_by_field_name("pattern")
                if pattern is not None and pattern.type == "mut_pattern" and pattern.named_children:
                    pattern = pattern.named_children[0]
                if pattern is not None and pattern.type == "identifier":
                    bindings[key].setdefault(source.text(pattern), current)
            stack.extend(reversed(current.named_children))
    current = bindings[key].get(name)
    if current is None:
        return None
    declared = _type_name(current.child_by_field_name("type"), source)
    if declared is None and current.type == "let_declaration":
        declared = _value_type(current.child_by_field_name("value"), source)
    return declared


def _type_name(node: Node | None, source: Source) -> str | None:
    """`&mut a::T` → `T`."""
    while node is not None and node.type in ("reference_type", "generic_type"):
        node = node.child_by_field_name("type")
    if node is None:
        return None
    if node.type == "scoped_type_identifier":
        node = node.child_by_field_name("name")
    return source.text(node) if node is not None and node.type == "type_identifier" else None


def _value_type(value: Node | None, source: Source) -> str | None:
    """The struct a `let`'s value builds or a query's turbofish names (`first::<T>`)."""
    if value is None:
        return None
    stack = [value]
    while stack:
        current = stack.pop()
        if current.type == "struct_expression":
            return _type_name(current.child_by_field_name("name"), source)
        if current.type == "generic_function":
            arguments = current.child_by_field_name("type_arguments")
            if arguments is not None and arguments.named_children:
                return _type_name(arguments.named_children[0], source)
        stack.extend(reversed(current.named_children))
    return None


def _traits(nodes: list[Node], found: Found, source: Source) -> None:
    """Record a trait's default methods running a statement on `Self::table()` (a `Crud`
    trait's `read`, `delete`), and each `impl Trait for T` with the methods T defines itself."""
    for node in nodes:
        if node.type == "trait_item":
            name, body = node.child_by_field_name("name"), node.child_by_field_name("body")
            for method in body.named_children if body is not None and name is not None else ():
                method_name = method.child_by_field_name("name")
                if method.type != "function_item" or method_name is None:
                    continue
                for operation in sorted(_self_table_operations(method, source)):
                    found.record(TraitMethod(source.text(name), source.text(method_name),
                                             operation, source.path))  # fmt: skip
        elif node.type == "impl_item":
            trait, struct = node.child_by_field_name("trait"), node.child_by_field_name("type")
            body = node.child_by_field_name("body")
            if trait is None or struct is None or body is None:
                continue
            own = tuple(sorted(
                source.text(f.child_by_field_name("name"))
                for f in body.named_children
                if f.type == "function_item" and f.child_by_field_name("name") is not None
            ))  # fmt: skip
            trait_name, struct_name = _type_name(trait, source), _type_name(struct, source)
            if trait_name and struct_name:
                found.record(TraitImpl(trait_name, struct_name, own, source.path))


def _self_table_operations(method: Node, source: Source) -> set[str]:
    """What METHOD does to `Self::table()` (`diesel::delete(Self::table().find(id))`)."""
    operations = set()
    stack = [method]
    while stack:
        node = stack.pop()
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            text = source.text(function) if function is not None else ""
            if text == "Self::table" or (
                text.startswith("<Self as ") and text.endswith(">::table")
            ):
                operations.add(_operation(node, statement_of(node), source))
        stack.extend(node.named_children)
    return operations


def _trait_calls(nodes: list[Node], rows: dict[str, Declared], models: Models, found: Found,
                 matcher: TableMatcher, source: Source) -> None:  # fmt: skip
    """`T::read(pool, id)`: a default method of a trait T implements (not defining it itself)
    run on T's table."""
    for node in nodes:
        if node.type != "call_expression":
            continue
        function = node.child_by_field_name("function")
        if function is None or function.type != "scoped_identifier":
            continue
        path, name = function.child_by_field_name("path"), function.child_by_field_name("name")
        if path is None or name is None or source.text(path) not in rows:
            continue
        struct, method = source.text(path), source.text(name)
        table = matcher.match_text(rows[struct].table)
        if table is None:
            continue
        for impl in models.trait_impls.get(struct, ()):
            operation = models.trait_methods.get((impl.trait, method))
            if operation is not None and method not in impl.own:
                found.reference(path.start_byte, table, operation, (), "diesel")
                break
