"""Human-readable rendering of a schema catalog (`migverify inspect`)."""

from __future__ import annotations

from migverify.catalog import Catalog, Column, Relation


def render_catalog_text(catalog: Catalog) -> str:
    lines = [f"PostgreSQL {catalog.server_version // 10000}.{catalog.server_version % 10000}"]
    for relation in catalog.relations:
        lines.append("")
        lines.extend(_relation_lines(relation))
    if catalog.sequences:
        lines.append("")
        lines.append("sequences:")
        for seq in catalog.sequences:
            owner = f"  owned by {seq.owned_by}" if seq.owned_by else ""
            lines.append(
                f"  {seq.qualified_name} {seq.data_type} last_value={seq.last_value} "
                f"is_called={str(seq.is_called).lower()} increment={seq.increment}{owner}"
            )
    return "\n".join(lines) + "\n"


def _relation_lines(rel: Relation) -> list[str]:
    header = f"{rel.kind} {rel.qualified_name} (owner {rel.owner})"
    if rel.is_view:
        ops = ", ".join(rel.updatable_operations) or "none"
        header += f"  auto-updatable: {ops}"
        if rel.trigger_operations:
            header += f"; via triggers: {', '.join(rel.trigger_operations)}"
    if rel.rls_enabled:
        header += "  RLS enabled" + (" (forced)" if rel.rls_forced else "")
    lines = [header]
    if rel.comment:
        lines.append(f"  -- {rel.comment}")
    width = max((len(c.name) for c in rel.columns), default=0)
    for column in rel.columns:
        lines.append(f"  {column.name.ljust(width)}  {_column_text(column, rel.is_view)}")
    lines += [f"  {c.kind} {c.name}: {c.definition}" for c in rel.constraints]
    lines += [f"  index {i.name}: {i.definition}" for i in rel.indexes]
    lines += [
        f"  trigger {t.name}: {t.timing} {' OR '.join(t.events)} FOR EACH {t.level} "
        f"EXECUTE {t.function}"
        for t in rel.triggers
    ]
    for p in rel.policies:
        kind = "permissive" if p.permissive else "restrictive"
        lines.append(
            f"  policy {p.name}: {kind} {p.command} TO {', '.join(p.roles)}"
            + (f" USING ({p.using})" if p.using else "")
            + (f" WITH CHECK ({p.with_check})" if p.with_check else "")
        )
    grants: dict[str, list[str]] = {}
    for g in rel.grants:
        grants.setdefault(g.grantee, []).append(g.privilege + (f"({g.column})" if g.column else ""))
    lines += [f"  grant {role}: {', '.join(privs)}" for role, privs in grants.items()]
    if rel.view_options:
        lines.append(f"  options: {', '.join(rel.view_options)}")
    if rel.view_definition:
        lines.append("  definition: " + " ".join(rel.view_definition.split()))
    return lines


def _column_text(column: Column, is_view: bool) -> str:
    parts = [column.type]
    if column.not_null:
        parts.append("NOT NULL")
    if column.identity:
        parts.append(f"GENERATED {column.identity.upper()} AS IDENTITY")
    if column.generated:
        parts.append(
            f"GENERATED ALWAYS AS ({column.generated}) {(column.generated_kind or '').upper()}"
        )
    if column.default is not None:
        parts.append(f"DEFAULT {column.default} [{column.default_volatility}]")
    if is_view and not column.updatable:
        parts.append("(not updatable)")
    return " ".join(parts)
