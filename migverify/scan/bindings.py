"""What a name holds in one file, resolved by scope with tree-sitter: table names kept in
constants and class fields, SQL kept in variables (built with `+`, `+=`, template holes,
`.format()` and f-strings), and the variable a query builder is held in.

Only what the file itself shows is resolved; a parameter or anything computed is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node, Tree

from migverify.scan.orm import nodes_of
from migverify.scan.source import Source, StringValue, string_value

MAX_DEPTH = 6  # names resolved through names (const A = B; const B = '...')


@dataclass(frozen=True)
class Syntax:
    """The node types one language's bindings are made of."""

    scopes: frozenset[str]  # nodes whose own declarations are visible to everything inside
    functions: frozenset[str]  # code inside runs later: declaration order does not matter
    classes: frozenset[str]
    declarators: frozenset[str]  # JS `const x = …` (empty for Python: assignments declare)
    assignment: str
    augmented: str
    binary: str
    member: str
    member_name: str
    call: str
    self_names: frozenset[str]  # `this` / `self`
    block_scoped: bool  # JS let/const: only the scope's own statements declare


JAVASCRIPT = Syntax(
    scopes=frozenset({"program", "statement_block", "class_body", "switch_case"}),
    functions=frozenset(
        {
            "function_declaration",
            "function_expression",
            "function",
            "arrow_function",
            "method_definition",
            "generator_function_declaration",
            "generator_function",
        }
    ),
    classes=frozenset({"class_declaration", "class", "abstract_class_declaration"}),
    declarators=frozenset({"variable_declarator"}),
    assignment="assignment_expression",
    augmented="augmented_assignment_expression",
    binary="binary_expression",
    member="member_expression",
    member_name="property",
    call="call_expression",
    self_names=frozenset({"this"}),
    block_scoped=True,
)
PYTHON = Syntax(
    scopes=frozenset({"module", "function_definition", "lambda"}),
    functions=frozenset({"function_definition", "lambda"}),
    classes=frozenset({"class_definition"}),
    declarators=frozenset(),
    assignment="assignment",
    augmented="augmented_assignment",
    binary="binary_operator",
    member="attribute",
    member_name="attribute",
    call="call",
    self_names=frozenset({"self", "cls"}),
    block_scoped=False,
)
_WRAPPERS = {"parenthesized_expression", "non_null_expression", "as_expression", "await"}
_SUBSCRIPTS = {"subscript_expression": ("object", "index"), "subscript": ("value", "subscript")}
_FORMAT_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass(frozen=True)
class Bound:
    """One place a name gets a value: `x = value` (op "=") or `x += value` (op "+=")."""

    start: int
    value: Node
    op: str


class Bindings:
    """Name resolution for one parsed file."""

    def __init__(self, source: Source, syntax: Syntax, tree: Tree | None = None) -> None:
        self.source, self.syntax, self.tree = source, syntax, tree
        self._declared: dict[int, dict[str, list[Bound]]] = {}
        self._assigned: dict[int, dict[str, list[Bound]]] | None = None if tree else {}
        self._unpacked: dict[str, list[Node]] = {}  # Python: names bound by unpacking
        self._values: dict[int, list[Bound] | None] = {}  # by identifier: asked for again

    # --- names ---------------------------------------------------------------------------

    def values(self, identifier: Node) -> list[Bound] | None:
        """The bindings IDENTIFIER may hold where it is used, in source order; None when it is
        not declared in this file (or is a parameter). Not to be changed: it is kept."""
        known = self._values.get(identifier.id, _UNKNOWN)
        if known is _UNKNOWN:
            known = self._values[identifier.id] = self._values_of(identifier)
        return known  # type: ignore[return-value]

    def _values_of(self, identifier: Node) -> list[Bound] | None:
        name = self.source.text(identifier)
        crossed = False
        node = identifier.parent
        while node is not None:
            if node.type in self.syntax.functions:
                if name in self._parameters(node):
                    return None
            if node.type in self.syntax.scopes and node.type not in self.syntax.classes:
                declared = self._declarations(node).get(name)
                if declared:
                    assigned = self._assignments(node).get(name, [])
                    if not self.syntax.block_scoped:  # Python: assignments declare
                        declared = []
                    bound = sorted(declared + assigned, key=lambda b: b.start)
                    if not crossed:
                        bound = [b for b in bound if b.start < identifier.start_byte]
                    return bound
            if node.type in self.syntax.functions:
                crossed = True
            node = node.parent
        return None

    def is_parameter(self, identifier: Node) -> bool:
        """Is IDENTIFIER a parameter of a function it is used in (a value from the caller)?"""
        name = self.source.text(identifier)
        node = identifier.parent
        while node is not None:
            if node.type in self.syntax.scopes and node.type not in self.syntax.classes:
                if name in self._declarations(node):
                    return False
            if node.type in self.syntax.functions and name in self._parameters(node):
                return True
            node = node.parent
        return False

    def string(self, node: Node, depth: int = 0) -> StringValue | None:
        """The one constant string NODE holds (a literal, a name bound once to one, a class
        field), or None."""
        node = _unwrap(node)
        value = string_value(node, self.source)
        if value is not None:
            return value if not value.holes else None
        if depth >= MAX_DEPTH:
            return None
        bound = self._bound(node)
        if bound is None or len(bound) != 1 or bound[0].op != "=":
            return None
        return self.string(bound[0].value, depth + 1)

    def holds_call(self, node: Node) -> bool:
        """Is NODE a name bound only to calls (a builder or a subquery, not a table name)?"""
        bound = self._bound(_unwrap(node))
        return bool(bound) and all(_unwrap(b.value).type == self.syntax.call for b in bound)

    def _bound(self, node: Node) -> list[Bound] | None:
        if node.type == "identifier":
            return self.values(node)
        if node.type == self.syntax.member:
            return self._field(node) or self._property(node)
        if node.type in _SUBSCRIPTS:
            return self._property(node)
        return None

    def _property(self, member: Node) -> list[Bound] | None:
        """`QUERIES.byId`, `QUERIES['by-id']` where `const QUERIES = { byId: '…' }` (JS
        object, Python dict) bound once."""
        object_field, key_field = _SUBSCRIPTS.get(member.type, ("object", self.syntax.member_name))
        obj = _unwrap(member.child_by_field_name(object_field) or member)
        prop = member.child_by_field_name(key_field)
        if obj.type != "identifier" or prop is None:
            return None
        if member.type in _SUBSCRIPTS:
            index = string_value(prop, self.source)
            if index is None or index.holes:
                return None
            name = index.text
        else:
            name = self.source.text(prop)
        bound = self.values(obj)
        if not bound or len(bound) != 1:
            return None
        mapping = _unwrap(bound[0].value)
        if mapping.type not in ("object", "dictionary"):
            return None
        for pair in mapping.named_children:
            key = pair.child_by_field_name("key") if pair.type == "pair" else None
            value = pair.child_by_field_name("value") if key is not None else None
            if key is None or value is None:
                continue
            literal = string_value(key, self.source)
            if (literal.text if literal is not None else self.source.text(key)) == name:
                return [Bound(pair.start_byte, value, "=")]
        return None

    def _field(self, member: Node) -> list[Bound] | None:
        """`this.table` / `self.table` bound by a class field with a literal and never assigned
        in the class."""
        obj = member.child_by_field_name("object")
        prop = member.child_by_field_name(self.syntax.member_name)
        if obj is None or prop is None or self.source.text(obj) not in self.syntax.self_names:
            return None
        name = self.source.text(prop)
        cls = member.parent
        while cls is not None and cls.type not in self.syntax.classes:
            cls = cls.parent
        if cls is None:
            return None
        body = cls.child_by_field_name("body")
        if body is None:
            return None
        fields, assigned = [], False
        for node in _walk(body):
            getter = self._getter(node, name)
            if getter is not None:
                fields.append(Bound(node.start_byte, getter, "="))
            elif node.type in ("field_definition", "public_field_definition"):
                key = node.child_by_field_name("property") or node.child_by_field_name("name")
                value = node.child_by_field_name("value")
                if key is not None and value is not None and self.source.text(key) == name:
                    fields.append(Bound(node.start_byte, value, "="))
            elif node.type == self.syntax.assignment and node.parent is not None:
                left = node.child_by_field_name("left")
                if left is None:
                    continue
                right = node.child_by_field_name("right")
                if left.type == "identifier" and self.source.text(left) == name:
                    if right is not None and _class_level(node, cls, self.syntax):
                        fields.append(Bound(node.start_byte, right, "="))
                elif left.type == self.syntax.member and self._is_self_field(left, name):
                    assigned = True
            elif node.type == self.syntax.augmented:
                left = node.child_by_field_name("left")
                if left is not None and self._is_self_field(left, name):
                    assigned = True
        return None if assigned or not fields else fields

    def _getter(self, node: Node, name: str) -> Node | None:
        """What `get name() { return … }` (JS) or `@property def name(self): return …`
        (Python) returns, when that is its only statement."""
        if node.type == "method_definition":
            if not any(c.type == "get" for c in node.children):
                return None
            function = node
        elif node.type == "decorated_definition":
            function = node.child_by_field_name("definition")
            decorators = [self.source.text(c) for c in node.named_children if c.type == "decorator"]
            if function is None or "@property" not in decorators:
                return None
        else:
            return None
        key = function.child_by_field_name("name")
        body = function.child_by_field_name("body")
        if key is None or body is None or self.source.text(key) != name:
            return None
        statements = [c for c in body.named_children if c.type != "comment"]
        if len(statements) != 1 or statements[0].type != "return_statement":
            return None
        values = statements[0].named_children
        return values[0] if len(values) == 1 else None

    def _is_self_field(self, node: Node, name: str) -> bool:
        obj = node.child_by_field_name("object")
        prop = node.child_by_field_name(self.syntax.member_name)
        return (
            obj is not None
            and prop is not None
            and self.source.text(obj) in self.syntax.self_names
            and self.source.text(prop) == name
        )

    def _parameters(self, function: Node) -> set[str]:
        params = function.child_by_field_name("parameters") or function.child_by_field_name(
            "parameter"
        )
        if params is None:
            return set()
        if params.type == "identifier":
            return {self.source.text(params)}
        names = set()
        for node in _walk(params):
            if node.type in ("identifier", "shorthand_property_identifier_pattern"):
                names.add(self.source.text(node))
        return names

    def _declarations(self, scope: Node) -> dict[str, list[Bound]]:
        if scope.id not in self._declared:
            found: dict[str, list[Bound]] = {}
            if self.syntax.block_scoped:
                for statement in scope.named_children:
                    if statement.type == "export_statement":
                        statement = statement.child_by_field_name("declaration") or statement
                    for declarator in statement.named_children:
                        self._declarator(declarator, found)
            else:
                for name, bound in self._assignments(scope).items():
                    found[name] = [b for b in bound if b.op == "="]
            self._declared[scope.id] = found
        return self._declared[scope.id]

    def _declarator(self, node: Node, found: dict[str, list[Bound]]) -> None:
        if node.type not in self.syntax.declarators:
            return
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if name is not None and name.type == "identifier" and value is not None:
            found.setdefault(self.source.text(name), []).append(Bound(node.start_byte, value, "="))
        elif name is not None and name.type == "array_pattern" and value is not None:
            # `const [a, b] = await Promise.all([x(), y()])`: a holds x(), b holds y()
            elements = _all_settled(value, self.source)
            names = [n for n in name.named_children if n.type != "comment"]
            for index, element in enumerate(names):
                if element.type == "identifier" and index < len(elements):
                    bound = Bound(node.start_byte, elements[index], "=")
                    found.setdefault(self.source.text(element), []).append(bound)

    def _assignments(self, scope: Node) -> dict[str, list[Bound]]:
        """Plain and `+=` assignments to names anywhere inside SCOPE (Python: not inside a
        nested function or class, which has its own names)."""
        if self._assigned is None:  # Python with the tree: every scope's at once
            self._assigned = self._python_assignments()
        if scope.id not in self._assigned:
            found: dict[str, list[Bound]] = {}
            stack = list(reversed(scope.named_children))
            while stack:
                node = stack.pop()
                if not self.syntax.block_scoped and (
                    node.type in self.syntax.functions or node.type in self.syntax.classes
                ):
                    continue
                if node.type in (self.syntax.assignment, self.syntax.augmented):
                    left, right = (
                        node.child_by_field_name("left"),
                        node.child_by_field_name("right"),
                    )
                    if left is not None and right is not None and left.type == "identifier":
                        op = "=" if node.type == self.syntax.assignment else _operator(node)
                        bound = Bound(node.start_byte, right, op)
                        found.setdefault(self.source.text(left), []).append(bound)
                stack.extend(reversed(node.named_children))
            self._assigned[scope.id] = found
        return self._assigned[scope.id]

    def unpacked(self) -> dict[str, list[Node]]:
        """Python: the names bound by unpacking (`check, rw = …`), each with its assignments
        (found with the file's other assignments, in the same pass)."""
        if self._assigned is None:
            self._assigned = self._python_assignments()
        return self._unpacked

    def _python_assignments(self) -> dict[int, dict[str, list[Bound]]]:
        """`_assignments` of every Python scope of the file, from one query (walking each
        function's nodes in Python cost more than parsing, on a code base of many functions):
        an assignment belongs to its nearest enclosing function, lambda or module, and to none
        when a class is nearer (a class body's names are attributes)."""
        assert self.tree is not None
        syntax, found = self.syntax, {}
        owners = syntax.functions | syntax.classes | syntax.scopes
        kinds = (syntax.assignment, syntax.augmented)
        unpacked: dict[str, list[Node]] = {}
        self._unpacked = unpacked
        for node in nodes_of(self.tree, kinds):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and left.type in ("pattern_list", "tuple_pattern"):
                for element in left.named_children:  # `check, rw = …`
                    if element.type == "identifier":
                        unpacked.setdefault(self.source.text(element), []).append(node)
            if left is None or right is None or left.type != "identifier":
                continue
            owner = node.parent
            while owner is not None and owner.type not in owners:
                owner = owner.parent
            if owner is None or owner.type not in syntax.scopes:
                continue
            op = "=" if node.type == syntax.assignment else _operator(node)
            bound = Bound(node.start_byte, right, op)
            found.setdefault(owner.id, {}).setdefault(self.source.text(left), []).append(bound)
        return found

    # --- SQL text ------------------------------------------------------------------------

    def texts(self, node: Node, splice: bool = True) -> list[list[StringValue]]:
        """Every text NODE may hold, for SQL: a literal; a name's values; a concatenation;
        `.format()`; a template or f-string whose holes are filled with what their names hold
        (when SPLICE: a tagged template's holes stay parameters). Each text comes as a group
        of alternatives in order of preference: with the `+=` appended to it, then without."""
        unwrapped = _unwrap(node)
        if unwrapped.type in ("identifier", self.syntax.member, *_SUBSCRIPTS):
            return self._name_groups(unwrapped, 0)
        return [[text] for text in self._texts(unwrapped, splice, 0)]

    def _texts(self, node: Node, splice: bool, depth: int) -> list[StringValue]:
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return []
        literal = string_value(node, self.source, self._substitute(depth) if splice else None)
        if literal is not None:
            return [literal]
        if node.type in ("identifier", self.syntax.member, *_SUBSCRIPTS):
            return [group[0] for group in self._name_groups(node, depth)]
        if node.type == self.syntax.binary:
            return self._binary_texts(node, depth)
        if node.type == self.syntax.call:
            return self._format_texts(node, depth) or self._composed(node, depth)
        return []

    def _composed(self, call: Node, depth: int) -> list[StringValue]:
        """psycopg's `sql.SQL("…")` (then `.format(…)`ed): the text it wraps."""
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if function is None or arguments is None or len(arguments.named_children) != 1:
            return []
        if self.source.text(function).rpartition(".")[2] != "SQL":
            return []
        return self._texts(arguments.named_children[0], True, depth + 1)

    def _name_groups(self, node: Node, depth: int) -> list[list[StringValue]]:
        bound = self._bound(node)
        if not bound:
            return []
        groups: list[list[StringValue]] = []
        for index, item in enumerate(bound):
            if item.op != "=":
                continue
            for base in self._texts(item.value, True, depth + 1):
                appended = [base]
                for later in bound[index + 1 :]:
                    if later.op == "=":
                        break
                    more = self._texts(later.value, True, depth + 1)
                    appended.append(more[0] if more else _hole(later.value, 1))
                groups.append([_join(appended), base] if len(appended) > 1 else [base])
        return groups

    def _binary_texts(self, node: Node, depth: int) -> list[StringValue]:
        operator = node.child_by_field_name("operator")
        left = node.child_by_field_name("left")
        if operator is None or left is None:
            return []
        symbol = self.source.text(operator)
        if symbol == "%":  # Python "… %s …" % args: the placeholders stay
            return self._texts(left, True, depth + 1)
        if symbol != "+":
            return []
        parts, literal = [], False
        for operand in self._operands(node):
            texts = self._texts(operand, True, depth + 1)
            literal = literal or bool(texts)
            parts.append(texts[0] if texts else _hole(operand, 1))
        return [_join(parts)] if literal else []

    def _operands(self, node: Node) -> list[Node]:
        """`a + b + c + …` (nested to the left) as [a, b, c, …]: long concatenations are
        common in SQL and must not run into the depth limit."""
        operands: list[Node] = []
        while node.type == self.syntax.binary:
            operator = node.child_by_field_name("operator")
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if operator is None or left is None or right is None:
                break
            if self.source.text(operator) != "+":
                break
            operands.append(right)
            node = _unwrap(left)
        operands.append(node)
        return operands[::-1]

    def _format_texts(self, call: Node, depth: int) -> list[StringValue]:
        """`"… {} …".format(a, name=b)`: fields filled with what the arguments hold."""
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if function is None or arguments is None or function.type != self.syntax.member:
            return []
        prop = function.child_by_field_name(self.syntax.member_name)
        obj = function.child_by_field_name("object")
        if prop is None or obj is None or self.source.text(prop) != "format":
            return []
        positional, named = [], {}
        for arg in arguments.named_children:
            if arg.type == "keyword_argument":
                key, value = arg.child_by_field_name("name"), arg.child_by_field_name("value")
                if key is not None and value is not None:
                    named[self.source.text(key)] = value
            elif arg.type != "comment":
                positional.append(arg)
        results = []
        for template in self._texts(obj, True, depth + 1):
            results.append(self._fill_fields(template, positional, named, depth))
        return results

    def _fill_fields(
        self, template: StringValue, positional: list[Node], named: dict[str, Node], depth: int
    ) -> StringValue:
        parts, cursor, auto, holes = [], 0, 0, template.holes
        for match in _FORMAT_FIELD.finditer(template.text):
            parts.append(_slice(template, cursor, match.start()))
            cursor = match.end()
            if match.group(1) is None:  # {{ or }}
                parts.append(_slice(template, match.start(), match.start() + 1))
                continue
            field = re.split(r"[.\[!:]", match.group(1), maxsplit=1)[0]
            argument = None
            if field == "":
                argument = positional[auto] if auto < len(positional) else None
                auto += 1
            elif field.isdigit():
                index = int(field)
                argument = positional[index] if index < len(positional) else None
            else:
                argument = named.get(field)
            filled = self.string(argument, depth + 1) if argument is not None else None
            if filled is None and argument is not None:
                filled = self._identifier(argument)
            if filled is None:
                holes += 1
                filled = _hole_at(template.offset_of(match.start()), holes)
            parts.append(filled)
        parts.append(_slice(template, cursor, len(template.text)))
        joined = _join(parts)
        return StringValue(joined.text, joined.offsets, holes)

    def _identifier(self, node: Node) -> StringValue | None:
        """psycopg's `sql.Identifier('s', 't')` as the SQL it renders: `"s"."t"` (each
        character at its place in the literals)."""
        if node.type != "call":
            return None
        function = node.child_by_field_name("function")
        arguments = node.child_by_field_name("arguments")
        if function is None or arguments is None:
            return None
        if self.source.text(function).rpartition(".")[2] != "Identifier":
            return None
        parts: list[StringValue] = []
        for argument in arguments.named_children:
            literal = string_value(argument, self.source)
            if literal is None or literal.holes or not literal.text:
                return None
            start, end = literal.offsets[0], literal.offsets[-1]
            quoted = literal.text.replace('"', '""')
            if parts:
                parts.append(StringValue(".", (start,), 0))
            offsets = (start, *literal.offsets, end)
            if len(quoted) != len(literal.text):
                offsets = (start,) * (len(quoted) + 2)
            parts.append(StringValue(f'"{quoted}"', offsets, 0))
        return _join(parts) if parts else None

    def _substitute(self, depth: int):
        def substitute(expression: Node) -> StringValue | None:
            if _unwrap(expression).type not in ("identifier", self.syntax.member, *_SUBSCRIPTS):
                return None
            texts = self._texts(expression, True, depth + 1)
            return texts[0] if texts else None

        return substitute


_UNKNOWN = object()


def _all_settled(value: Node, source: Source) -> list[Node]:
    """The elements of the array `[await] Promise.all([…])` is given, in order (else none)."""
    while value.type in ("await_expression", "parenthesized_expression") and value.named_children:
        value = value.named_children[0]
    function = value.child_by_field_name("function") if value.type == "call_expression" else None
    if function is None or source.text(function) != "Promise.all":
        return []
    arguments = value.child_by_field_name("arguments")
    first = (
        arguments.named_children[0] if arguments is not None and arguments.named_children else None
    )
    if first is None or first.type != "array":
        return []
    return [e for e in first.named_children if e.type != "comment"]


def _operator(node: Node) -> str:
    operator = node.child_by_field_name("operator")
    text = operator.text.decode() if operator is not None and operator.text else ""
    return text or "+="


def _unwrap(node: Node) -> Node:
    while node.type in _WRAPPERS and node.named_children:
        node = node.named_children[0]
    return node


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def _class_level(node: Node, cls: Node, syntax: Syntax) -> bool:
    """Is NODE a statement of the class body itself (not inside a method)?"""
    parent = node.parent
    while parent is not None and parent != cls:
        if parent.type in syntax.functions:
            return False
        parent = parent.parent
    return parent is not None


def _join(parts: list[StringValue]) -> StringValue:
    return StringValue(
        "".join(p.text for p in parts),
        tuple(o for p in parts for o in p.offsets),
        sum(p.holes for p in parts),
    )


def _slice(value: StringValue, start: int, end: int) -> StringValue:
    return StringValue(value.text[start:end], value.offsets[start:end], 0)


def _hole(node: Node, number: int) -> StringValue:
    return _hole_at(node.start_byte, number)


def _hole_at(offset: int, number: int) -> StringValue:
    text = f"${number}"
    return StringValue(text, (offset,) * len(text), 1)
