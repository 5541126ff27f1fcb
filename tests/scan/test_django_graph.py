"""Django's model graph: relations, rows, lookups, data migrations and templates, in forms the
corpus (fixtures/scan/django/teams) does not show on its own."""

from __future__ import annotations

from pathlib import Path

import migverify.scan.django_templates as templates
from migverify.scan import scan_paths
from migverify.scan.walk import candidate_files

MODELS = """\
from django.db import models


class User(models.Model):
    name = models.CharField(max_length=80)


class Project(models.Model):
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notes")
    friends = models.ManyToManyField("self")
    labels = models.ManyToManyField("Label", db_table="project_labels")


class Label(models.Model):
    text = models.CharField(max_length=20)


class Note(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="notes", related_query_name="note"
    )
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
"""


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _refs(root: Path, tables: list[str]) -> list[tuple[str, int, int, str, str]]:
    result = scan_paths([root], tables, root=root, jobs=1)
    return [
        (r.path, r.line, r.column, r.table, r.operation)
        for r in result.references
        if r.operation != "model"
    ]


def test_an_accessor_of_two_relations_counts_only_on_a_known_row(tmp_path):
    """`notes` is Project's reverse relation (to app_note) and User's (to app_project): on a
    parameter it is neither, on a row of Project it is app_note."""
    code = (
        "from .models import Project\n\n"
        "def f(request, user, pk):\n"
        "    user.notes.count()\n"
        "    project = Project.objects.get(pk=pk)\n"
        "    project.notes.filter(text='').delete()\n"
        "    Project.notes.all()\n"
    )
    _tree(tmp_path, {"app/models.py": MODELS, "app/views.py": code})
    assert _refs(tmp_path, ["app_note"]) == [("app/views.py", 6, 13, "app_note", "delete")]


def test_a_hidden_or_symmetrical_relation_has_no_accessor(tmp_path):
    """Note.author has related_name='+'; Project.friends is symmetrical: a Project row has no
    project_set (Label rows have one, for Project.labels)."""
    code = (
        "from .models import Project\n\n"
        "def f(user):\n"
        "    user.note_set.all()\n"
        "    project = Project.objects.get(pk=1)\n"
        "    project.project_set.all()\n"
        "    project.friends.add(user)\n"
    )
    _tree(tmp_path, {"app/models.py": MODELS, "app/views.py": code})
    refs = _refs(tmp_path, ["app_note", "app_project", "app_project_friends"])
    assert refs == [
        ("app/views.py", 5, 15, "app_project", "select"),
        ("app/views.py", 7, 13, "app_project_friends", "insert"),
    ]


def test_a_many_to_many_db_table_is_its_join_table_and_declared_there(tmp_path):
    code = "def f(project):\n    project.labels.set([])\n    project.labels.clear()\n"
    _tree(tmp_path, {"app/models.py": MODELS, "app/views.py": code})
    result = scan_paths([tmp_path], ["project_labels"], root=tmp_path, jobs=1)
    assert [(r.path, r.line, r.operation) for r in result.references] == [
        ("app/models.py", 11, "model"),
        ("app/views.py", 2, "delete"),
        ("app/views.py", 2, "insert"),
        ("app/views.py", 3, "delete"),
    ]


def test_lookups_use_the_related_query_name_and_join_only_when_they_must(tmp_path):
    code = (
        "from .models import Note, Project, User\n\n"
        "def f():\n"
        "    Project.objects.filter(note__id=1)\n"
        "    Project.objects.filter(notes__id=1)\n"
        "    Note.objects.filter(project__owner__name='a', author__pk=1)\n"
        "    Note.objects.filter(project=1).order_by('-project__owner__name')\n"
        "    User.objects.prefetch_related('notes__labels')\n"
    )
    _tree(tmp_path, {"app/models.py": MODELS, "app/views.py": code})
    tables = ["app_note", "app_project", "app_user", "project_labels", "app_label"]
    refs = [r for r in _refs(tmp_path, tables) if r[3] not in ("app_note",) or r[1] == 4]
    assert refs == [
        ("app/views.py", 4, 5, "app_project", "select"),
        ("app/views.py", 4, 28, "app_note", "select"),
        ("app/views.py", 5, 5, "app_project", "select"),
        ("app/views.py", 6, 25, "app_project", "select"),
        ("app/views.py", 6, 25, "app_user", "select"),
        ("app/views.py", 7, 47, "app_project", "select"),
        ("app/views.py", 7, 47, "app_user", "select"),
        ("app/views.py", 8, 5, "app_user", "select"),
        ("app/views.py", 8, 36, "app_label", "select"),
        ("app/views.py", 8, 36, "app_project", "select"),
        ("app/views.py", 8, 36, "project_labels", "select"),
    ]


def test_rows_through_foreign_keys_loops_and_reassigned_names(tmp_path):
    code = (
        "from .models import Note, Project\n\n"
        "def f(pk, rows):\n"
        "    note = Note.objects.get(pk=pk)\n"
        "    note.project.save()\n"
        "    for other in rows:\n"
        "        other.save()\n"
        "    for project in [Project(), Project.objects.first()]:\n"
        "        project.notes.count()\n"
        "    for project in ['a', 'b']:\n"
        "        project.notes.count()\n"
        "    again = Note()\n"
        "    again = Note.objects.first()\n"
        "    again.save()\n"
        "    made = [Note(project_id=pk) for _ in range(3)]\n"
        "    fresh = Project(); fresh.save()\n"
    )
    _tree(tmp_path, {"app/models.py": MODELS, "app/views.py": code})
    refs = _refs(tmp_path, ["app_project", "app_note"])
    assert [r for r in refs if r[1] not in (4, 8, 13)] == [
        ("app/views.py", 5, 10, "app_project", "update"),
        ("app/views.py", 5, 10, "app_project", "select"),  # the stored row's key read
        ("app/views.py", 9, 17, "app_note", "select"),
        ("app/views.py", 16, 24, "app_project", "insert"),
    ]


def test_a_data_migration_without_the_model_uses_its_implicit_table(tmp_path):
    code = (
        "from django.db import migrations\n\n"
        "def forwards(apps, schema_editor):\n"
        "    Invoice = apps.get_model('billing', 'Invoice')\n"
        "    Invoice.objects.filter(total=0).delete()\n"
        "    for invoice in Invoice.objects.all():\n"
        "        invoice.save()\n\n"
        "class Migration(migrations.Migration):\n"
        "    operations = [migrations.RunPython(forwards)]\n"
    )
    _tree(tmp_path, {"billing/migrations/0003_clean.py": code})
    assert _refs(tmp_path, ["billing_invoice"]) == [
        ("billing/migrations/0003_clean.py", 5, 5, "billing_invoice", "delete"),
        ("billing/migrations/0003_clean.py", 6, 20, "billing_invoice", "select"),
        ("billing/migrations/0003_clean.py", 7, 9, "billing_invoice", "update"),
    ]


def test_templates_are_listed_under_templates_only(tmp_path):
    _tree(
        tmp_path,
        {"a/templates/x.html": "", "a/templates/b/y.html": "", "a/static/z.html": "", "q.py": ""},
    )
    found = sorted(p[len(str(tmp_path)) + 1 :] for p in candidate_files([tmp_path]))
    assert found == ["a/templates/b/y.html", "a/templates/x.html", "q.py"]
    inside = [p[len(str(tmp_path)) + 1 :] for p in candidate_files([tmp_path / "a" / "templates"])]
    assert sorted(inside) == ["a/templates/b/y.html", "a/templates/x.html"]


def test_templates_are_not_read_without_relations(tmp_path, monkeypatch):
    calls = []
    scan = templates.scan_template
    monkeypatch.setattr(templates, "scan_template", lambda *a: calls.append(a[0].path) or scan(*a))
    page = "{{ project.notes.count }} {{ note.project.notes.all }}"
    _tree(
        tmp_path,
        {
            "app/models.py": "from django.db import models\n\nclass Note(models.Model):\n    pass\n",
            "app/templates/app/notes.html": page,
        },
    )
    assert _refs(tmp_path, ["app_note"]) == []
    assert calls == []
    _tree(tmp_path, {"app/models.py": MODELS})
    # `notes` is two relations'; `note.project` is a forward key: the project's row is read
    assert _refs(tmp_path, ["app_note", "app_project"]) == [
        ("app/templates/app/notes.html", 1, 35, "app_project", "select")
    ]
    assert calls == ["app/templates/app/notes.html"]


def test_template_accessors_in_strings_and_verbatim_blocks_are_not_walked(tmp_path):
    page = (
        '{% include "app/label_set.all.html" %}{{ p.label_set }}\n'
        "{% verbatim %}{{ p.label_set.all }}{% endverbatim %}\n"
        "{{ p.label_set.all|length }} {% raw %}{{ p.label_set.count }}{% endraw %}\n"
    )
    models = MODELS.replace(
        'labels = models.ManyToManyField("Label", db_table="project_labels")',
        "pass",
    ).replace("text = models.CharField(max_length=20)", "project = models.ForeignKey(Project)")
    _tree(tmp_path, {"app/models.py": models, "app/templates/app/p.html": page})
    assert _refs(tmp_path, ["app_label"]) == [
        ("app/templates/app/p.html", 3, 6, "app_label", "select")
    ]


def test_an_unreadable_template_is_reported_skipped(tmp_path):
    _tree(tmp_path, {"app/models.py": MODELS, "app/templates/big.html": "x" * 2048})
    result = scan_paths([tmp_path], ["app_note"], root=tmp_path, jobs=1, max_file_size=1024)
    assert [(s.path, s.reason.split(",")[0]) for s in result.skipped] == [
        ("app/templates/big.html", "2 KB")
    ]


def test_a_proxy_model_has_the_relations_of_its_model(tmp_path):
    proxy = "\n\nclass Archived(Project):\n    class Meta:\n        proxy = True\n"
    code = (
        "from .models import Archived\n\n"
        "def f(pk):\n"
        "    for project in Archived.objects.all():\n"
        "        project.notes.update(text='')\n"
        "        project.labels.remove(pk)\n"
    )
    _tree(tmp_path, {"app/models.py": MODELS + proxy, "app/views.py": code})
    assert _refs(tmp_path, ["app_note", "project_labels"]) == [
        ("app/views.py", 5, 17, "app_note", "update"),
        ("app/views.py", 6, 17, "project_labels", "delete"),
    ]


def test_lookups_go_on_through_a_model_that_is_not_scanned(tmp_path):
    models = (
        "from django.conf import settings\nfrom django.db import models\n\n"
        "class Team(models.Model):\n"
        "    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)\n\n"
        "class Badge(models.Model):\n"
        "    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)\n"
    )
    code = (
        "from .models import Team\n\n"
        "def f():\n"
        "    return Team.objects.filter(lead__badge__id=1, lead__pk=2)\n"
    )
    _tree(tmp_path, {"app/models.py": models, "app/views.py": code})
    assert _refs(tmp_path, ["app_badge"]) == [("app/views.py", 4, 32, "app_badge", "select")]


def test_accessor_names_let_only_python_files_and_templates_through():
    from migverify.scan.walk import Prefilter

    prefilter = Prefilter(["member"], hints=False, templates=True, python_names=["member_set"])
    code = b"project.member_set.all()"
    assert prefilter(code, "views.py") and prefilter(code, "templates/p.html")
    assert not prefilter(code, "api.ts") and not prefilter.scan(code)
    assert prefilter(b"const member = 1", "api.ts")
    assert not Prefilter(["member"], hints=False)(code, "templates/p.html")
