"""ORM models across files: what the corpus cannot show on its own."""

from __future__ import annotations

import json
from pathlib import Path

import migverify.scan as scan
from migverify.scan import scan_paths, scan_source
from migverify.scan.orm import module_leads_to, snake_case

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "scan"


def test_worker_processes_resolve_models_like_one_process(monkeypatch):
    """Declarations found by one worker resolve uses found by another, in the same order."""
    tables = json.loads((CORPUS / "expected.json").read_text())["tables"]
    alone = scan_paths([CORPUS], tables, root=CORPUS, jobs=1)
    monkeypatch.setattr(scan, "CHUNK", 7)
    pooled = scan_paths([CORPUS], tables, root=CORPUS, jobs=2)
    assert pooled.to_dict() == alone.to_dict()
    assert any(r.kind == "django" and r.path == "django/shop/views.py" for r in pooled.references)


def test_a_model_used_in_its_own_file_resolves_without_the_tree():
    code = (
        "class UserItem(Base):\n"
        "    __tablename__ = 'user_items'\n\n"
        "def items(session):\n"
        "    return session.query(UserItem).all()\n"
    )
    references, _ = scan_source("models.py", code.encode(), ["user_items"])
    assert [(r.line, r.operation, r.kind) for r in references] == [
        (2, "model", "sqlalchemy"),
        (5, "select", "sqlalchemy"),
    ]


def test_a_use_in_a_file_without_the_table_name_is_found(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "schema.ts").write_text(
        "export const items = pgTable('user_items', { id: serial('id') });\n"
    )
    (tmp_path / "api.ts").write_text(
        "import { items } from './db/schema';\nexport const f = () => db.delete(items);\n"
    )
    result = scan_paths([tmp_path], ["user_items"], root=tmp_path, jobs=1)
    assert [(r.path, r.line, r.operation) for r in result.references] == [
        ("api.ts", 2, "delete"),
        ("db/schema.ts", 1, "model"),
    ]


def test_django_app_label_is_the_directory_of_models_or_meta(tmp_path):
    app = tmp_path / "billing" / "models"
    app.mkdir(parents=True)
    (app / "invoice.py").write_text(
        "from django.db import models\n\n"
        "class Invoice(models.Model):\n    pass\n\n"
        "class Line(models.Model):\n    class Meta:\n        app_label = 'ledger'\n"
    )
    result = scan_paths([tmp_path], ["billing_invoice", "ledger_line"], root=tmp_path, jobs=1)
    assert [(r.table, r.operation) for r in result.references] == [
        ("billing_invoice", "model"),
        ("ledger_line", "model"),
    ]


def test_module_paths():
    assert module_leads_to("./db/schema", "src/a.ts", "src/db/schema.ts")
    assert module_leads_to("../db", "src/api/a.ts", "src/db/index.ts")
    assert module_leads_to("@/db/schema", "src/a.ts", "src/db/schema.ts")
    assert not module_leads_to("./local", "src/a.ts", "src/db/schema.ts")
    assert module_leads_to(".models", "shop/views.py", "shop/models.py")
    assert module_leads_to("..models", "shop/api/views.py", "shop/models/item.py")
    assert module_leads_to("shop.models", "x/views.py", "src/shop/models.py")
    assert not module_leads_to("other.models", "x/views.py", "src/shop/models.py")
    assert snake_case("UserItem") == "user_item" and snake_case("HTTPLog") == "http_log"


def test_the_node_kind_queries_are_compiled_once():
    """nodes_of runs for every file many times: its tree-sitter query is compiled once per
    grammar and kinds (compiling it each time tripled a Django code base's scan)."""
    from migverify.scan import orm
    from migverify.scan.python import _parser

    tree = _parser().parse(b"import a\n\ndef f():\n    from b import c\n")
    before = orm._kinds_query.cache_info().hits
    for _ in range(3):
        assert len(orm.nodes_of(tree, ("import_statement", "import_from_statement"))) == 2
    assert orm._kinds_query.cache_info().hits >= before + 2


def _scan(root: Path, tables: list[str]) -> list[tuple[str, int, str, str]]:
    result = scan_paths([root], tables, root=root, jobs=1)
    return [(r.path, r.line, r.table, r.operation) for r in result.references]


def test_model_inheritance_single_table_and_joined_across_files(tmp_path):
    """SQLAlchemy: a subclass without a table of its own is in its parent's table (declared in
    another module too); one with its own table is joined to the parent's, which a read or a
    delete of it reads or deletes too (an update only writes the columns it changes)."""
    (tmp_path / "models.py").write_text(
        "from flask_sqlalchemy import SQLAlchemy\n"
        "db = SQLAlchemy()\n\n"
        "class Users(db.Model):\n"
        "    __tablename__ = 'users'\n"
        "    id = db.Column(db.Integer, primary_key=True)\n"
        "    __mapper_args__ = {'polymorphic_on': 'type'}\n"
    )
    (tmp_path / "roles.py").write_text(
        "from models import Users, db\n\n"
        "class Admins(Users):\n"
        "    __mapper_args__ = {'polymorphic_identity': 'admin'}\n\n"
        "class Bots(Users):\n"
        "    id = db.Column(db.Integer, db.ForeignKey('users.id'), primary_key=True)\n"
    )
    (tmp_path / "views.py").write_text(
        "from roles import Admins, Bots\n"
        "from models import db\n\n"
        "def f(name):\n"
        "    db.session.add(Admins(name=name))\n"
        "    bot = Bots.query.first()\n"
        "    bot.name = name\n"
        "    db.session.commit()\n"
        "    db.session.delete(bot)\n"
    )
    assert _scan(tmp_path, ["users", "bots"]) == [
        ("models.py", 5, "users", "model"),
        ("roles.py", 3, "users", "model"),
        ("roles.py", 6, "bots", "model"),
        ("views.py", 5, "users", "insert"),
        ("views.py", 6, "bots", "select"),
        ("views.py", 6, "users", "select"),
        ("views.py", 7, "bots", "update"),
        ("views.py", 9, "bots", "delete"),
        ("views.py", 9, "users", "delete"),
    ]
    # a plain SQLAlchemy subclass with a key of its own but no table name is not a model
    (tmp_path / "models.py").write_text(
        "class Users(Base):\n    __tablename__ = 'users'\n\n"
        "class Odd(Users):\n    id = Column(Integer, primary_key=True)\n\n"
        "def g(session):\n    return session.query(Odd).all()\n"
    )
    (tmp_path / "roles.py").unlink()
    (tmp_path / "views.py").unlink()
    assert _scan(tmp_path, ["users", "odd"]) == [("models.py", 2, "users", "model")]


def test_django_multi_table_inheritance(tmp_path):
    """A subclass of a concrete model has its own table joined to its parent's: its rows are
    read, inserted, saved and deleted in both; deleting the parent's rows deletes its rows
    (the parent link cascades). An abstract parent has no table; a proxy uses its parent's."""
    places = tmp_path / "places"
    places.mkdir()
    (places / "models.py").write_text(
        "from django.db import models\n\n"
        "class Named(models.Model):\n"
        "    class Meta:\n        abstract = True\n\n"
        "class Place(Named):\n    pass\n\n"
        "class Spot(Place):\n"
        "    class Meta:\n        proxy = True\n"
    )
    food = tmp_path / "food"
    food.mkdir()
    (food / "models.py").write_text(
        "from django.db import models\nfrom places.models import Place\n\n"
        "class Restaurant(Place):\n    pizza = models.BooleanField()\n"
    )
    (food / "views.py").write_text(
        "from food.models import Restaurant\nfrom places.models import Place, Spot\n\n"
        "def f():\n"
        "    r = Restaurant.objects.create(pizza=True)\n"
        "    r.save()\n"
        "    Place.objects.all().delete()\n"
        "    Spot.objects.count()\n"
    )
    assert _scan(tmp_path, ["places_place", "food_restaurant"]) == [
        ("food/models.py", 4, "food_restaurant", "model"),
        ("food/views.py", 5, "food_restaurant", "insert"),
        ("food/views.py", 5, "places_place", "insert"),
        ("food/views.py", 6, "food_restaurant", "update"),
        ("food/views.py", 6, "places_place", "update"),
        ("food/views.py", 7, "food_restaurant", "delete"),
        ("food/views.py", 7, "places_place", "delete"),
        ("food/views.py", 8, "places_place", "select"),
        ("places/models.py", 7, "places_place", "model"),
        ("places/models.py", 10, "places_place", "model"),
    ]


def test_django_user_model_is_what_request_user_and_get_user_model_are(tmp_path):
    """AUTH_USER_MODEL names the model `request.user` is a row of and `get_user_model()` is;
    without the setting (or with Django's own auth.User) a request's user is not a scanned
    model's row."""
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    (accounts / "models.py").write_text(
        "from django.contrib.auth.models import AbstractUser\nfrom django.db import models\n\n"
        "class Member(AbstractUser):\n    bio = models.TextField()\n"
    )
    (accounts / "views.py").write_text(
        "from django.contrib.auth import get_user_model\n\n"
        "def bio(request):\n"
        "    request.user.bio = request.POST['bio']\n"
        "    request.user.save()\n\n"
        "def off(pk):\n"
        "    User = get_user_model()\n"
        "    User.objects.filter(pk=pk).update(is_active=False)\n"
    )
    (tmp_path / "settings.py").write_text('AUTH_USER_MODEL = "accounts.Member"\n')
    assert _scan(tmp_path, ["accounts_member"]) == [
        ("accounts/models.py", 4, "accounts_member", "model"),
        ("accounts/views.py", 5, "accounts_member", "update"),
        ("accounts/views.py", 9, "accounts_member", "update"),
    ]
    (tmp_path / "settings.py").write_text('AUTH_USER_MODEL = "auth.User"\n')
    assert _scan(tmp_path, ["accounts_member"]) == [
        ("accounts/models.py", 4, "accounts_member", "model"),
    ]
