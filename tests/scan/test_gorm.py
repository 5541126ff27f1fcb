"""GORM's chains in Go (migverify/scan/gorm.py): single forms the labelled corpus
(fixtures/scan/gorm) does not show on its own."""

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
