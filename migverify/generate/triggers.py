"""Legacy triggers carried onto the target table through the column map.

A trigger is recreated on the target when every column it reads — in its WHEN clause, its
`UPDATE OF` list and its function's NEW/OLD references — maps 1:1 onto a column of the target
table. The function body is read with pglast's PL/pgSQL parser (which NEW/OLD fields it uses)
and the SQL scanner (where they are, to rename them in a copy of the function). Whatever cannot
be carried faithfully stops generation with a message naming the trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pglast import ast, enums, parse_plpgsql, parse_sql, parser
from pglast.stream import IndentedStream

from migverify.catalog import Catalog, Trigger
from migverify.errors import InputError
from migverify.generate.contrib_triggers import ColumnArguments, column_arguments
from migverify.generate.expressions import deparse, references
from migverify.generate.model import (
    CarriedTrigger,
    ColumnMap,
    FunctionCopy,
    TablePlan,
    TriggerCarry,
)
from migverify.quoting import bounded_identifier, ident, literal
from migverify.spec import Spec

_TABLE_VARIABLES = ("tg_relid", "tg_relname", "tg_table_name", "tg_table_schema")
_RECORDS = ("new", "old")


def carry_triggers(spec: Spec, catalog: Catalog, plan: TablePlan) -> TriggerCarry:
    """The legacy table's user triggers, rewritten for the target (or a clear InputError)."""
    carried, copies, notes = [], {}, []
    existing = {t.name for t in plan.target.triggers}
    for trigger in plan.legacy.triggers:
        if trigger.name in existing:
            notes.append(
                f"trigger {trigger.name}: the target SQL already defines a trigger of that name "
                f"on {plan.target.name}; not carried"
            )
            continue
        result = _Carrier(spec, catalog, plan, trigger).carry()
        carried.append(result)
        if result.copy is not None:
            copies.setdefault(result.copy.name, result.copy)
        notes += _notes(plan, trigger, result)
    return TriggerCarry(tuple(carried), tuple(copies.values()), tuple(notes))


def _notes(plan: TablePlan, trigger: Trigger, carried: CarriedTrigger) -> list[str]:
    events = " OR ".join(
        f"UPDATE OF {', '.join(carried.update_columns)}"
        if event == "UPDATE" and carried.update_columns
        else event
        for event in carried.events
    )
    note = f"trigger {trigger.name} ({carried.timing} {events}"
    note += f", {'row' if carried.row else 'statement'}"
    note += f", WHEN {carried.when})" if carried.when else ")"
    note += f" carried onto {plan.target.name}"
    if carried.copy is not None:
        note += (
            f", calling {carried.copy.name}, a copy of {carried.copy.original} "
            f"({carried.copy.changes})"
        )
    if carried.scope:
        condition = " AND ".join(f"{carried.scope_record}.{c} = {v!r}" for c, v in carried.scope)
        note += f", only for rows with {condition}"
    if carried.firing != "O":
        state = {"D": "disabled", "R": "enabled for replica", "A": "enabled always"}
        note += f" ({state[carried.firing]} as on {plan.name})"
    notes = [note]
    if carried.function_note:
        notes.append(f"trigger {trigger.name}: {carried.function_note}")
    elif trigger.function_language != "plpgsql":
        notes.append(
            f"trigger {trigger.name}: its function {trigger.function_qualified} (LANGUAGE "
            f"{trigger.function_language}) is not read by migverify; carried because every "
            f"column of {plan.name} keeps its name on {plan.target.name}"
        )
    if "tg_relid" in _table_variables(trigger):
        notes.append(
            f"trigger {trigger.name}: its function reads TG_RELID, which is the oid of "
            f"{plan.target.name} after cutover, not of {plan.name}"
        )
    return notes


class _Carrier:
    """Carries one trigger; every refusal names the trigger and what blocks it."""

    def __init__(self, spec: Spec, catalog: Catalog, plan: TablePlan, trigger: Trigger) -> None:
        self.spec, self.catalog, self.plan, self.trigger = spec, catalog, plan, trigger
        self.statement: ast.CreateTrigStmt = parse_sql(trigger.definition)[0].stmt

    def refuse(self, reason: str) -> InputError:
        return self.spec.error(
            f"tables.{self.plan.name}",
            f"trigger {self.trigger.name} on {self.plan.name} cannot be carried onto "
            f"{self.plan.target.name}: {reason}",
        )

    def carry(self) -> CarriedTrigger:
        trigger, plan, statement = self.trigger, self.plan, self.statement
        self.check_shape()
        arguments = tuple(a.sval for a in statement.args or ())
        known = column_arguments(trigger)
        copy, note = None, ""
        if known is None:
            copy = self.function_copy()
        else:
            arguments, note = self.known_arguments(known, arguments)
        when = None
        if statement.whenClause is not None:
            _expand_row_comparisons(statement.whenClause, self.plan)
            self.rename_references(statement.whenClause, "its WHEN clause")
            when = deparse(statement.whenClause)
        return CarriedTrigger(
            name=trigger.name,
            legacy_table=plan.legacy.qualified_name,
            table=plan.target.qualified_name,
            constraint=bool(statement.isconstraint),
            timing=trigger.timing,
            events=trigger.events,
            update_columns=tuple(
                self.target_column(c.sval, "its UPDATE OF list") for c in statement.columns or ()
            ),
            row=trigger.level == "ROW",
            transitions=tuple(
                ("NEW" if t.isNew else "OLD", t.name) for t in statement.transitionRels or ()
            ),
            deferrable=bool(statement.deferrable),
            initially_deferred=bool(statement.initdeferred),
            when=when,
            scope_record="OLD" if trigger.events == ("DELETE",) else "NEW",
            scope=plan.discriminator,
            function=copy.name if copy else trigger.function_qualified,
            arguments=arguments,
            firing=trigger.firing,
            copy=copy,
            function_note=note,
        )

    def known_arguments(
        self, known: ColumnArguments, arguments: tuple[str, ...]
    ) -> tuple[tuple[str, ...], str]:
        """The arguments of a trigger calling KNOWN with the columns they name renamed through
        the column map, and the note for REVIEW.md (or a refusal)."""
        plan, target = self.plan, self.plan.target.name
        what = f"its function {self.trigger.function_qualified} is {known.title}"
        positions = known.positions(len(arguments))
        if positions is None:
            raise self.refuse(
                f"{what}, which takes {known.shape}, and it is given {len(arguments)} "
                f"argument{'s' if len(arguments) != 1 else ''}: it fails on {plan.name} as is"
            )
        through_triggers = "update" in plan.trigger_operations
        if known.reads_updated_columns and "UPDATE" in self.trigger.events and through_triggers:
            raise self.refuse(
                f"{what}, which on UPDATE acts only when the statement sets one of its columns, "
                f"and an update through the view's INSTEAD OF trigger sets every column of {target}"
            )
        renamed, renames = list(arguments), []
        for position in positions:
            name = arguments[position]
            if name not in plan.legacy.column_names:
                raise self.refuse(
                    f"{what}, and its argument {name!r} is not a column of {plan.name}: it "
                    f"fails there as is"
                )
            column = plan.column(name)
            if column.alias != "t":
                raise self.refuse(
                    f"{what}, and its argument {name} moves to {column.table}, not {target}"
                )
            if column.up is not None or column.target.type != column.legacy.type:
                raise self.refuse(
                    f"{what}, and its argument {name} becomes {target}.{column.column} "
                    + ("through a transform" if column.up is not None else "of another type")
                    + f": the function would act on {target}'s values, not {plan.name}'s"
                )
            if column.renamed:
                renamed[position] = column.column
                renames.append(f"{name} → {column.column}")
        note = f"{what}, which {known.does}" + (
            f"; carried with its arguments renamed ({', '.join(renames)})" if renames else ""
        )
        return tuple(renamed), note

    def check_shape(self) -> None:
        """Refuse what would fire differently on the target than on the legacy table."""
        trigger, plan = self.trigger, self.plan
        events = {e.lower() for e in trigger.events}
        if trigger.timing == "INSTEAD OF":
            raise self.refuse("INSTEAD OF triggers exist only on views")
        if self.statement.constrrel is not None:
            raise self.refuse("it is a constraint trigger FROM another table")
        if "truncate" in events and (plan.sides or plan.discriminator):
            kind = "a split" if plan.sides else "a merge"
            raise self.refuse(
                f"it fires on TRUNCATE, and {plan.name} is {kind}: truncating "
                f"{plan.target.name} is not truncating {plan.name}"
            )
        through_triggers = events & set(plan.trigger_operations)
        if trigger.level == "STATEMENT" and plan.discriminator:
            raise self.refuse(
                f"it is a statement trigger, and {plan.target.name} also takes the statements "
                "of the other legacy tables merged into it"
            )
        if trigger.level == "STATEMENT" and through_triggers:
            raise self.refuse(
                f"it is a statement trigger, and {' and '.join(sorted(through_triggers)).upper()} "
                f"through {plan.name} run as one statement per row (INSTEAD OF trigger)"
            )
        if self.statement.columns and "update" in through_triggers:
            raise self.refuse(
                "it fires on UPDATE OF some columns, and an update through the view's INSTEAD OF "
                f"trigger sets every column of {plan.target.name}, listed or not"
            )
        if self.statement.transitionRels and through_triggers:
            raise self.refuse(
                "it reads transition tables, and writes through the view reach the target one "
                "row per statement (INSTEAD OF trigger)"
            )
        if plan.discriminator and trigger.level == "ROW" and "delete" in events and len(events) > 1:
            raise self.refuse(
                "it fires on DELETE and on other events of a merged table; its rows can only be "
                "told apart by NEW for INSERT/UPDATE and by OLD for DELETE (split it in two)"
            )

    def target_column(self, name: str, where: str) -> str:
        if name not in self.plan.legacy.column_names:
            raise self.refuse(f"{where} names {name!r}, which is not a column of {self.plan.name}")
        column = self.plan.column(name)
        if column.alias != "t":
            raise self.refuse(
                f"{where} uses {name}, which moves to {column.table}, not {self.plan.target.name}"
            )
        return column.column

    def rename_references(self, node: ast.Node, where: str) -> None:
        for reference in references(node):
            record, *rest = reference.fields
            if record not in _RECORDS:
                continue
            if not rest or rest[0] == "*":
                self.require_same_layout(f"{where} uses {record.upper()} as a whole row")
                continue
            column = self.target_column(rest[0], where)
            reference.rename((record, column, *rest[1:]))

    def require_same_names(self, what: str) -> None:
        """Whatever an unreadable function reads by name, it finds under that name."""
        moved = [c.legacy.name for c in self.plan.columns if c.renamed or c.alias != "t"]
        if moved:
            raise self.refuse(
                f"{what}, and {', '.join(moved)} of {self.plan.name} "
                f"{'is' if len(moved) == 1 else 'are'} not under the same name in "
                f"{self.plan.target.name}"
            )

    def require_same_layout(self, what: str, by_name: bool = True) -> None:
        """The target's rows are the legacy rows: the same columns in the same order (BY_NAME
        False: the same types in the same order, names may differ, as for comparisons)."""
        legacy = [(c.name if by_name else "", c.type) for c in self.plan.legacy.columns]
        target = [(c.name if by_name else "", c.type) for c in self.plan.target.columns]
        if legacy != target:
            raise self.refuse(
                f"{what}, and the rows of {self.plan.target.name} have other columns than "
                f"those of {self.plan.name}"
            )

    # --- the trigger function -------------------------------------------------------------

    def function_copy(self) -> FunctionCopy | None:
        trigger = self.trigger
        if trigger.function_language != "plpgsql":
            self.require_same_names(
                f"its function {trigger.function_qualified} is in LANGUAGE "
                f"{trigger.function_language}, which migverify cannot read"
            )
            return None
        use = _FunctionUse.read(trigger, self.refuse)
        if use.whole_row:
            self.require_same_layout(
                f"its function {trigger.function_qualified} uses NEW or OLD as a whole row"
            )
        elif use.compares_rows:
            self.require_same_layout(
                f"its function {trigger.function_qualified} compares NEW and OLD as whole rows",
                by_name=False,
            )
        renames: dict[str, str] = {}
        for token in use.fields:
            if token.field not in self.plan.legacy.column_names:
                continue  # PostgreSQL reports it when that line runs, on either table
            column = self.plan.column(token.field)
            self.check_function_column(column)
            if column.renamed:
                renames[column.legacy.name] = column.column
        constants = self.table_constants()
        if not renames and not constants:
            return None
        return self.copy_function(use, renames, constants)

    def table_constants(self) -> dict[str, str]:
        """TG_TABLE_NAME, TG_RELNAME and TG_TABLE_SCHEMA where the function reads one that names
        the target, not the legacy table (an audit trigger writes it into its rows): the legacy
        table's name or schema, as a literal (the copy reads it as a constant of type name)."""
        legacy, target = self.plan.legacy, self.plan.target
        values = {"tg_table_name": legacy.name, "tg_relname": legacy.name}
        if target.name == legacy.name:
            values = {}
        if target.schema != legacy.schema:
            values["tg_table_schema"] = legacy.schema
        used = _table_variables(self.trigger)
        return {name: literal(value) for name, value in values.items() if name in used}

    def check_function_column(self, column: ColumnMap) -> None:
        if column.alias != "t":
            raise self.refuse(
                f"its function {self.trigger.function_qualified} uses "
                f"{column.legacy.name}, which moves to {column.table}, not {self.plan.target.name}"
            )

    def copy_function(
        self, use: _FunctionUse, renames: dict[str, str], constants: dict[str, str]
    ) -> FunctionCopy:
        """A copy of the function with the target's column names and, where it reads the
        table's name, the legacy table's (named after the legacy table then: merged tables
        each get their own)."""
        trigger = self.trigger
        schema, _, name = trigger.function_qualified.partition(".")
        suffix = self.plan.name if constants else self.plan.target.name
        copy_name = bounded_identifier(f"{name}_{suffix}")
        qualified = f"{schema}.{copy_name}"
        if any(f.schema == schema and f.name == copy_name for f in self.catalog.functions):
            raise self.refuse(
                f"its function needs a copy with renamed columns, and {qualified} already exists"
            )
        source = trigger.function_source
        edits = [
            (f.start, f.end, ident(renames[f.field])) for f in use.fields if f.field in renames
        ]
        edits += [
            (start, end, f"CAST({constants[variable]} AS name)")
            for start, end, variable in _variable_uses(source)
            if variable in constants
        ]
        for start, end, text in sorted(edits, reverse=True):
            source = source[:start] + text + source[end:]
        statement: ast.CreateFunctionStmt = parse_sql(trigger.function_definition)[0].stmt
        statement.replace = False
        statement.funcname = (ast.String(sval=schema), ast.String(sval=copy_name))
        for option in statement.options:
            if option.defname == "as":
                option.arg = (ast.String(sval=source),)
        try:
            definition = IndentedStream()(statement)
        except Exception as error:  # pglast cannot print every option of CREATE FUNCTION
            raise self.refuse(f"migverify cannot print a copy of its function ({error})") from None
        return FunctionCopy(
            name=qualified,
            original=trigger.function_qualified,
            definition=definition,
            renamed=tuple(sorted(renames.items())),
            constants=tuple((v.upper(), c) for v, c in sorted(constants.items())),
        )


def _whole_row(node: object) -> bool:
    if not isinstance(node, ast.ColumnRef):
        return False
    fields = node.fields
    return (
        isinstance(fields[0], ast.String)
        and fields[0].sval in _RECORDS
        and (len(fields) == 1 or (len(fields) == 2 and isinstance(fields[1], ast.A_Star)))
    )


def _expand_row_comparisons(node: object, plan: TablePlan) -> None:
    """`OLD.* IS DISTINCT FROM NEW.*` compares the legacy columns, not the target's wider
    rows: rewrite each side as ROW(OLD.a, OLD.b, …) of the legacy columns (renamed later)."""
    if isinstance(node, tuple | list):
        for item in node:
            _expand_row_comparisons(item, plan)
        return
    if not isinstance(node, ast.Node):
        return
    if isinstance(node, ast.A_Expr) and _whole_row(node.lexpr) and _whole_row(node.rexpr):
        node.lexpr, node.rexpr = (
            ast.RowExpr(
                args=tuple(
                    ast.ColumnRef(fields=(side.fields[0], ast.String(sval=c.legacy.name)))
                    for c in plan.columns
                ),
                row_format=enums.CoercionForm.COERCE_EXPLICIT_CALL,
            )
            for side in (node.lexpr, node.rexpr)
        )
        return
    for name in node.__slots__:
        _expand_row_comparisons(getattr(node, name), plan)


@dataclass(frozen=True)
class _Field:
    """A NEW.column or OLD.column in a function body: the column token's character span."""

    start: int
    end: int  # exclusive
    record: str
    field: str


@dataclass(frozen=True)
class _FunctionUse:
    fields: tuple[_Field, ...]
    whole_row: bool
    compares_rows: bool = False  # NEW IS DISTINCT FROM OLD and the like (by position and type)

    @classmethod
    def read(cls, trigger: Trigger, refuse: Any) -> _FunctionUse:
        """NEW/OLD references of a PL/pgSQL trigger function.

        The PL/pgSQL parser knows which record fields the function uses; the scanner knows
        where they are. Both must agree, or the function is not understood well enough to copy.
        """
        try:
            fields, whole_row, compares_rows = _scan_records(trigger.function_source)
            known = _plpgsql_fields(trigger.function_definition)
        except Exception as error:  # pglast's parsers: an unreadable body is not carried blind
            raise refuse(
                f"migverify cannot read its function {trigger.function_qualified} ({error})"
            ) from None
        if {(f.record, f.field) for f in fields} != known:
            raise refuse(
                f"migverify cannot locate every NEW/OLD reference in its function "
                f"{trigger.function_qualified}"
            )
        return cls(tuple(fields), whole_row, compares_rows)


def _plpgsql_fields(definition: str) -> set[tuple[str, str]]:
    """(record, field) for every NEW.field / OLD.field the PL/pgSQL compiler resolved."""
    function = parse_plpgsql(definition)[0]["PLpgSQL_function"]
    datums = function.get("datums", [])
    records = {
        number: datum["PLpgSQL_rec"]["refname"]
        for number, datum in enumerate(datums)
        if "PLpgSQL_rec" in datum
    }
    found = set()
    for datum in datums:
        field = datum.get("PLpgSQL_recfield")
        if field is None:
            continue
        record = records.get(field.get("recparentno", 0))
        if record in _RECORDS:
            found.add((record, field["fieldname"]))
    return found


def _scan_records(source: str) -> tuple[list[_Field], bool, bool]:
    """Field references of NEW/OLD in a PL/pgSQL body, whether a whole row is used, and
    whether whole rows are compared with each other (`NEW IS DISTINCT FROM OLD`, `NEW <> OLD`,
    which diesel's diesel_set_updated_at() does): that reads columns by position and type only."""
    tokens = parser.scan(source)
    fields, whole_row, compares_rows = [], False, False
    for index, token in enumerate(tokens):
        record = _word(source, token)
        if record not in _RECORDS:
            continue
        if index and tokens[index - 1].name == "ASCII_46":
            continue  # something.new: a field called new, not the record
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if after is not None and after.name == "ASCII_46" and index + 2 < len(tokens):
            name_token = tokens[index + 2]
            field = _word(source, name_token)
            if field is None:  # NEW.*
                whole_row = True
                continue
            fields.append(_Field(name_token.start, name_token.end + 1, record, field))
            continue
        if _row_comparison(source, tokens, index):
            compares_rows = True
        elif not _plain_return(source, tokens, index):
            whole_row = True
    return fields, whole_row, compares_rows


_COMPARING = {"is", "not", "distinct", "from", "=", "<>", "!="}


def _row_comparison(source: str, tokens: list[Any], index: int) -> bool:
    """Token INDEX (a NEW or OLD) is one side of a comparison with the other record."""

    def text(i: int) -> str:
        return _word(source, tokens[i]) or source[tokens[i].start : tokens[i].end + 1].lower()

    for step in (1, -1):
        i, between = index + step, []
        while 0 <= i < len(tokens) and text(i) in _COMPARING:
            between.append(text(i))
            i += step
        if not between or not 0 <= i < len(tokens) or text(i) not in _RECORDS:
            continue
        beyond = i + step
        if 0 <= beyond < len(tokens) and tokens[beyond].name == "ASCII_46":
            continue  # OLD.col: a field, not the row
        words = between if step == 1 else between[::-1]
        if words in (["="], ["<>"], ["!="], ["is", "distinct", "from"]) or words == [
            "is",
            "not",
            "distinct",
            "from",
        ]:
            return True
    return False


# RETURN NEW; RETURN OLD; RETURN COALESCE(NEW, OLD); hand the row back as it is: no column named.
_RETURN_WORDS = {"new", "old", "null", "coalesce"}
_RETURN_PUNCTUATION = {"ASCII_40", "ASCII_41", "ASCII_44"}  # ( ) ,


def _plain_return(source: str, tokens: list[Any], index: int) -> bool:
    """Token INDEX (a NEW or OLD) stands in a RETURN statement that only returns a record."""
    start = index
    while start > 0 and tokens[start - 1].name not in ("ASCII_59", "RETURN"):
        start -= 1
    if start == 0 or tokens[start - 1].name != "RETURN":
        return False
    end = index
    while end < len(tokens) and tokens[end].name != "ASCII_59":
        end += 1
    return all(
        token.name in _RETURN_PUNCTUATION or _word(source, token) in _RETURN_WORDS
        for token in tokens[start:end]
    )


def _word(source: str, token: Any) -> str | None:
    """An identifier or keyword token as PostgreSQL folds it; None for anything else."""
    text = source[token.start : token.end + 1]
    if token.name == "IDENT":
        if text.startswith('"'):
            return text[1:-1].replace('""', '"')
        return text.lower()
    if token.kind != "NO_KEYWORD":
        return text.lower()
    return None


def _variable_uses(source: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each use of a TG_ table variable in a PL/pgSQL body (not a field
    of that name: something.tg_relname)."""
    tokens = parser.scan(source)
    found = []
    for index, token in enumerate(tokens):
        word = _word(source, token)
        if word in _TABLE_VARIABLES and not (index and tokens[index - 1].name == "ASCII_46"):
            found.append((token.start, token.end + 1, word))
    return found


def _table_variables(trigger: Trigger) -> list[str]:
    if trigger.function_language != "plpgsql":
        return []
    used = {_word(trigger.function_source, t) for t in parser.scan(trigger.function_source)}
    return [name for name in _TABLE_VARIABLES if name in used]
