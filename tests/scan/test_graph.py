"""Tables reached through an ORM's model graph (relations) and through the names under which
models travel (re-exports, schemas, helpers taking a model's name): single forms the corpus
does not show on its own."""

from __future__ import annotations

from pathlib import Path

from migverify.scan import scan_paths
from migverify.scan.walk import Prefilter


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _scan(root: Path, tables: list[str]) -> tuple[list[tuple], list[tuple]]:
    result = scan_paths([root], tables, root=root, jobs=1)
    references = [(r.path, r.line, r.table, r.operation) for r in result.references]
    dynamic = [(d.path, d.line, d.expression, d.candidates) for d in result.dynamic]
    return references, dynamic


# --- Drizzle -------------------------------------------------------------------------------


SCHEMA = (
    "import { pgTable, serial, integer } from 'drizzle-orm/pg-core';\n"
    "export const tags = pgTable('tags', { id: serial('id'), postId: integer('post_id') });\n"
    "export const posts = pgTable('posts', { id: serial('id') });\n"
)


def test_drizzle_a_table_through_barrels_of_barrels_and_an_export_of_an_import(tmp_path):
    root = _tree(
        tmp_path,
        {
            "src/db/schema.ts": SCHEMA,
            "src/lib/tables.ts": "import { tags } from '../db/schema';\nexport { tags };\n",
            "src/lib/index.ts": "export * from './tables';\n",
            "src/api.ts": "import { tags as t } from '@/lib';\nexport const f = () => db.delete(t);\n",
        },
    )
    references, dynamic = _scan(root, ["tags"])
    assert references == [
        ("src/api.ts", 2, "tags", "delete"),
        ("src/db/schema.ts", 2, "tags", "model"),
    ]
    assert dynamic == []


def test_drizzle_a_re_export_cycle_ends(tmp_path):
    root = _tree(
        tmp_path,
        {
            "a/index.ts": "export * from '../b';\n",
            "b/index.ts": "export * from '../a';\n",
            "src/db/schema.ts": SCHEMA,
            "src/api.ts": "import { tags } from '../a';\nexport const f = () => db.delete(tags);\n",
        },
    )
    references, _ = _scan(root, ["tags"])
    assert references == [("src/db/schema.ts", 2, "tags", "model")]


def test_drizzle_define_relations_v2_and_nested_with(tmp_path):
    root = _tree(
        tmp_path,
        {
            "src/db/schema.ts": SCHEMA,
            "src/db/relations.ts": (
                "import * as schema from './schema';\n"
                "export const relations = defineRelations(schema, (r) => ({\n"
                "  posts: { tags: r.many.tags() },\n"
                "  tags: { post: r.one.posts({ from: r.tags.postId, to: r.posts.id }) },\n"
                "}));\n"
            ),
            "src/api.ts": (
                "export const f = () =>\n"
                "  db.query.posts.findMany({ with: { tags: { with: { post: true } } } });\n"
                "export const g = () => db.query.posts.findMany({ with: { tags: false } });\n"
            ),
        },
    )
    references, _ = _scan(root, ["tags", "posts"])
    assert references == [
        ("src/api.ts", 2, "posts", "select"),
        ("src/api.ts", 2, "tags", "select"),
        ("src/api.ts", 2, "posts", "select"),
        ("src/api.ts", 3, "posts", "select"),
        ("src/db/schema.ts", 2, "tags", "model"),
        ("src/db/schema.ts", 3, "posts", "model"),
    ]


def test_only_re_exports_send_a_file_without_names_to_the_parser():
    prefilter = Prefilter(["tags"])
    assert prefilter(b"export * from './schema';\n", "index.ts")
    assert prefilter(b"export { a as b } from './schema';\n", "index.ts")
    assert not prefilter(b"const a = 1;\nexport { a };\n", "index.ts")
    assert not prefilter(b"export * from './schema'\n", "module.py")
