"""Rust's and Go's ORMs and query builders: diesel (migverify/scan/diesel.py), SeaORM
(seaorm.py), GORM (gorm.py), squirrel and goqu (gobuilders.py); single forms the labelled
corpus (fixtures/scan/{diesel,seaorm,gorm,squirrel}) does not show on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from migverify.scan import scan_paths
from migverify.scan.gorm import table_of


def _scan(root: Path, files: dict[str, str], tables: list[str], jobs: int = 1) -> list[tuple]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    result = scan_paths([root], tables, root=root, jobs=jobs)
    return [(r.path, r.line, r.table, r.operation, r.columns) for r in result.references]


# --- diesel ----------------------------------------------------------------------------------


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


# --- SeaORM ----------------------------------------------------------------------------------


ENTITY = """use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(schema_name = "archive", table_name = "legacy_posts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
}
"""


def test_an_entity_of_another_name_in_a_schema_through_its_module_and_a_mod_rs(tmp_path):
    files = {
        "src/entity/post/mod.rs": ENTITY,
        "src/handlers.rs": (
            "use crate::entity::post;\n"
            "async fn list(db: &DatabaseConnection) {\n"
            '    post::Entity::find().filter(post::Column::Title.contains("x")).all(db).await;\n'
            '    post::ActiveModel { title: Set("t".into()), ..Default::default() }.save(db).await;\n'
            "}\n"
        ),
    }
    expected = [
        ("src/entity/post/mod.rs", 4, "archive.legacy_posts", "model", ()),
        ("src/handlers.rs", 3, "archive.legacy_posts", "select", ("title",)),
        ("src/handlers.rs", 4, "archive.legacy_posts", "insert", ()),
        ("src/handlers.rs", 4, "archive.legacy_posts", "update", ()),
    ]
    assert _scan(tmp_path, files, ["archive.legacy_posts"]) == expected
    assert _scan(tmp_path, files, ["archive.legacy_posts"], jobs=2) == expected
    assert _scan(tmp_path, files, ["legacy_posts"]) == []  # public.legacy_posts: another table


def test_an_inline_module_and_an_alias_of_another_entity(tmp_path):
    found = _scan(tmp_path, {
        "src/lib.rs": (
            "mod cake {\n"
            "    use sea_orm::entity::prelude::*;\n"
            "    #[derive(DeriveEntityModel)]\n"
            "    #[sea_orm(table_name = \"cake\")]\n"
            "    pub struct Model { #[sea_orm(primary_key)] pub id: i32 }\n"
            "}\n"
            "use cake::Entity as Cake;\n"
            "use fruit::Entity as Fruit;\n"
            "async fn f(db: &DatabaseConnection) {\n"
            "    Cake::delete_by_id(1).exec(db).await;\n"
            "    Fruit::find().all(db).await;\n"
            "}\n"
        ),
    }, ["cake"])  # fmt: skip
    assert found == [
        ("src/lib.rs", 4, "cake", "model", ()),
        ("src/lib.rs", 10, "cake", "delete", ()),
    ]


def test_an_active_model_held_in_a_let_is_written_where_its_name_is(tmp_path):
    found = _scan(tmp_path, {
        "src/entity/cake.rs": ENTITY.replace('schema_name = "archive", ', "").replace(
            "legacy_posts", "cake"
        ),
        "src/lib.rs": (
            "async fn f(db: &DatabaseConnection) {\n"
            "    let fresh = cake::ActiveModel { ..Default::default() };\n"
            "    let kept = cake::ActiveModel { ..Default::default() };\n"
            "    db.transaction(|tx| Box::pin(async move { fresh.insert(tx).await })).await;\n"
            "    let _ = kept;\n"
            "}\n"
        ),
    }, ["cake"])  # fmt: skip
    assert [f for f in found if f[0] == "src/lib.rs"] == [("src/lib.rs", 2, "cake", "insert", ())]


# --- GORM, squirrel, goqu ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("struct", "table"),
    [
        ("User", "users"),
        ("UserProfile", "user_profiles"),
        ("APIKey", "api_keys"),
        ("SMTP", "smtps"),
        ("Person", "people"),
        ("Category", "categories"),
        ("MailLog", "mail_logs"),
    ],
)
def test_gorm_default_table_names(struct, table):
    assert table_of(struct) == table


def test_a_table_name_method_in_another_file_and_workers_give_the_same(tmp_path):
    files = {
        "models/metric.go": (
            "package models\n\ntype Metric struct{ ID int64 }\n\n"
            'func (m *Metric) TableName() string { return "legacy_metrics" }\n'
        ),
        "models/repo.go": (
            "package models\n\n"
            "func All() ([]Metric, error) {\n"
            "\tvar ms []Metric\n"
            "\terr := db.Find(&ms).Error\n"
            "\treturn ms, err\n"
            "}\n"
        ),
    }
    expected = [
        ("models/metric.go", 5, "legacy_metrics", "model", ()),
        ("models/repo.go", 5, "legacy_metrics", "select", ()),
    ]
    assert _scan(tmp_path, files, ["legacy_metrics"]) == expected
    assert _scan(tmp_path, files, ["legacy_metrics"], jobs=2) == expected
    # the struct's default name is not its table
    assert _scan(tmp_path, files, ["metrics"]) == []


def test_values_of_fields_elements_and_held_chains(tmp_path):
    found = _scan(tmp_path, {
        "store/store.go": (
            "package store\n\n"
            "type Header struct{ ID int64 }\n"
            "type SMTP struct {\n\tID      int64\n\tHeaders []Header\n}\n\n"
            "func Load(s *SMTP, hs []*Header) {\n"
            "\tdb.Where(\"smtp_id = ?\", s.ID).Find(&s.Headers)\n"  # line 10: a field
            "\tfor i := range hs {\n\t\tdb.Save(hs[i])\n\t}\n"  # line 12: an element
            "\tq := db.Table(\"headers\")\n"  # line 14: the chain's table, held
            "\tq = q.Where(\"id > ?\", 1)\n"
            "\tvar n int64\n\tq.Count(&n)\n"
            "\tvar one Header\n\tdb.Where(\"id = 1\").Find(&one).Count(&n)\n"  # line 19
            "}\n"
        ),
    }, ["headers"])  # fmt: skip
    assert found == [
        ("store/store.go", 10, "headers", "select", ()),
        ("store/store.go", 12, "headers", "insert", ()),
        ("store/store.go", 12, "headers", "update", ()),
        ("store/store.go", 14, "headers", "select", ()),
        ("store/store.go", 19, "headers", "select", ()),
    ]


def test_calls_that_are_not_gorms_are_not_references(tmp_path):
    found = _scan(tmp_path, {
        "app/app.go": (
            "package app\n\n"
            "type User struct{ ID int64 }\n\n"
            "func F(cache *Cache, doc *goquery.Document, u User, store sessions.Store) {\n"
            "\tcache.Delete(&u)\n"
            "\tdoc.Find(\"form\")\n"
            "\tstore.Save(&u)\n"
            "\tdb.Delete(&u)\n"  # line 9: a receiver named db
            "}\n"
        ),
    }, ["users"])  # fmt: skip
    assert found == [("app/app.go", 9, "users", "delete", ())]


def test_squirrel_and_goqu_table_names_only_in_builders_chains(tmp_path):
    found = _scan(tmp_path, {
        "repo/repo.go": (
            "package repo\n\n"
            "func F(db *sql.DB, gdb *goqu.Database, u *User, r *Reader) {\n"
            '\tsq.Select("id").From("public.users AS u").Where(sq.Eq{"id": 1}).RunWith(db).Query()\n'
            '\tgdb.Update("users").Set(goqu.Record{"name": "x"}).Executor().Exec()\n'
            '\tgdb.Delete("users").Where(goqu.Ex{"id": 1}).Executor().Exec()\n'
            '\tr.From("users")\n'  # no builder
            '\tdb.Model(u).Update("name", "users")\n'  # GORM's: the users of User, not the text
            "}\n"
        ),
    }, ["users"])  # fmt: skip
    assert found == [
        ("repo/repo.go", 4, "users", "select", ()),
        ("repo/repo.go", 5, "users", "update", ()),
        ("repo/repo.go", 6, "users", "delete", ()),
        ("repo/repo.go", 8, "users", "update", ("name",)),
    ]


def test_ent_entities_of_another_table_name_and_builders_on_any_client(tmp_path):
    found = _scan(tmp_path, {
        "ent/user/user.go": (
            "// Code generated by ent, DO NOT EDIT.\n\npackage user\n\nconst (\n"
            '\tLabel = "user_profile"\n\tTable = "legacy_profiles"\n)\n'
        ),
        "app/app.go": (
            "package app\n\n"
            "func F(ctx context.Context, s *Server, tx *ent.Tx) {\n"
            "\ts.db.UserProfile.Query().All(ctx)\n"
            "\ttx.UserProfile.Delete().Exec(ctx)\n"
            "\ts.cache.UserProfile.Clear()\n"  # not a builder's method
            "}\n"
        ),
    }, ["legacy_profiles"])  # fmt: skip
    assert found == [
        ("app/app.go", 4, "legacy_profiles", "select", ()),
        ("app/app.go", 5, "legacy_profiles", "delete", ()),
        ("ent/user/user.go", 7, "legacy_profiles", "model", ()),
    ]
