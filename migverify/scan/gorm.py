"""GORM in Go: the table a chain `db.Where(…).First(&user)` runs on.

A chain ends in one of GORM's finishers (`First`, `Find`, `Create`, `Save`, `Updates`,
`Delete`, …: OPERATIONS) and names its table with `Table("t")`, with `Model(&User{})`, or by the
value the finisher reads into or writes (`First(&u)` where `u := User{}`, `var u User`, a
parameter `u *User`, `[]User`, `&User{…}`). A struct's table is what its `TableName()` method
returns (a string literal), else GORM's default: the name in snake case (initialisms kept
whole: `APIKey` → `api_key`) made plural (`User` → `users`, `Person` → `people`). A call is a
chain of GORM's only when something says so: a method only GORM's `*DB` has in it (`Where`,
`Preload`, `Model`, `Table`, …), its `.Error` / `.RowsAffected` read, or a receiver named
`db` or `tx`; so `cache.Delete(user)` is not a delete of `users`. `Clauses(clause.OnConflict{…})`
makes a `Create` an upsert; `Save` inserts or updates (both); `FirstOrCreate` reads, then may
insert. Columns: `Update("col", v)`, `Pluck("col", …)`, `Select("a, b")` given as names.

`TableName()` overrides are declarations kept for the other files (those returning a legacy
table); a struct's default name needs none. Not read: a value whose type only a function's
result shows, a field's (`Find(&c.Template)`), `db.Scopes(…)` building the table elsewhere,
gorm.io/gen's generated query objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node, Tree

from migverify.scan.found import Found
from migverify.scan.orm import Declared, Models, nodes_of, nodes_under
from migverify.scan.sequelize import plural
from migverify.scan.source import Source
from migverify.scan.tables import TableMatcher

OPERATIONS = {
    "First": ("select",), "Last": ("select",), "Take": ("select",), "Find": ("select",),
    "FindInBatches": ("select",), "Scan": ("select",), "Count": ("select",),
    "Pluck": ("select",), "Rows": ("select",), "Row": ("select",), "FirstOrInit": ("select",),
    "FirstOrCreate": ("select", "insert"), "Create": ("insert",), "CreateInBatches": ("insert",),
    "Save": ("insert", "update"), "Update": ("update",), "Updates": ("update",),
    "UpdateColumn": ("update",), "UpdateColumns": ("update",), "Delete": ("delete",),
}  # fmt: skip
# finishers whose first argument is the model's value (Scan's is any struct: not its table)
VALUED = frozenset(OPERATIONS) - {"Scan", "Count", "Pluck", "Rows", "Row", "Update",
                                  "UpdateColumn"}  # fmt: skip
# methods only GORM's *DB has among the calls of a chain
GORM_ONLY = frozenset((
    "Where", "Preload", "Model", "Table", "Joins", "Unscoped", "Clauses", "Omit", "Association",
    "Scopes", "Session", "WithContext", "Debug", "Not", "Or", "Order", "Limit", "Offset",
    "Select", "Group", "Having", "Distinct", "InnerJoins", "Attrs", "Assign",
))  # fmt: skip
MAX_CHAIN = 64  # calls followed down a chain (through the variables holding its parts)
RECEIVER = re.compile(r"(?i)(?:^|[._])(?:db|tx|gormdb|orm)$")
_INITIALISMS = re.compile(r"([A-Z]+)([A-Z][a-z])|([a-z0-9])([A-Z])")


def table_of(struct: str) -> str:
    """GORM's default table of a struct: snake case (`APIKey` → `api_key`), plural."""
    snake = _INITIALISMS.sub(lambda m: f"{m[1]}_{m[2]}" if m[1] else f"{m[3]}_{m[4]}", struct)
    return plural(snake.lower())


def scan_gorm(tree: Tree, source: Source, found: Found, matcher: TableMatcher,
              models: Models | None) -> None:  # fmt: skip
    """References through GORM in one Go file."""
    nodes = nodes_of(tree, ("method_declaration", "call_expression"))
    named: dict[str, str] = {}  # struct → its TableName()
    for method in (n for n in nodes if n.type == "method_declaration"):
        override = _table_name(method, source)
        if override is not None:
            struct, table, at = override
            named[struct] = table
            # kept when it names a legacy table, or when the default it replaces is one
            if matcher.match_text(table) or matcher.match_text(table_of(struct)):
                found.declaration(at, Declared("gorm", struct, table, source.path), matcher)
    if models is not None:
        for declared in models.declarations:
            if declared.orm == "gorm":
                named.setdefault(declared.name, declared.table)
    code = GoCode(tree, source)
    for call in (n for n in nodes if n.type == "call_expression"):
        method = _method(call, source)
        if method not in OPERATIONS or _inner(call, source):
            continue
        chain = list(code.chain(call))
        if not _gorm(call, chain, source):
            continue
        table, at = _table(call, chain, named, code)
        matched = matcher.match_text(table) if table is not None else None
        if matched is None or at is None:
            continue
        operations = OPERATIONS[method]
        if method == "Create" and any(name == "Clauses" and b"OnConflict" in (args.text or b"")
                                      for name, args in chain):  # fmt: skip
            operations = ("upsert",)
        columns = _columns(call, chain, source)
        for operation in operations:
            found.reference(at, matched, operation, columns, "gorm")


def _table_name(method: Node, source: Source) -> tuple[str, str, int] | None:
    """`func (s SMTP) TableName() string { return "smtp" }`: (struct, table, offset)."""
    name = method.child_by_field_name("name")
    receiver = method.child_by_field_name("receiver")
    body = method.child_by_field_name("body")
    if name is None or source.text(name) != "TableName" or receiver is None or body is None:
        return None
    declared = next((c for c in receiver.named_children if c.type == "parameter_declaration"), None)
    struct = _type_name(declared.child_by_field_name("type"), source) if declared else None
    returns = nodes_under(body, ("return_statement",))
    if struct is None or len(returns) != 1 or not returns[0].named_children:
        return None
    values = returns[0].named_children[0]
    literal = values.named_children[0] if values.named_children else None
    content = _literal(literal, source) if literal is not None else None
    if content is None:
        return None
    return struct, content[0], content[1]


def _descendants(node: Node) -> Iterator[Node]:
    """NODE and every node under it."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.named_children)


def _literal(node: Node, source: Source) -> tuple[str, int] | None:
    """A Go string literal's text and the offset of its first character."""
    if node.type not in ("interpreted_string_literal", "raw_string_literal"):
        return None
    content = [c for c in node.children if c.type.endswith("_content")]
    if len(content) != 1:
        return None
    return source.text(content[0]), content[0].start_byte


def _method(call: Node, source: Source) -> str | None:
    """The method a call calls (`x.First(…)` → `First`)."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    field = function.child_by_field_name("field")
    return source.text(field) if field is not None else None


def _inner(call: Node, source: Source) -> bool:
    """Is CALL the receiver of a later finisher (`Where(…).Find(…).Count(…)`: the last counts)?"""
    parent = call.parent
    if parent is None or parent.type != "selector_expression":
        return False
    outer = parent.parent
    return (
        outer is not None
        and outer.type == "call_expression"
        and _method(outer, source) in OPERATIONS
    )


class GoCode:
    """One Go file read for names' types: each function's declarations and assignments, and
    the file's structs' fields, indexed once (a file with thousands of chains in one function
    would otherwise walk that function for each of them)."""

    def __init__(self, tree: Tree, source: Source) -> None:
        self.tree = tree
        self.source = source
        # function (its span) → name → [(declared or assigned, end of the statement, node)]
        self._functions: dict[tuple[int, int], dict[str, list[tuple[str, int, Node]]]] = {}
        self._fields: dict[tuple[str, str], Node] | None = None  # (struct, field) → its type

    def chain(self, call: Node) -> Iterator[tuple[str, Node]]:
        """(method, arguments) of the calls before CALL in its chain, nearest first; the
        receiver at its root last, as ("", node)."""
        source = self.source
        function = call.child_by_field_name("function")
        receiver = function.child_by_field_name("operand") if function is not None else None
        for _ in range(MAX_CHAIN):
            if receiver is None:
                return
            if receiver.type == "call_expression":
                name = _method(receiver, source)
                arguments = receiver.child_by_field_name("arguments")
                if name is None or arguments is None:
                    yield "", receiver
                    return
                yield name, arguments
                inner = receiver.child_by_field_name("function")
                receiver = inner.child_by_field_name("operand") if inner is not None else None
            elif receiver.type == "identifier" and (held := self._held_chain(receiver)):
                receiver = held  # `query := db.Table("t").Where(…)`, then `query.Count(&n)`
            else:
                yield "", receiver
                return

    def _held_chain(self, name: Node) -> Node | None:
        """The call a variable was last given before NAME, when it is a chain of calls
        (`query := db.Table("results")…`)."""
        value = self.assigned(name, self.source.text(name))
        return value if value is not None and value.type == "call_expression" else None

    def value_type(self, node: Node) -> str | None:
        """The struct a value is: `&User{}`, `&u` / `u` with `u := User{}`, `var u User`, a
        parameter `u *User`, `[]User`, `new(User)`, `ms[i]`, a field `s.Headers`."""
        source = self.source
        while node.type in ("unary_expression", "parenthesized_expression"):
            inner = node.child_by_field_name("operand") or (
                node.named_children[0] if node.named_children else None
            )
            if inner is None:
                return None
            node = inner
        if node.type == "composite_literal":
            return _type_name(node.child_by_field_name("type"), source)
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if function is None or source.text(function) != "new" or arguments is None:
                return None
            first = arguments.named_children[0] if arguments.named_children else None
            return _type_name(first, source)
        if node.type == "index_expression":  # `ms[i]`: an element of a slice
            operand = node.child_by_field_name("operand")
            return self.value_type(operand) if operand is not None else None
        if node.type == "selector_expression":  # `s.Headers`: the field's type
            operand, field = node.child_by_field_name("operand"), node.child_by_field_name("field")
            owner = self.value_type(operand) if operand is not None else None
            if owner is None or field is None:
                return None
            return self.field_type(owner, source.text(field))
        if node.type != "identifier":
            return None
        return self.declared_type(node, source.text(node))

    def field_type(self, struct: str, field: str) -> str | None:
        """The type of FIELD in the struct STRUCT declared in this file."""
        if self._fields is None:
            self._fields = {}
            for spec in nodes_of(self.tree, ("type_spec",)):
                name, body = spec.child_by_field_name("name"), spec.child_by_field_name("type")
                if name is None or body is None:
                    continue
                for declaration in nodes_under(body, ("field_declaration",)):
                    declared = declaration.child_by_field_name("type")
                    for field_name in declaration.children_by_field_name("name"):
                        if declared is not None:
                            key = (self.source.text(name), self.source.text(field_name))
                            self._fields.setdefault(key, declared)
        declared = self._fields.get((struct, field))
        return _type_name(declared, self.source) if declared is not None else None

    def declared_type(self, node: Node, name: str) -> str | None:
        """The type NAME is declared with in the function around NODE."""
        entries = self._names(node).get(name, [])
        declarations = [e for e in entries if e[0] == "declared"]
        if declarations:
            current = min(declarations, key=lambda e: e[2].start_byte)[2]
            declared = current.child_by_field_name("type")
            if declared is not None:
                return _type_name(declared, self.source)
            value = current.child_by_field_name("value")
            first = value.named_children[0] if value and value.named_children else None
            return self.value_type(first) if first is not None else None
        value = self.assigned(node, name)
        if value is None or value.type == "identifier":
            return None
        return self.value_type(value)

    def assigned(self, node: Node, name: str) -> Node | None:
        """The value NAME was last given (`name := …`, `name = …`) before NODE in its
        function (not by an assignment NODE is part of: `q = q.Where(…)`)."""
        values = [
            value for kind, end, value in self._names(node).get(name, [])
            if kind == "assigned" and end <= node.start_byte
        ]  # fmt: skip
        return max(values, key=lambda value: value.start_byte) if values else None

    def _names(self, node: Node) -> dict[str, list[tuple[str, int, Node]]]:
        function = _function(node)
        if function is None:
            return {}
        key = (function.start_byte, function.end_byte)
        if key not in self._functions:
            names: dict[str, list[tuple[str, int, Node]]] = {}
            text = self.source.text
            for current in _descendants(function):
                if current.type in ("parameter_declaration", "var_spec"):
                    for declared in current.children_by_field_name("name"):
                        names.setdefault(text(declared), []).append(
                            ("declared", current.end_byte, current)
                        )
                elif current.type in ("short_var_declaration", "assignment_statement"):
                    left = current.child_by_field_name("left")
                    right = current.child_by_field_name("right")
                    if left is None or right is None:
                        continue
                    pairs = zip(left.named_children, right.named_children, strict=False)
                    for target, value in pairs:
                        names.setdefault(text(target), []).append(
                            ("assigned", current.end_byte, value)
                        )
            self._functions[key] = names
        return self._functions[key]


def _gorm(call: Node, chain: list[tuple[str, Node]], source: Source) -> bool:
    """Does the chain say it is GORM's (see the module's docstring)?"""
    if any(name in GORM_ONLY for name, _ in chain):
        return True
    parent = call.parent
    if parent is not None and parent.type == "selector_expression":
        field = parent.child_by_field_name("field")
        if field is not None and source.text(field) in ("Error", "RowsAffected"):
            return True
    root = chain[-1][1] if chain and chain[-1][0] == "" else None
    return root is not None and bool(RECEIVER.search(source.text(root)))


def _table(call: Node, chain: list[tuple[str, Node]], named: dict[str, str],
           code: GoCode) -> tuple[str | None, int | None]:  # fmt: skip
    """The chain's table, and where it is named: `Table("t")`, `Model(x)`, else the
    finisher's value."""
    source = code.source
    for name, arguments in chain:
        first = arguments.named_children[0] if name and arguments.named_children else None
        if name == "Table" and first is not None:
            literal = _literal(first, source)
            if literal is not None:
                return literal
            return None, None
        if name == "Model" and first is not None:
            struct = code.value_type(first)
            return (_struct_table(struct, named), first.start_byte) if struct else (None, None)
    finishers = [(_method(call, source), call.child_by_field_name("arguments")), *chain]
    for name, arguments in finishers:  # `Find(&im).Count(&n)`: the value Find reads into
        if name not in VALUED or arguments is None or not arguments.named_children:
            continue
        first = arguments.named_children[0]
        struct = code.value_type(first)
        if struct is not None:
            return _struct_table(struct, named), first.start_byte
    return None, None


def _struct_table(struct: str, named: dict[str, str]) -> str:
    return named.get(struct) or table_of(struct)


def _function(node: Node) -> Node | None:
    """The function (or function literal) NODE is in."""
    function = node.parent
    while function is not None and function.type not in (
        "function_declaration", "method_declaration", "func_literal",
    ):  # fmt: skip
        function = function.parent
    return function


def _type_name(node: Node | None, source: Source) -> str | None:
    """`*User`, `[]User`, `[]*models.User`, `User` → `User`."""
    while node is not None and node.type in ("pointer_type", "slice_type", "array_type"):
        node = node.child_by_field_name("element") or (
            node.named_children[-1] if node.named_children else None
        )
    if node is None:
        return None
    if node.type == "qualified_type":
        node = node.child_by_field_name("name")
    return source.text(node) if node is not None and node.type == "type_identifier" else None


def _columns(call: Node, chain: list[tuple[str, Node]], source: Source) -> set[str]:
    """Columns named as plain names: `Update("col", v)`, `Pluck("col", …)`, `Select("a, b")`."""
    columns: set[str] = set()
    arguments = call.child_by_field_name("arguments")
    calls = [(_method(call, source) or "", arguments), *chain]
    for name, args in calls:
        if name not in ("Update", "UpdateColumn", "Pluck", "Select", "Omit") or args is None:
            continue
        first = args.named_children[0] if args.named_children else None
        literal = _literal(first, source) if first is not None else None
        if literal is None or name == "Omit":
            continue
        for part in literal[0].split(","):
            if re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*", part):
                columns.add(part.strip())
    return columns
