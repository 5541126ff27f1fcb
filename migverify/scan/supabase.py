"""supabase-js and supabase-py: `.from('t')` / `.table('t')` / `.from_('t')` chains, resources
embedded in select strings, builders held in variables. `supabase.storage.from('files')` names
a storage bucket, not a table."""

from __future__ import annotations

from tree_sitter import Node

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Binding, Chain, Use, analyze_chain
from migverify.scan.found import Found
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

OPERATION_METHODS = {"select", "insert", "update", "delete", "upsert"}
TABLE_METHODS = {"supabase-js": {"from"}, "supabase-py": {"table", "from_"}}
# `Array.from(x)`, `Buffer.from('…')`: JavaScript's own `from`, never a table.
BUILTINS = {
    "Array", "Buffer", "Object", "String", "Set", "Map", "Promise", "Uint8Array",
    "Uint16Array", "Uint32Array", "Int8Array", "Int16Array", "Int32Array", "Float32Array",
    "Float64Array", "BigInt64Array", "BigUint64Array", "Uint8ClampedArray", "Iterator",
    "Observable", "Rx", "rxjs", "Readable", "stream", "Blob", "Response",
}  # fmt: skip


def supabase_uses(
    chain: Chain,
    kind: str,
    source: Source,
    matcher: TableMatcher,
    bindings: Bindings,
    binding: Binding | None,
) -> list[Use]:
    uses = []
    for index, call in chain.method_calls():
        if call.method not in TABLE_METHODS[kind] or not call.args or _not_a_table(chain, index):
            continue
        calls = [c for _, c in chain.method_calls(index + 1)]
        use = _use(call.args[0], kind, calls, source, matcher, bindings)
        if use is not None:
            use.binding = binding
            uses.append(use)
    return uses


def _not_a_table(chain: Chain, index: int) -> bool:
    member = index - 1
    if member >= 1 and chain.links[member - 1].name == "storage":
        return True  # supabase.storage.from('bucket')
    return (
        member == 0
        and chain.root.type == "identifier"
        and chain.root.text is not None
        and (chain.root.text.decode() in BUILTINS)
    )


def _use(
    argument: Node,
    kind: str,
    calls: list,
    source: Source,
    matcher: TableMatcher,
    bindings: Bindings,
) -> Use | None:
    literal = string_value(argument, source)
    value = literal if literal is not None and not literal.holes else bindings.string(argument)
    if value is None:
        return Use(kind, argument.start_byte, None, calls, dynamic=argument)
    table = matcher.match_text(value.text)
    offset = value.offset_of(name_start(value.text)) if literal else argument.start_byte
    if table is None:  # still read the select string: it may embed a scanned table
        return Use(kind, offset, None, calls, parent=value.text.rpartition(".")[2].strip('"'))
    return Use(kind, offset, table, calls)


def report_supabase(use: Use, found: Found, matcher: TableMatcher) -> None:
    if use.dynamic is not None:
        if any(c.method in OPERATION_METHODS for c in use.calls):
            found.dynamic(use.dynamic)
        return
    analysis = analyze_chain(use.calls, use.kind, found.source, matcher)
    if use.table is not None:
        found.reference(use.offset, use.table, analysis.operation, analysis.columns, use.kind)
    parent = use.table if use.table is not None else use.parent
    for embedded in analysis.embedded:
        found.reference(
            embedded.offset, embedded.table, "select", embedded.columns, use.kind, parent=parent
        )


def name_start(text: str) -> int:
    """Index of the bare table name in `schema.table` / `"table"` as written in a string."""
    index = text.rfind(".") + 1
    return index + (1 if text[index : index + 1] == '"' else 0)
