"""What the cutover carries from a legacy table's surroundings, on real PostgreSQL: foreign keys
of outside tables retargeted (and moved back by the rollback), legacy triggers firing on the
target, policies restricting roles through the views as on the legacy tables, and one clear line
for what cannot be carried."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from migverify.generate import generate_layer
from migverify.spec import load_spec
from migverify.sqlload import load_sql, load_sql_files
from migverify.verify import VerifyRequest, verify

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "generate"


def _files(pg, directory: Path) -> dict[str, str]:
    with pg.sandbox() as box:
        return generate_layer(load_spec(directory), box)


@contextmanager
def _worlds(pg, directory: Path) -> Iterator[tuple[psycopg.Connection, psycopg.Connection, dict]]:
    """(migrated, plain) connections: both with the legacy SQL; the migrated one cut over."""
    spec = load_spec(directory)
    files = _files(pg, directory)
    with pg.sandbox() as box:
        migrated, plain = box.create_database("migrated"), box.create_database("plain")
        with migrated.connect() as mig, plain.connect() as ref:
            load_sql_files(mig, [*spec.legacy_sql, *spec.target_sql])
            load_sql(mig, files["forward.sql"], "forward.sql")
            load_sql_files(ref, [*spec.legacy_sql, *spec.target_sql])
            yield mig, ref, files


def _one(conn: psycopg.Connection, query: str, *params: object) -> tuple:
    return conn.execute(query, params or None).fetchone()


def _foreign_key(conn: psycopg.Connection, name: str) -> tuple:
    return _one(
        conn,
        "SELECT confrelid::regclass::text, (SELECT relkind FROM pg_class WHERE oid = confrelid),"
        " convalidated, confupdtype, confdeltype, confmatchtype, condeferrable, condeferred"
        " FROM pg_constraint WHERE conname = %s",
        name,
    )


# --- foreign keys of outside tables ----------------------------------------------------------


def test_outside_foreign_keys_follow_the_rows_and_come_back(pg):
    with _worlds(pg, SCENARIOS / "outside_fk") as (mig, ref, files):
        before = _foreign_key(ref, "post_labels_post_fkey")
        after = _foreign_key(mig, "post_labels_post_fkey")
        assert after[0] == "posted_tweets" and after[2] is True  # validated after COMMIT
        assert after[3:] == before[3:] == ("c", "n", "f", True, False)
        assert _foreign_key(mig, "post_replies_tweet_id_fkey")[:3] == ("posted_tweets", "r", True)

        # A reply to a post written through the view after cutover is accepted.
        mig.execute("INSERT INTO posted_decisions (tweet_id, content) VALUES ('new', 'x')")
        mig.execute("INSERT INTO post_replies (tweet_id, body) VALUES ('new', 'first reply')")
        # ON UPDATE CASCADE through the view reaches the outside table.
        (post_id,) = _one(
            mig,
            "INSERT INTO posted_decisions (tweet_id, content) VALUES ('old', 'y') RETURNING id",
        )
        mig.execute(
            "INSERT INTO post_labels (decision_id, tweet_id, label) VALUES (%s, 'old', 'l')",
            (post_id,),
        )
        mig.execute("UPDATE posted_decisions SET tweet_id = 'renamed' WHERE id = %s", (post_id,))
        assert _one(mig, "SELECT tweet_id FROM post_labels WHERE decision_id = %s", post_id) == (
            "renamed",
        )
        # A reply to a post that does not exist is refused, as on the legacy table.
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            mig.execute("INSERT INTO post_replies (tweet_id, body) VALUES ('nope', 'orphan')")
        # Deleting a post through the view cascades to its replies.
        (replies,) = _one(mig, "SELECT count(*) FROM post_replies WHERE tweet_id = 't2'")
        assert replies > 0
        mig.execute("DELETE FROM posted_decisions WHERE tweet_id = 't2'")
        assert _one(mig, "SELECT count(*) FROM post_replies WHERE tweet_id = 't2'") == (0,)

        mig.execute("INSERT INTO post_replies (tweet_id, body) VALUES ('t3', 'late reply')")
        load_sql(mig, files["rollback.sql"], "rollback.sql")
        restored = _foreign_key(mig, "post_labels_post_fkey")
        assert restored == ("posted_decisions", "r", True, *before[3:])
        assert _foreign_key(mig, "post_replies_tweet_id_fkey")[:3] == (
            "posted_decisions",
            "r",
            True,
        )
        definitions = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint ORDER BY 1"
        assert mig.execute(definitions).fetchall() == ref.execute(definitions).fetchall()
        # Rows written after cutover survived the rollback, and the key still bites.
        assert _one(mig, "SELECT count(*) FROM post_replies WHERE body = 'late reply'") == (1,)
        assert _one(mig, "SELECT tweet_id FROM posted_decisions WHERE id = %s", post_id) == (
            "renamed",
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            mig.execute("INSERT INTO post_replies (tweet_id, body) VALUES ('nope', 'orphan')")


def test_outside_foreign_keys_with_dropped_legacy_tables(pg, tmp_path):
    """legacy_tables = "drop": the keys move before the DROP and back after the rebuild."""
    source = SCENARIOS / "outside_fk"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    spec_path = tmp_path / "migverify.toml"
    spec_path.write_text(spec_path.read_text() + '[generate]\nlegacy_tables = "drop"\n')
    files = _files(pg, tmp_path)
    assert "DROP TABLE public.posted_decisions" in files["forward.sql"]
    _assert_verified(pg, tmp_path, files)


def test_initially_deferred_keys_stay_deferred_both_ways(pg, tmp_path):
    for path in (SCENARIOS / "outside_fk").iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    legacy = tmp_path / "legacy.sql"
    legacy.write_text(
        legacy.read_text().replace(
            "ON DELETE SET NULL DEFERRABLE", "ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED"
        )
    )
    with _worlds(pg, tmp_path) as (mig, ref, files):
        expected = _foreign_key(ref, "post_labels_post_fkey")[2:]
        assert expected[-2:] == (True, True)
        assert _foreign_key(mig, "post_labels_post_fkey")[2:] == expected
        with mig.transaction():  # checked at COMMIT: a label may come before its post
            mig.execute(
                "INSERT INTO post_labels (decision_id, tweet_id, label) VALUES (99, 'd', 'l')"
            )
            mig.execute(
                "INSERT INTO posted_decisions (id, tweet_id, content) VALUES (99, 'd', 'x')"
            )
        load_sql(mig, files["rollback.sql"], "rollback.sql")
        assert _foreign_key(mig, "post_labels_post_fkey") == ("posted_decisions", "r", *expected)


def _assert_verified(pg, directory: Path, files: dict[str, str], roles=()) -> None:
    spec = load_spec(directory)
    result = verify(
        VerifyRequest(
            legacy=spec.legacy_sql,
            target=spec.target_sql,
            compat=directory / "forward.sql",
            compat_sql=files["forward.sql"],
            rollback=directory / "rollback.sql",
            rollback_sql=files["rollback.sql"],
            operations=("insert", "select", "update", "delete"),
            roles=tuple(roles),
            examples=15,
            sandbox=pg.config,
        )
    )
    assert result.equivalent, [d.diagnosis for d in result.differences]
    assert result.rollback_checked


def test_review_names_the_moved_keys_and_their_locks(pg):
    review = _files(pg, SCENARIOS / "outside_fk")["REVIEW.md"]
    assert "`post_replies_tweet_id_fkey` of `public.post_replies`" in review
    assert "`public.posted_tweets(platform_tweet_id)`, was `public.posted_decisions(tweet_id)`" in (
        review
    )
    assert "NOT VALID" in review and "SHARE UPDATE EXCLUSIVE" in review


# --- triggers ----------------------------------------------------------------------------------


def test_carried_triggers_fire_on_the_target_as_on_the_legacy_table(pg):
    writes = """
        INSERT INTO articles (title, body) VALUES ('  Hello, World  ', 'b');
        UPDATE articles SET title = 'Second Title' WHERE title = '  Hello, World  ';
        UPDATE articles SET body = 'no title change' WHERE id = 2;
        UPDATE articles SET body = body WHERE id = 4;
        DELETE FROM articles WHERE id IN (3, 5);
        DELETE FROM articles WHERE id = -1;
        UPDATE users SET bio = 'only the side table' WHERE id = 2;
        INSERT INTO users (email, name) VALUES ('Someone@blocked.test', 'skipped');
        INSERT INTO users (email, name, bio) VALUES ('New@Example.com', 'New', 'hi');
        INSERT INTO x_posts (body) VALUES ('  trimmed  ');
        INSERT INTO linkedin_posts (body) VALUES ('  kept  ');
        UPDATE linkedin_posts SET body = body || ' ';
    """
    queries = (
        "SELECT id, title, slug, edits FROM articles ORDER BY id",
        "SELECT article_id, op, old_title, new_title FROM article_audit ORDER BY id",
        "SELECT name, statements FROM article_stats ORDER BY name",
        "SELECT id, email, version, bio FROM users ORDER BY id",
        "SELECT id, body FROM x_posts ORDER BY id",
        "SELECT id, body FROM linkedin_posts ORDER BY id",
    )
    with _worlds(pg, SCENARIOS / "carried_trigger") as (mig, ref, _files_):
        for conn in (mig, ref):
            load_sql(conn, writes, "writes.sql")
        for query in queries:
            assert mig.execute(query).fetchall() == ref.execute(query).fetchall(), query
        # The effects themselves, so that "equal" cannot mean "neither fired".
        assert _one(mig, "SELECT slug, edits FROM articles WHERE title = 'Second Title'") == (
            "second-title",
            1,
        )
        assert _one(mig, "SELECT version FROM users WHERE id = 2") == (2,)
        assert _one(mig, "SELECT count(*) FROM users WHERE email LIKE '%blocked%'") == (0,)
        # On the merge the trigger keeps to x's rows.
        assert _one(mig, "SELECT body FROM x_posts WHERE id = 3") == ("trimmed",)
        assert _one(mig, "SELECT body FROM linkedin_posts WHERE id = 2") == ("  kept   ",)
        counts = "SELECT name, statements FROM article_stats ORDER BY name"
        # The seed's 3 revisions before cutover, then 3 updates through the view (each bumps
        # edits in the BEFORE trigger, so each changes the row).
        assert mig.execute(counts).fetchall() == [("article changes", 6), ("article deletes", 2)]
        ops = mig.execute("SELECT op FROM article_audit ORDER BY id").fetchall()
        assert ("update",) in ops and ops.count(("delete",)) >= 2
        # Through the split's INSTEAD OF trigger a skipped row is not reported as inserted.
        cursor = mig.execute(
            "INSERT INTO users (email, name) VALUES ('x@blocked.test', 'n') RETURNING id"
        )
        assert cursor.rowcount == 0 and cursor.fetchall() == []
        disabled = "SELECT tgenabled FROM pg_trigger WHERE tgname = 'articles_refuse_delete'"
        assert sorted(mig.execute(disabled).fetchall()) == [("D",), ("D",)]


def test_contrib_triggers_act_on_the_renamed_columns_their_arguments_name(pg):
    """moddatetime, insert_username, autoinc and tsvector_update_trigger(_column) are C code,
    but each acts on the columns its arguments name: carried with the arguments renamed, they
    set the same values through the views as on the legacy tables."""
    queries = (
        "SELECT id, title, body, search::text, edited_by, revision FROM notes ORDER BY id",
        "SELECT id, language::text, content, content_search::text FROM documents ORDER BY id",
    )
    writes = (SCENARIOS / "contrib_trigger" / "writes.sql").read_text()
    with _worlds(pg, SCENARIOS / "contrib_trigger") as (mig, ref, _files_):
        arguments = mig.execute(
            "SELECT tgname, encode(tgargs, 'escape') FROM pg_trigger"
            " WHERE tgrelid = 'memos'::regclass ORDER BY 1"
        ).fetchall()
        assert arguments == [
            ("notes_editor", "editor\\000"),
            ("notes_revision", "rev\\000note_revisions\\000"),
            ("notes_search", "search_vector\\000pg_catalog.english\\000heading\\000content\\000"),
            ("notes_touch", "modified_at\\000"),
        ]
        for conn in (mig, ref):
            load_sql(conn, writes, "writes.sql")
        for query in queries:
            assert mig.execute(query).fetchall() == ref.execute(query).fetchall(), query
        # The effects themselves, so that "equal" cannot mean "neither fired".
        new = "SELECT search::text, edited_by = current_user, revision FROM notes WHERE id = 4"
        assert _one(mig, new) == ("'book':1 'novel':3 'read':2 'slowli':4", True, 4)
        assert _one(mig, "SELECT search FROM notes WHERE title = 'Trip'") == (None,)
        touched = (
            "SELECT (SELECT updated_at FROM notes WHERE title = 'Groceries')"
            " > (SELECT updated_at FROM notes WHERE title = 'Empty')"
        )
        assert _one(mig, touched) == (True,)
        # The configuration column changed with the text: English stems now.
        assert _one(mig, "SELECT content_search::text FROM documents WHERE id = 2") == (
            "'run':4 'runner':2",
        )


def test_a_trigger_function_reading_the_table_name_reads_the_legacy_name(pg):
    """supabase-clinic's audit_row() writes TG_TABLE_NAME into the audit trail: on the target
    it would write the target's name. The carried triggers call copies named after the legacy
    tables that read their names (and schema) instead."""
    writes = (SCENARIOS / "trigger_table_name" / "writes.sql").read_text()
    query = "SELECT table_schema, table_name, relname, row_id, action FROM audit_trail ORDER BY id"
    with _worlds(pg, SCENARIOS / "trigger_table_name") as (mig, ref, files):
        for conn in (mig, ref):
            load_sql(conn, writes, "writes.sql")
        assert mig.execute(query).fetchall() == ref.execute(query).fetchall()
        assert mig.execute(query).fetchall()[-3:] == [
            ("public", "accounts", "accounts", 3, "insert"),
            ("billing", "invoices", "invoices", 2, "update"),
            ("billing", "invoices", "invoices", 3, "delete"),
        ]
        calls = mig.execute(
            "SELECT tgname, tgfoid::regproc::text FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid IN ('members'::regclass, 'member_invoices'::regclass) ORDER BY 1"
        ).fetchall()
        assert calls == [
            ("accounts_changed", "record_change_accounts"),
            ("invoices_changed", "record_change_invoices"),
        ]
        assert "DROP FUNCTION public.record_change_accounts ()" in files["rollback.sql"]


def test_carried_triggers_use_renamed_copies_and_the_rollback_removes_them(pg):
    with _worlds(pg, SCENARIOS / "carried_trigger") as (mig, _ref, files):
        calls = mig.execute(
            "SELECT tgname, tgfoid::regproc::text FROM pg_trigger"
            " WHERE tgrelid = 'posts'::regclass AND NOT tgisinternal ORDER BY 1"
        ).fetchall()
        assert dict(calls) == {
            "articles_changed": "count_statement",
            "articles_delete_statements": "count_statement",
            "articles_deleted": "articles_audit_posts",
            "articles_normalise": "articles_normalise_posts",
            "articles_refuse_delete": "refuse",
            "articles_title_changed": "articles_audit_posts",
        }
        # Carried once: target.sql's own users_email_lower stays the only one on members.
        names = (
            "SELECT tgname FROM pg_trigger"
            " WHERE tgrelid = 'members'::regclass AND NOT tgisinternal ORDER BY 1"
        )
        assert [n for (n,) in mig.execute(names)] == [
            "users_blocked",
            "users_email_lower",
            "users_version",
        ]
        load_sql(mig, files["rollback.sql"], "rollback.sql")
        assert [n for (n,) in mig.execute(names)] == ["users_email_lower"]
        # The legacy table's disabled trigger is disabled again (found by verify's online check).
        legacy = (
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'articles'::regclass AND tgname = %s"
        )
        assert _one(mig, legacy, "articles_refuse_delete") == ("D",)
        assert _one(mig, legacy, "articles_deleted") == ("O",)
        copies = "SELECT count(*) FROM pg_proc WHERE proname LIKE '%\\_posts'"
        assert _one(mig, copies) == (0,)
        review = files["REVIEW.md"]
        assert "users_email_lower: the target SQL already defines a trigger" in review
        assert "a copy of public.articles_audit (title → headline)" in review


# --- row-level security -------------------------------------------------------------------------


ROLE_STATEMENTS = {
    "notes_alice": [
        "SELECT id, body FROM notes ORDER BY id",
        "INSERT INTO notes (body) VALUES ('mine')",
        "INSERT INTO notes (owner, body) VALUES ('notes_bob', 'forged')",
        "INSERT INTO notes (body) VALUES ('   ')",
        "UPDATE notes SET body = body || '!' WHERE team_id IS NOT NULL",
        "DELETE FROM notes WHERE shared",
        "SELECT id, title FROM work_items ORDER BY id",
        "SELECT id, title FROM home_items ORDER BY id",
        "UPDATE home_items SET title = title || '?'",
    ],
    "notes_bob": [
        "SELECT id, body FROM notes ORDER BY id",
        "DELETE FROM notes",
        "UPDATE notes SET shared = true, team_id = NULL",
        "UPDATE home_items SET title = 'bob was here'",
        "UPDATE work_items SET title = 'bob was here'",
        "INSERT INTO work_items (owner, title) VALUES ('notes_alice', 'forged')",
        "SELECT id, title FROM work_items ORDER BY id",
    ],
}


def _as_role(conn: psycopg.Connection, role: str, statement: str) -> tuple:
    with conn.transaction():
        conn.execute(f"SET LOCAL ROLE {role}")
        try:
            with conn.transaction():
                cursor = conn.execute(statement)
                rows = cursor.fetchall() if cursor.description else []
                return ("ok", cursor.rowcount, rows)
        except psycopg.Error as error:
            return ("error", error.sqlstate)


def test_carried_policies_restrict_each_role_through_the_views_as_on_the_legacy_tables(pg):
    with _worlds(pg, SCENARIOS / "carried_policy") as (mig, ref, _files_):
        outcomes = []
        for role, statements in ROLE_STATEMENTS.items():
            for statement in statements:
                legacy = _as_role(ref, role, statement)
                migrated = _as_role(mig, role, statement)
                assert migrated == legacy, (role, statement)
                outcomes.append(legacy)
        # The policies do restrict: some statements are refused, some see fewer rows.
        assert ("error", "42501") in outcomes
        (visible,) = _one(ref, "SELECT count(*) FROM notes")
        alice_rows = len(_as_role(mig, "notes_alice", "SELECT id FROM notes")[2])
        assert 0 < alice_rows < visible
        views = mig.execute(
            "SELECT relname, reloptions FROM pg_class"
            " WHERE relkind = 'v' AND relnamespace = 'public'::regnamespace ORDER BY 1"
        ).fetchall()
        assert views and all("security_invoker=true" in (options or []) for _, options in views)


def test_policies_already_in_the_target_are_not_carried_twice(pg, tmp_path):
    source = SCENARIOS / "carried_policy"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    target = tmp_path / "target.sql"
    target.write_text(
        target.read_text()
        + "ALTER TABLE journal_entries ENABLE ROW LEVEL SECURITY;\n"
        + "CREATE POLICY notes_delete ON journal_entries FOR DELETE TO notes_alice"
        + " USING (author = current_user);\n"
    )
    files = _files(pg, tmp_path)
    assert "CREATE POLICY notes_delete" not in files["forward.sql"]
    assert "ON public.journal_entries ENABLE ROW LEVEL SECURITY" not in files["forward.sql"]
    assert "policy notes_delete: the target SQL already defines a policy" in files["REVIEW.md"]
    assert "already enabled on journal_entries by the target SQL" in files["REVIEW.md"]
    _assert_verified(pg, tmp_path, files, roles=("notes_alice", "notes_bob"))


# --- what cannot be carried ---------------------------------------------------------------------

REFUSALS = [
    pytest.param(
        "outside_fk",
        "target.sql",
        "platform_tweet_id text NOT NULL UNIQUE",
        "platform_tweet_id text NOT NULL",
        "foreign key post_replies_tweet_id_fkey of public.post_replies cannot be retargeted",
        id="fk-without-target-key",
    ),
    pytest.param(
        "carried_policy",
        "legacy.sql",
        "CREATE TABLE home_items (",
        "CREATE TABLE work_refs (item bigint REFERENCES work_items (id));\n"
        "CREATE TABLE home_items (",
        "foreign key work_refs_item_fkey of public.work_refs cannot be retargeted",
        id="fk-into-a-merge",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        "-- The target SQL defines this one",
        "CREATE TRIGGER users_truncated AFTER TRUNCATE ON users"
        " FOR EACH STATEMENT EXECUTE FUNCTION skip_row();\n-- The target SQL defines this one",
        "trigger users_truncated on users cannot be carried onto members: it fires on TRUNCATE",
        id="truncate-trigger-on-a-split",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        "NEW.version := OLD.version + 1;",
        "NEW.version := OLD.version + length(coalesce(NEW.bio, ''));",
        "trigger users_version on users cannot be carried onto members: its function "
        "public.bump_version uses bio, which moves to public.member_profiles",
        id="trigger-reads-a-side-column",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        'lower(TG_OP), OLD."title", NEW.title);',
        'lower(TG_OP), OLD."title", row_to_json(NEW)::text);',
        "uses NEW or OLD as a whole row",
        id="trigger-uses-the-whole-row",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        "-- Disabled on the legacy table",
        "CREATE TRIGGER articles_same BEFORE UPDATE ON articles"
        " FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();\n"
        "-- Disabled on the legacy table",
        "its function pg_catalog.suppress_redundant_updates_trigger is in LANGUAGE internal, "
        "which migverify cannot read, and title of articles is not under the same name in posts",
        id="unreadable-function-and-renamed-column",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        "CREATE TRIGGER users_version BEFORE UPDATE ON users",
        "CREATE TRIGGER users_version BEFORE UPDATE OF name ON users",
        "trigger users_version on users cannot be carried onto members: it fires on UPDATE OF "
        "some columns",
        id="update-of-through-instead-of",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        "FOR EACH ROW WHEN (NEW.email LIKE '%@blocked.test')",
        "FOR EACH ROW WHEN (NEW.bio IS NULL)",
        "trigger users_blocked on users cannot be carried onto members: its WHEN clause uses bio",
        id="trigger-when-reads-a-side-column",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        "-- A row the trigger skips",
        "ALTER TABLE users ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY users_with_bio ON users USING (bio IS NOT NULL);\n"
        "-- A row the trigger skips",
        "policy users_with_bio on users cannot be carried onto members: its USING expression "
        "uses bio, which moves to public.member_profiles",
        id="policy-reads-a-side-column",
    ),
    pytest.param(
        "carried_trigger",
        "legacy.sql",
        "-- A row the trigger skips",
        "CREATE EXTENSION IF NOT EXISTS insert_username;\n"
        "CREATE TRIGGER users_bio_author BEFORE UPDATE ON users"
        " FOR EACH ROW EXECUTE FUNCTION insert_username(bio);\n"
        "-- A row the trigger skips",
        "trigger users_bio_author on users cannot be carried onto members: its function "
        "public.insert_username is contrib's insert_username, and its argument bio moves to "
        "public.member_profiles, not members",
        id="contrib-function-on-a-side-column",
    ),
    pytest.param(
        "contrib_trigger",
        "legacy.sql",
        "moddatetime(updated_at)",
        "moddatetime(updated_at, title)",
        "trigger notes_touch on notes cannot be carried onto memos: its function "
        "public.moddatetime is contrib's moddatetime, which takes moddatetime(column), and it "
        "is given 2 arguments",
        id="contrib-function-with-other-arguments",
    ),
    pytest.param(
        "contrib_trigger",
        "legacy.sql",
        "moddatetime(updated_at)",
        "moddatetime(modified)",
        "its function public.moddatetime is contrib's moddatetime, and its argument "
        "'modified' is not a column of notes: it fails there as is",
        id="contrib-function-on-no-column",
    ),
    pytest.param(
        "contrib_trigger",
        "target.sql",
        "rev integer",
        "rev bigint",
        "trigger notes_revision on notes cannot be carried onto memos: its function "
        "public.autoinc is contrib's autoinc, and its argument revision becomes memos.rev of "
        "another type",
        id="contrib-function-on-a-retyped-column",
    ),
    pytest.param(
        "contrib_trigger",
        "migverify.toml",
        'columns = { language = "config",',
        'columns = { id = "id", language = { column = "config", up = "language", '
        'down = "config" },',
        "trigger documents_search on documents cannot be carried onto texts: its function "
        "pg_catalog.tsvector_update_trigger_column is tsvector_update_trigger_column, which on "
        "UPDATE acts only when the statement sets one of its columns, and an update through the "
        "view's INSTEAD OF trigger sets every column of texts",
        id="tsvector-trigger-under-instead-of-update",
    ),
    pytest.param(
        "carried_policy",
        "legacy.sql",
        "ALTER TABLE home_items ENABLE ROW LEVEL SECURITY;",
        "",
        "row-level security of home_items and work_items differs",
        id="merge-with-and-without-rls",
    ),
]


@pytest.mark.parametrize(("scenario", "name", "old", "new", "message"), REFUSALS)
def test_what_cannot_be_carried_stops_generation_with_one_line(
    pg, tmp_path, scenario, name, old, new, message
):
    for path in (SCENARIOS / scenario).iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    changed = tmp_path / name
    text = changed.read_text()
    assert old in text
    changed.write_text(text.replace(old, new))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "generate", str(tmp_path), "--out", str(out)]
        + ["--dsn", pg.dsn],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert f"{tmp_path / 'migverify.toml'}:" in result.stderr
    assert not out.exists()
