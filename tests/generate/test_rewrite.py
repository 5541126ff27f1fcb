"""The pieces that read SQL and PL/pgSQL for carrying: NEW/OLD references found by pglast's
PL/pgSQL parser and scanner, and column references with their scope in expressions."""

from __future__ import annotations

import pytest

from migverify.generate.expressions import deparse, parse_expression, references
from migverify.generate.triggers import _plpgsql_fields, _scan_records

BODY = """
DECLARE
  r record;
BEGIN
  -- NEW.in_a_comment is not a reference
  NEW.slug := lower(NEW."Title") || 'NEW.in_a_string';
  IF OLD.content IS DISTINCT FROM NEW . content THEN
    PERFORM 1 FROM other t WHERE t.new = NEW.id;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN COALESCE(NEW, OLD);
END
"""


def _definition(body: str) -> str:
    return f"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body${body}$body$"


def test_scanner_and_plpgsql_parser_agree_on_the_fields():
    fields, whole_row, _ = _scan_records(BODY)
    found = {(f.record, f.field) for f in fields}
    assert found == {
        ("new", "slug"),
        ("new", "Title"),
        ("old", "content"),
        ("new", "content"),
        ("new", "id"),
    }
    assert found == _plpgsql_fields(_definition(BODY))
    assert not whole_row  # RETURN OLD and RETURN COALESCE(NEW, OLD) hand the row back
    for field in fields:  # spans point at the column token itself, for the renamed copy
        assert BODY[field.start : field.end].strip('"').lower() == field.field.lower()


@pytest.mark.parametrize(
    "statement",
    [
        "r := NEW;",
        "PERFORM row_to_json(NEW);",
        "INSERT INTO audit SELECT NEW.*;",
        "EXECUTE 'INSERT INTO audit VALUES ($1.*)' USING OLD;",
        "IF NEW IS DISTINCT FROM to_jsonb(OLD) THEN RETURN NEW; END IF;",
    ],
)
def test_whole_row_uses_are_noticed(statement):
    _, whole_row, _ = _scan_records(f"BEGIN {statement} RETURN NEW; END")
    assert whole_row


@pytest.mark.parametrize(
    "statement",
    [
        "IF NEW IS DISTINCT FROM OLD THEN RETURN NEW; END IF;",
        "IF (NEW IS DISTINCT FROM OLD AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)"
        " THEN NEW.updated_at := current_timestamp; END IF;",
        "IF OLD IS NOT DISTINCT FROM NEW THEN RETURN NULL; END IF;",
        "IF NEW <> OLD THEN RETURN NEW; END IF;",
    ],
)
def test_row_comparisons_are_told_apart_from_other_whole_row_uses(statement):
    """diesel's diesel_set_updated_at() compares NEW and OLD as rows: by position and type,
    so a copy on a target whose columns only changed names still compares the same."""
    _, whole_row, compares_rows = _scan_records(f"BEGIN {statement} RETURN NEW; END")
    assert compares_rows and not whole_row


def test_expression_references_know_their_scope():
    node = parse_expression(
        "owner = CURRENT_USER AND EXISTS (SELECT 1 FROM members m"
        " WHERE m.team = notes.team AND m.name = owner)"
    )
    found = [(r.fields, r.nested, sorted(r.bound)) for r in references(node)]
    assert found == [
        (("owner",), False, []),
        (("m", "team"), True, ["m"]),
        (("notes", "team"), True, ["m"]),
        (("m", "name"), True, ["m"]),
        (("owner",), True, ["m"]),
    ]
    references(node)[2].rename(("journal", "team_id"))
    assert "m.team = journal.team_id" in deparse(node)
