"""diesel's query DSL in Rust: tables declared by `table!`, used through their modules.

`diesel::table! { #[sql_name = "posted_decisions"] decisions (id) { id -> Int4, … } }` declares
a module `decisions` for the table `posted_decisions` (the Rust name is the table's unless
`sql_name` says otherwise; `schema.name` puts it in a schema). Code reaches the table as
`decisions::table`, as `decisions::dsl::decisions`, or as a bare `decisions` where
`use …::decisions::dsl::*` (or `dsl::{decisions, …}`) brings it into scope. Each such use is a
reference; its operation is the diesel function the table is the target of (`insert_into(t)`,
`update(t.filter(…))`, `delete(t.find(id))`; `insert_into(…).on_conflict(…)` an upsert), else a
read (a query, a join, a subquery). Its columns are the `t::column` paths of the same statement.
A struct mapped to the table (`#[diesel(table_name = decisions)]`, diesel 1's `#[table_name =
"decisions"]`) is a reference with operation `model`, as an ORM's model class is.

A declaration is kept for the other files when it maps a legacy table or its Rust name is a
legacy table's (so that one renamed away is not taken for it); without any declaration in the
scanned tree, `t::table` of a legacy table's name is that table. Not read: a model instance
written (`diesel::update(&row)`, `row.save_changes(conn)`), `alias!`es, columns brought in by
`dsl::*` (their paths are read), a column's `sql_name`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache

from tree_sitter import Language, Node, Parser, Range, Tree

from migverify.scan.found import Found
from migverify.scan.orm import Declared, Models, nodes_of
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
    "table", "joinable", "allow_tables_to_appear_in_same_query", "allow_columns_to_appear_in_same_group_by_clause",
    "sql_function", "define_sql_function", "declare_sql_function", "alias",
))  # fmt: skip
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
)  # fmt: skip


def scan_diesel(tree: Tree, source: Source, found: Found, matcher: TableMatcher,
                models: Models | None) -> None:  # fmt: skip
    """References to legacy tables through diesel's DSL in one Rust file."""
    if b"table" not in source.data and b"dsl" not in source.data:
        return  # `table!`, `t::table`, `table_name`, `t::dsl`: no diesel here
    nodes = nodes_of(tree, KINDS)
    here: dict[str, Declared] = {}
    for macro in (n for n in nodes if n.type == "macro_invocation"):
        for declared, at in _tables(macro, source):
            if matcher.match_text(declared.table) or matcher.match_text(declared.name):
                found.declaration(at, declared, matcher, "diesel")
                here[declared.name] = declared
    known = _known(here, matcher, models)
    nodes += _in_macros(nodes, known, source)
    bare = _bare_names(nodes, known, source)
    bare_columns = {
        rust: name for name in bare for rust, _ in known[name].columns
    }  # a column of a table in scope as a bare name, and that table
    for attribute in (n for n in nodes if n.type == "attribute_item"):
        _model(attribute, known, found, matcher, source)
    uses: list[tuple[Node, str]] = []  # (the name's node, the Rust name)
    columns: dict[int, dict[str, set[str]]] = {}  # statement → Rust table name → columns

    def column(node: Node, name: str, rust: str) -> None:
        statement = _statement(node).start_byte
        sql = dict(known[name].columns).get(rust, rust)
        columns.setdefault(statement, {}).setdefault(name, set()).add(sql)

    for node in nodes:
        if node.type == "scoped_identifier":
            use = _path_use(node, known, source)
            if use is not None:
                uses.append(use)
            elif (path_column := _column(node, known, source)) is not None:
                column(node, *path_column)
        elif node.type == "identifier" and bare:
            name = source.text(node)
            if name in bare and _in_scope(node, bare[name]) and _value(node):
                uses.append((node, name))
            elif name in bare_columns and _in_scope(node, bare[bare_columns[name]]):
                if _value(node) or _receiver(node):
                    column(node, bare_columns[name], name)
    for node, name in uses:
        table = matcher.match_text(known[name].table)
        if table is None:
            continue
        statement = _statement(node)
        used = columns.get(statement.start_byte, {}).get(name, set())
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
    if models is not None:
        for declared in models.declarations:
            if declared.orm == "diesel":
                known[declared.name] = declared
    known.update(here)
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


def _bare_names(nodes: list[Node], known: dict[str, Declared], source: Source) -> dict[str, Node]:
    """Rust names in scope as bare names (`use schema::t::dsl::*`, `dsl::{t, …}`, `dsl::t`):
    name → the scope the `use` is in."""
    bare: dict[str, Node] = {}
    for use in (n for n in nodes if n.type == "use_declaration"):
        scope = use.parent
        argument = use.child_by_field_name("argument")
        if argument is None or scope is None:
            continue
        for path, names in _imported(argument, source):
            parts = path.split("::")
            if len(parts) >= 2 and parts[-1] == "dsl" and parts[-2] in known:
                if names is None or parts[-2] in names:
                    bare[parts[-2]] = scope
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
            elif item.type == "self":
                pass
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


def _statement(node: Node) -> Node:
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


def _in_scope(node: Node, scope: Node) -> bool:
    """Is NODE inside SCOPE and not where a local binding of its name shadows the table?"""
    if not (scope.start_byte <= node.start_byte < scope.end_byte):
        return False
    name = node.text
    function = node.parent
    while function is not None and function.type not in ("function_item", "closure_expression"):
        function = function.parent
    return function is None or not _binds(function, name)


def _binds(function: Node, name: bytes | None) -> bool:
    """Does FUNCTION bind NAME itself (a parameter, `let`, a `for` or closure pattern)?"""
    stack = [function]
    while stack:
        node = stack.pop()
        if node.type in PATTERNS:
            pattern = node.child_by_field_name("pattern")
            targets: Iterable[Node] = [pattern] if pattern is not None else node.named_children
            for target in targets:
                if target.type == "identifier" and target.text == name:
                    return True
        stack.extend(node.named_children)
    return False


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
    if head == "diesel":
        arguments = inner.child_by_field_name("arguments")
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
                _base_query(list(_leaves(arguments)), known, found, matcher, source)
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


def _leaves(node: Node) -> Iterator[Node]:
    """The tokens of a token tree, nested ones included, in order."""
    for child in node.children:
        if child.type == "token_tree":
            yield from _leaves(child)
        else:
            yield child
