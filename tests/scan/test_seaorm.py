"""SeaORM's entities in Rust (migverify/scan/seaorm.py): single forms the labelled corpus
(fixtures/scan/seaorm) does not show on its own."""

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
