"""diesel's query DSL in Rust (migverify/scan/diesel.py): single forms the labelled corpus
(fixtures/scan/diesel) does not show on its own."""

from __future__ import annotations

from pathlib import Path

from migverify.scan import scan_paths


def _scan(root: Path, files: dict[str, str], tables: list[str], jobs: int = 1) -> list[tuple]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    result = scan_paths([root], tables, root=root, jobs=jobs)
    return [(r.path, r.line, r.table, r.operation, r.columns) for r in result.references]


SCHEMA = """diesel::table! {
    #[sql_name = "legacy_orders"]
    orders (id) {
        id -> Int4,
        #[sql_name = "type"]
        kind -> Text,
        total -> Numeric,
    }
}

diesel::table! {
    analytics.events (id) {
        id -> Int8,
        name -> Text,
    }
}
"""


def test_a_renamed_table_is_found_in_other_files_by_its_rust_name(tmp_path):
    found = _scan(tmp_path, {
        "src/schema.rs": SCHEMA,
        "src/orders.rs": (
            "use crate::schema::orders;\n"
            "fn load(c: &mut PgConnection) {\n"
            "    orders::table.select((orders::kind, orders::total)).load::<(String, f64)>(c);\n"
            "}\n"
        ),
    }, ["legacy_orders"])  # fmt: skip
    assert found == [
        ("src/orders.rs", 3, "legacy_orders", "select", ("total", "type")),
        ("src/schema.rs", 3, "legacy_orders", "model", ()),
    ]


def test_a_table_renamed_away_is_not_the_legacy_table_of_its_rust_name(tmp_path):
    found = _scan(tmp_path, {
        "src/schema.rs": "table! {\n  #[sql_name = \"orders_v2\"]\n  orders (id) { id -> Int4, }\n}\n",
        "src/use.rs": "fn f(c: &mut PgConnection) { orders::table.load::<i32>(c); }\n",
    }, ["orders"])  # fmt: skip
    assert found == []


def test_a_schema_qualified_table_and_workers_give_the_same(tmp_path):
    files = {
        "src/schema.rs": SCHEMA,
        "src/events.rs": (
            "use crate::schema::events;\n"
            "fn prune(c: &mut PgConnection) {\n"
            '    diesel::delete(events::table.filter(events::name.eq("x"))).execute(c);\n'
            "}\n"
        ),
    }
    expected = [
        ("src/events.rs", 3, "analytics.events", "delete", ("name",)),
        ("src/schema.rs", 12, "analytics.events", "model", ()),
    ]
    assert _scan(tmp_path, files, ["analytics.events"]) == expected
    assert _scan(tmp_path, files, ["analytics.events"], jobs=2) == expected
    assert _scan(tmp_path, files, ["public.events"]) == []


def test_without_a_schema_in_the_tree_a_legacy_names_table_path_is_the_table(tmp_path):
    found = _scan(tmp_path, {
        "src/lib.rs": (
            "fn f(c: &mut PgConnection, rows: &[New]) {\n"
            "    diesel::insert_into(orders::table).values(rows).execute(c);\n"
            "    let mut seen = std::collections::HashMap::new();\n"
            "    seen.update(orders);\n"  # a method `update`, a local: not diesel
            "    update(orders::table.find(1)).set(orders::total.eq(2)).execute(c);\n"
            "}\n"
        ),
    }, ["orders"])  # fmt: skip
    assert found == [
        ("src/lib.rs", 2, "orders", "insert", ()),
        ("src/lib.rs", 5, "orders", "update", ("total",)),
    ]


def test_a_table_in_a_subquery_of_a_write_is_read(tmp_path):
    found = _scan(tmp_path, {
        "src/lib.rs": (
            "fn f(c: &mut PgConnection) {\n"
            "    diesel::update(users::table.filter(users::id.eq_any(\n"
            "        orders::table.select(orders::user_id))))\n"
            "        .set(users::active.eq(true)).execute(c);\n"
            "    diesel::insert_into(audit::table)\n"
            "        .values(orders::table.select((orders::id, orders::total)))\n"
            "        .execute(c);\n"
            "}\n"
        ),
    }, ["orders", "users"])  # fmt: skip
    assert found == [
        ("src/lib.rs", 2, "users", "update", ("active", "id")),
        ("src/lib.rs", 3, "orders", "select", ("user_id",)),
        ("src/lib.rs", 6, "orders", "select", ("id", "total")),
    ]


def test_dsl_glob_in_a_function_and_a_shadowing_binding(tmp_path):
    found = _scan(tmp_path, {
        "src/schema.rs": "table! {\n    orders (id) {\n        id -> Int4,\n    }\n}\n",
        "src/lib.rs": (
            "fn a(c: &mut PgConnection, wanted: i32) {\n"
            "    use crate::schema::orders::dsl::*;\n"
            "    orders.filter(id.eq(wanted)).load::<Order>(c);\n"
            "}\n"
            "fn b(orders: Vec<i32>) -> usize {\n"
            "    orders.len()\n"  # no glob import here: a local
            "}\n"
            "use crate::schema::orders::dsl::*;\n"
            "fn c(orders: &[i32]) -> usize { orders.len() }\n"  # the parameter shadows it
            "fn d(c: &mut PgConnection) { diesel::delete(orders).execute(c); }\n"
        ),
    }, ["orders"])  # fmt: skip
    assert found == [
        ("src/lib.rs", 3, "orders", "select", ("id",)),
        ("src/lib.rs", 10, "orders", "delete", ()),
        ("src/schema.rs", 2, "orders", "model", ()),
    ]


def test_struct_mappings_are_models(tmp_path):
    found = _scan(tmp_path, {
        "src/schema.rs": SCHEMA,
        "src/models.rs": (
            "#[derive(Insertable)]\n#[diesel(table_name = crate::schema::orders)]\n"
            "struct NewOrder { total: f64 }\n"
            "#[derive(Queryable, Identifiable)]\n#[table_name = \"orders\"]\n"
            "struct Order { id: i32 }\n"
            "#[derive(Queryable)]\n#[diesel(table_name = other)]\nstruct Other { id: i32 }\n"
        ),
    }, ["legacy_orders"])  # fmt: skip
    assert [f for f in found if f[0] == "src/models.rs"] == [
        ("src/models.rs", 2, "legacy_orders", "model", ()),
        ("src/models.rs", 5, "legacy_orders", "model", ()),
    ]


def test_a_row_of_unknown_type_updated_is_the_table_its_set_names(tmp_path):
    found = _scan(tmp_path, {
        "src/lib.rs": (
            "async fn touch(c: &mut PgConnection, builder: Builder) {\n"
            "    let order = builder.create(c).await;\n"  # a method's result: type unknown
            "    update(&order).set(orders::total.eq(0)).execute(c);\n"
            "    update(&order).set(&changes).execute(c);\n"  # nothing names the table
            "    let mut cache = HashMap::new();\n"
            "    cache.update(&order);\n"
            "}\n"
        ),
    }, ["orders"])  # fmt: skip
    assert found == [("src/lib.rs", 3, "orders", "update", ("total",))]


def test_rows_and_aliases_of_a_table_of_another_name_only_send_rust_files_again(tmp_path):
    found = _scan(tmp_path, {
        "src/schema.rs": SCHEMA,
        "src/models.rs": (
            "#[derive(Identifiable, AsChangeset)]\nstruct Order { id: i32 }\n"
            "diesel::alias!(orders as previous: Previous);\n"
        ),
        "src/use.rs": (
            "fn f(c: &mut PgConnection, o: Order) {\n"
            "    o.save_changes::<Order>(c);\n"
            "    orders::table.inner_join(previous.on(previous.field(orders::id).eq(orders::id)))"
            ".load::<(Order, Order)>(c);\n"
            "}\n"
        ),
        # the same names in TypeScript are not the Rust structs
        "web/order.ts": "export const Order = previous; db.delete(orders).where(eq(o.id, 1));\n",
    }, ["legacy_orders"])  # fmt: skip
    assert found == [
        ("src/models.rs", 2, "legacy_orders", "model", ()),
        ("src/schema.rs", 3, "legacy_orders", "model", ()),
        ("src/use.rs", 2, "legacy_orders", "update", ()),
        ("src/use.rs", 3, "legacy_orders", "select", ("id",)),
        ("src/use.rs", 3, "legacy_orders", "select", ("id",)),
    ]


def test_each_function_importing_the_dsl_and_assertions_expected_sql(tmp_path):
    found = _scan(tmp_path, {
        "src/lib.rs": (
            "table! {\n    posts {\n        id -> Int8,\n        draft -> Bool,\n    }\n}\n"
            "fn a(c: &mut PgConnection) {\n"
            "    use crate::posts::dsl::*;\n"
            "    diesel::update(posts).set(draft.eq(false)).execute(c);\n"
            "}\n"
            "fn b(c: &mut PgConnection) {\n"
            "    use crate::posts::dsl::*;\n"
            "    diesel::delete(posts.filter(id.eq(1))).execute(c);\n"
            "}\n"
            "#[test]\nfn sql() {\n"
            "    use crate::posts::dsl::*;\n"
            '    assert_eq!("UPDATE \\"posts\\" SET \\"draft\\" = $1",\n'
            "        debug_query(&diesel::update(posts).set(draft.eq(false))).to_string());\n"
            "}\n"
        ),
    }, ["posts"])  # fmt: skip
    assert found == [
        ("src/lib.rs", 2, "posts", "model", ()),
        ("src/lib.rs", 9, "posts", "update", ("draft",)),
        ("src/lib.rs", 13, "posts", "delete", ("id",)),
        ("src/lib.rs", 19, "posts", "update", ("draft",)),
    ]


def test_mappings_behind_cfg_attr_and_a_trait_naming_self_as_has_table(tmp_path):
    found = _scan(tmp_path, {
        "src/schema.rs": "diesel::table! {\n    person (id) {\n        id -> Int4,\n    }\n}\n",
        "src/source.rs": (
            "#[derive(Clone, Debug)]\n"
            '#[cfg_attr(feature = "full", derive(Queryable, Selectable, Identifiable))]\n'
            '#[cfg_attr(feature = "full", diesel(table_name = person))]\n'
            "pub struct Person { pub id: i32 }\n"
        ),
        "src/traits.rs": (
            "pub trait Crud: HasTable + Sized {\n"
            "    async fn delete(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<usize> {\n"
            "        diesel::delete(<Self as HasTable>::table().find(id)).execute(conn).await\n"
            "    }\n"
            "}\n"
            "impl Crud for Person {}\n"
        ),
        "src/api.rs": "async fn f(c: &mut AsyncPgConnection) { Person::delete(c, 1).await; }\n",
    }, ["person"])  # fmt: skip
    assert found == [
        ("src/api.rs", 1, "person", "delete", ()),
        ("src/schema.rs", 2, "person", "model", ()),
        ("src/source.rs", 3, "person", "model", ()),
    ]
