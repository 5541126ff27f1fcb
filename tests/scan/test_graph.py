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


def _scan(root: Path, tables: list[str], under: str = "") -> tuple[list[tuple], list[tuple]]:
    """References (those in files under UNDER) and dynamic references of the tree ROOT."""
    result = scan_paths([root], tables, root=root, jobs=1)
    references = [
        (r.path, r.line, r.table, r.operation)
        for r in result.references
        if r.path.startswith(under)
    ]
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


def test_the_prefilter_finds_every_name_and_hint_past_64_patterns():
    """Its automata hold at most 64 patterns each (the SIMD prefilter's limit): with 80 table
    names the last ones, the hints after them, and a statement's hole are still found; a
    name inside a longer identifier still is not."""
    names = [f"legacy_table_{i:02d}" for i in range(80)]
    prefilter = Prefilter(names)
    assert len(prefilter.automata) > 1 and len(prefilter.python_automata) > 1
    assert prefilter(b"await db.query('select * from legacy_table_79');\n", "a.ts")
    assert prefilter(b"rows = cur.execute('select 1 from legacy_table_00')\n", "a.py")
    assert not prefilter(b"const legacy_table_79_archive = 1;\n", "a.ts")
    assert prefilter(b"export const t = pgTable('users', {});\n", "schema.ts")  # a hint
    assert prefilter(b"db.query(`SELECT * FROM ${table}`);\n", "a.ts")  # a statement's hole
    assert prefilter(b'cur.execute(f"delete from {table}")\n', "a.py")
    assert not prefilter(b"import { a } from './b';\nconst c = a;\n", "a.ts")


# --- Prisma --------------------------------------------------------------------------------

PRISMA = """
model User {
  id       Int       @id
  posts    Post[]
  profile  Profile?
}

model Post {
  id       Int       @id
  authorId Int
  author   User      @relation(fields: [authorId], references: [id])
  comments Comment[]
  @@map("posts")
}

model Comment {
  id     Int  @id
  postId Int
  post   Post @relation(fields: [postId], references: [id])
  @@map("comments")
}

model Profile {
  id     Int  @id
  userId Int  @unique
  user   User @relation(fields: [userId], references: [id])
  @@map("profiles")
}
"""
TABLES = ["posts", "comments", "profiles"]


def test_prisma_nested_writes_down_the_graph_and_data_held_in_a_name(tmp_path):
    root = _tree(
        tmp_path,
        {
            "prisma/schema.prisma": PRISMA,
            "src/a.ts": (
                "export async function f(prisma, id) {\n"
                "  const data = { posts: { create: { comments: { createMany: { data: [] } } } } };\n"
                "  await prisma.user.create({ data });\n"
                "  await prisma.user.update({ where: { id }, data: { posts: { set: [] } } });\n"
                "  await prisma.post.update({ where: { id }, data: { author: { connect: { id } } } });\n"
                "  await prisma.user.update({ where: { id }, data: { profile: { upsert: {} } } });\n"
                "  await prisma.comment.findMany({ where: { post: { is: { author: { id } } } } });\n"
                "}\n"
            ),
        },
    )
    references, _ = _scan(root, TABLES, "src/")
    assert references == [
        ("src/a.ts", 2, "posts", "insert"),
        ("src/a.ts", 2, "comments", "insert"),
        ("src/a.ts", 4, "posts", "update"),  # set: the posts' foreign key
        ("src/a.ts", 5, "posts", "update"),  # connect: the post's own key, no write of User
        ("src/a.ts", 6, "profiles", "upsert"),
        ("src/a.ts", 7, "comments", "select"),
        ("src/a.ts", 7, "posts", "select"),
    ]


SELF_RELATIONS = """
model User {
  id        Int    @id
  followers User[] @relation("Follows")
  following User[] @relation("Follows")
  parentId  Int?
  parent    User?  @relation("Tree", fields: [parentId], references: [id])
  children  User[] @relation("Tree")
  @@map("users")
}
"""


def test_prisma_implicit_many_to_many_join_tables_and_self_relations(tmp_path):
    """Two list fields of one relation name make a join table (`_Follows`); a one-to-many
    self-relation (`children` / `parent`) has none, its list side writes the users' key."""
    root = _tree(
        tmp_path,
        {
            "prisma/schema.prisma": SELF_RELATIONS,
            "src/a.ts": (
                "export async function f(prisma, id) {\n"
                "  await prisma.user.update({ where: { id }, data: { followers: { connect: { id } } } });\n"
                "  await prisma.user.update({ where: { id }, data: { children: { connect: { id } } } });\n"
                "  await prisma.user.findMany({ include: { following: true } });\n"
                "}\n"
            ),
        },
    )
    references, _ = _scan(root, ["users", "_Follows", "_Tree", "_UserToUser"], "")
    assert sorted(set(references)) == [
        ("prisma/schema.prisma", 4, "_Follows", "model"),
        ("prisma/schema.prisma", 5, "_Follows", "model"),
        ("prisma/schema.prisma", 9, "users", "model"),
        ("src/a.ts", 2, "_Follows", "insert"),  # connect: a row of the join table
        ("src/a.ts", 2, "users", "update"),
        ("src/a.ts", 3, "users", "update"),  # the children's own key: no join table
        ("src/a.ts", 4, "_Follows", "select"),
        ("src/a.ts", 4, "users", "select"),
    ]


def test_prisma_helpers_as_methods_through_a_namespace_and_a_constant(tmp_path):
    root = _tree(
        tmp_path,
        {
            "prisma/schema.prisma": PRISMA,
            "src/repo.ts": (
                "export class Repo {\n"
                "  async purge(model: string) { return this.prisma[model].deleteMany(); }\n"
                "}\n"
                "export const helpers = {\n"
                "  upsertOne: (where, model) => prisma[model].upsert({ where }),\n"
                "};\n"
            ),
            "src/use.ts": (
                "import * as repo from './repo';\n"
                "const MODEL = 'comment';\n"
                "export const a = () => repo.purge('post');\n"
                "export const b = (w) => repo.upsertOne(w, MODEL);\n"
                "export const c = () => other.purge('post');\n"
            ),
        },
    )
    references, dynamic = _scan(root, TABLES, "src/use.ts")
    assert references == [
        ("src/use.ts", 2, "comments", "upsert"),
        ("src/use.ts", 3, "posts", "delete"),
    ]
    assert [(d[0], d[1]) for d in dynamic] == [("src/repo.ts", 2), ("src/repo.ts", 5)]


def test_prisma_a_model_name_given_to_a_prisma_function_not_seen_is_dynamic(tmp_path):
    root = _tree(
        tmp_path,
        {
            "prisma/schema.prisma": PRISMA,
            "src/a.ts": (
                "import { paginate } from '@/lib/prisma-extras';\n"
                "import { t } from 'i18next';\n"
                "export const a = () => paginate('comment', 1);\n"
                "export const b = () => this.prisma.countRows('Post');\n"
                "export const c = () => t('comment');\n"
                "export const d = () => paginate('user', 1);\n"
            ),
        },
    )
    references, dynamic = _scan(root, TABLES, "src/")
    assert references == []
    assert dynamic == [
        ("src/a.ts", 3, "'comment'", ("Comment (comments)",)),
        ("src/a.ts", 4, "'Post'", ("Post (posts)",)),
    ]


# --- SQLAlchemy ----------------------------------------------------------------------------

MODELS = """from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order")

    def add_line(self, sku):
        self.lines.append(OrderLine(sku=sku))


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order: Mapped["Order"] = relationship(back_populates="lines")
"""


def test_sqlalchemy_instances_from_statements_loops_and_comprehensions(tmp_path):
    root = _tree(
        tmp_path,
        {
            "shop/models.py": MODELS,
            "shop/service.py": (
                "from sqlalchemy import select\n"
                "from shop.models import Order, OrderLine\n"
                "\n"
                "def close(session, order_id):\n"
                "    stmt = select(Order).where(Order.id == order_id)\n"
                "    order = session.execute(stmt).scalar_one()\n"
                "    session.delete(order)\n"
                "    for line in session.scalars(select(OrderLine)):\n"
                "        session.delete(line)\n"
                "    session.add_all([OrderLine(sku=s) for s in 'ab'])\n"
                "    cache = {}\n"
                "    cache.add(order)\n"
                "    return sum(len(line.order.lines) for line in order.lines)\n"
            ),
        },
    )
    references, _ = _scan(root, ["orders", "order_lines"], "shop/service.py")
    assert references == [
        ("shop/service.py", 5, "orders", "select"),
        ("shop/service.py", 7, "orders", "delete"),
        ("shop/service.py", 8, "order_lines", "select"),
        ("shop/service.py", 9, "order_lines", "delete"),
        ("shop/service.py", 10, "order_lines", "insert"),
        ("shop/service.py", 13, "orders", "select"),  # line.order
        ("shop/service.py", 13, "order_lines", "select"),  # order.lines
    ]


def test_sqlalchemy_rows_saving_themselves_through_a_mixin_and_a_name_bound_to_itself(tmp_path):
    """A mixin's save()/remove() running the session on `self` make `row.save()` a write; a
    name bound to a query on itself (`q = q.update(…)`) ends, it does not recurse for ever."""
    root = _tree(
        tmp_path,
        {
            "shop/models.py": MODELS,
            "shop/crud.py": (
                "class CRUDMixin:\n"
                "    def save(self):\n"
                "        db.session.add(self)\n"
                "        db.session.commit()\n"
                "        return self\n"
                "\n"
                "    def remove(self):\n"
                "        db.session.delete(self)\n"
            ),
            "shop/service.py": (
                "from shop.models import Order\n"
                "\n"
                "def open_order(session, order_id):\n"
                "    Order().save()\n"
                "    order = session.get(Order, order_id)\n"
                "    order.save()\n"
                "    order.remove()\n"
                "    q = order.lines.filter_by(sku='x')\n"
                "    q = q.update({'sku': 'y'}).first()\n"
                "    return q\n"
            ),
        },
    )
    references, _ = _scan(root, ["orders"], "shop/service.py")
    assert references == [
        ("shop/service.py", 4, "orders", "insert"),  # a new row's save
        ("shop/service.py", 5, "orders", "select"),
        ("shop/service.py", 6, "orders", "update"),  # a stored row's save
        ("shop/service.py", 7, "orders", "delete"),
    ]


def test_sqlalchemy_self_in_a_model_method_and_a_string_backref(tmp_path):
    root = _tree(
        tmp_path,
        {
            "shop/models.py": MODELS.replace(
                'order: Mapped["Order"] = relationship(back_populates="lines")',
                'order = relationship("Order", backref="notes")',
            ),
            "shop/notes.py": (
                "from shop.models import Order\n\n"
                "def notes(order: Order):\n"
                "    return list(order.notes)\n"
            ),
        },
    )
    references, _ = _scan(root, ["orders", "order_lines"])
    assert ("shop/models.py", 14, "order_lines", "insert") in references  # self.lines
    assert ("shop/notes.py", 4, "order_lines", "select") in references


def test_sqlalchemy_a_relationship_target_is_the_nearest_class_of_its_name(tmp_path):
    other = MODELS.replace('"orders"', '"archived_orders"').replace(
        '"order_lines"', '"archived_lines"'
    )
    root = _tree(
        tmp_path,
        {
            "shop/models.py": MODELS,
            "archive/models.py": other,
            "archive/report.py": (
                "from archive.models import Order\n\n"
                "def lines(order: Order):\n"
                "    return [line.id for line in order.lines]\n"
            ),
        },
    )
    references, _ = _scan(root, ["order_lines", "archived_lines"], "archive/report.py")
    assert references == [("archive/report.py", 4, "archived_lines", "select")]


def test_sqlalchemy_a_schema_instance_imported_through_its_module(tmp_path):
    root = _tree(
        tmp_path,
        {
            "shop/models.py": MODELS,
            "shop/schemas.py": (
                "from marshmallow_sqlalchemy import SQLAlchemySchema\n"
                "from . import models\n\n"
                "class BaseSchema(SQLAlchemySchema):\n    pass\n\n"
                "class OrderSchema(BaseSchema):\n"
                "    class Meta:\n        model = models.Order\n\n"
                "order_schema = OrderSchema()\n"
            ),
            "shop/api.py": (
                "from shop import schemas\n\n"
                "def create(session, data):\n"
                "    order = schemas.order_schema.load(data)\n"
                "    session.add(order)\n"
            ),
        },
    )
    references, _ = _scan(root, ["orders"], "shop/api.py")
    assert references == [("shop/api.py", 5, "orders", "insert")]


def test_a_barrel_is_read_for_its_exports_alone():
    from migverify.scan.typescript import reexports_in

    text = (
        b"export * from './a';\n"
        b'export { b, type C, d as e } from "./f";\n'
        b"export type { G } from './g';\n"
        b"export * as ns from './h';\n"
    )
    parsed = reexports_in("i.ts", text)
    assert [(a.kind, a.name, a.target.name, a.target.module) for a in parsed] == [
        ("export", "*", "*", "./a"),
        ("export", "b", "b", "./f"),
        ("export", "C", "C", "./f"),
        ("export", "e", "d", "./f"),
        ("export", "G", "G", "./g"),
        ("namespace", "ns", "*", "./h"),  # the module itself, under a name
    ]


def test_candidates_are_in_json_and_in_the_text_output(tmp_path):
    import json

    from click.testing import CliRunner

    from migverify.cli import cli

    _tree(
        tmp_path,
        {
            "prisma/schema.prisma": PRISMA,
            "a.ts": "export const a = () => prisma.paged('comment');\n",
        },
    )
    run = ["scan", str(tmp_path), "--table", "comments", "--format"]
    data = json.loads(CliRunner().invoke(cli, [*run, "json"]).output)
    assert [d["candidates"] for d in data["dynamic"]] == [["Comment (comments)"]]
    text = CliRunner().invoke(cli, [*run, "text"]).output
    assert "'comment' (may be: Comment (comments))" in text


def test_sqlalchemy_relationships_walked_in_jinja_templates(tmp_path):
    """A Flask app's template reading a relationship loads its rows (and the association table
    of a many-to-many one); a name two relationships share with different targets counts for
    neither, and a comment or plain text is not evaluated."""
    models = (
        "from flask_sqlalchemy import SQLAlchemy\n"
        "db = SQLAlchemy()\n"
        "post_tags = db.Table('post_tags', db.Column('post_id'), db.Column('tag_id'))\n"
        "class Post(db.Model):\n"
        "    __tablename__ = 'posts'\n"
        "    tags = db.relationship('Tag', secondary=post_tags)\n"
        "    items = db.relationship('Tag')\n"
        "class Tag(db.Model):\n"
        "    __tablename__ = 'tags'\n"
        "class Shelf(db.Model):\n"
        "    items = db.relationship('Post')\n"
    )
    template = (
        "{% for t in post.tags %}{{ t.label }}{% endfor %}\n"
        "{{ user.posts }} {{ post.items|length }}\n"
        "{# {{ post.tags }} #} post.tags\n"
    )
    _tree(tmp_path, {"app/models.py": models, "app/templates/post.html": template})
    references, _ = _scan(tmp_path, ["tags", "post_tags", "posts"], under="app/templates")
    assert references == [
        ("app/templates/post.html", 1, "post_tags", "select"),
        ("app/templates/post.html", 1, "tags", "select"),
    ]
