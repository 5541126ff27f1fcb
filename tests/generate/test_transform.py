"""Column transforms: `columns = { price = { column, up, down } }` and `fill` for a new NOT NULL
target column. The backfill, the INSTEAD OF and sync triggers write `up`, the view reads `down`;
verify decides whether a transform round-trips (fixtures/generate/transform passes, the lossy
transform_lossy fails with a counterexample that writes a value and reads another back); the
spec's expressions are checked by pglast and against the tables' columns, errors at FILE:LINE."""

from __future__ import annotations

import dataclasses
import shutil
import tomllib
from pathlib import Path

import psycopg
import pytest

from migverify.errors import InputError
from migverify.generate import generate_layer
from migverify.spec import load_spec
from migverify.verify import VerifyRequest, verify
from migverify.verify.online import OnlineScripts, verify_online

ROOT = Path(__file__).resolve().parents[2]
LOSSLESS = ROOT / "fixtures" / "generate" / "transform"
LOSSY = ROOT / "fixtures" / "generate" / "transform_lossy"


def _files(pg, directory: Path, **changes) -> dict[str, str]:
    spec = dataclasses.replace(load_spec(directory), **changes)
    with pg.sandbox() as box:
        return generate_layer(spec, box)


def _request(pg, directory: Path, files: dict[str, str], tmp_path: Path) -> VerifyRequest:
    spec = load_spec(directory)
    return VerifyRequest(
        legacy=spec.legacy_sql,
        target=spec.target_sql,
        compat=tmp_path / "forward.sql",
        compat_sql=files["forward.sql"],
        rollback=tmp_path / "rollback.sql",
        rollback_sql=files["rollback.sql"],
        operations=("insert", "select", "update", "delete"),
        roles=("shop_app",),
        examples=20,
        sandbox=pg.config,
    )


def test_a_lossless_transform_verifies_and_the_layer_uses_up_and_down(pg, tmp_path):
    files = _files(pg, LOSSLESS)
    forward = files["forward.sql"]
    assert "CAST(t.price_cents / 100.0 AS numeric(10, 2)) AS price" in forward  # down
    assert "round(new.price * 100)" in forward  # up, in the INSTEAD OF trigger
    assert "'P-' || new.id" in forward  # fill
    online = _files(pg, LOSSLESS, mode="online")
    assert "round(b.price * 100)" in online["online/backfill.sql"]
    assert "round(new.price * 100)" in online["online/expand.sql"]
    result = verify(_request(pg, LOSSLESS, files, tmp_path))
    assert result.equivalent, [d.diagnosis for d in result.differences]
    assert result.rollback_checked


def test_the_stored_values_are_the_up_expression(pg):
    files = _files(pg, LOSSLESS)
    spec = load_spec(LOSSLESS)
    with pg.sandbox() as box:
        db = box.create_database("transform")
        with db.connect() as conn:
            for path in (*spec.legacy_sql, *spec.target_sql):
                conn.execute(path.read_text())
            conn.execute(files["forward.sql"])
            conn.execute("INSERT INTO products (name, price, weight_kg) VALUES ('x', 12.34, 1.5)")
            row = conn.execute(
                "SELECT price_cents, weight_g, sku FROM items WHERE name = 'x'"
            ).fetchone()
            shown = conn.execute(
                "SELECT price, weight_kg FROM products WHERE name = 'x'"
            ).fetchone()
            first = conn.execute("SELECT price_cents, sku FROM items WHERE id = 3").fetchone()
    assert row[:2] == (1234, 1500) and row[2].startswith("P-")
    assert [str(v) for v in shown] == ["12.34", "1.500"]
    assert first == (411, "P-3")  # backfilled: 3 * 137 cents, sku from the id


def test_a_lossy_transform_fails_verify_with_a_counterexample(pg, tmp_path):
    expect = tomllib.loads((LOSSY / "expect.toml").read_text())
    result = verify(_request(pg, LOSSY, _files(pg, LOSSY), tmp_path))
    assert not result.equivalent
    assert expect["verdict"] == "fail"
    example = result.counterexample
    assert example is not None
    assert "weight_kg" in example.script
    assert any(op in example.script for op in ("INSERT INTO products", "UPDATE products"))
    assert any(
        "products holds different rows after" in d.diagnosis or "overflow" in d.diagnosis
        for d in result.differences
    )


def test_the_online_phases_of_a_transform_are_proved_too(pg):
    spec = load_spec(LOSSLESS)
    request = VerifyRequest(
        legacy=spec.legacy_sql,
        target=spec.target_sql,
        compat=Path("forward.sql"),
        examples=20,
        sandbox=pg.config,
    )
    good = verify_online(request, OnlineScripts.from_files(_files(pg, LOSSLESS, mode="online")))
    assert good.equivalent, [d.diagnosis for d in good.differences]
    lossy_spec = load_spec(LOSSY)
    bad = verify_online(
        dataclasses.replace(request, legacy=lossy_spec.legacy_sql, target=lossy_spec.target_sql),
        OnlineScripts.from_files(_files(pg, LOSSY, mode="online")),
    )
    assert not bad.equivalent
    assert "weight_kg" in bad.counterexample.script


def _spec_with(tmp_path: Path, columns: str, extra: str = "") -> Path:
    for name in ("legacy.sql", "seed.sql", "target.sql"):
        shutil.copy(LOSSLESS / name, tmp_path / name)
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql", "seed.sql"]\n[target]\nsql = ["target.sql"]\n\n'
        f'[tables.products]\ntarget = "items"\n{extra}\n[tables.products.columns]\n{columns}\n'
    )
    return tmp_path


FILL = "fill = { sku = \"'P-' || id\" }"
WEIGHT = 'weight_kg = "weight_g"\n'


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            'price = { column = "price_cents", up = "price * 100", dwn = "x" }',
            ":10: unknown key in the transform of price 'dwn' (did you mean 'down'?)",
        ),
        (
            'price = { column = "price_cents", up = "price * 100" }',
            ":10: tables.products.columns: the transform of price needs both up",
        ),
        (
            'price = { column = "price_cents", up = "price * * 100", down = "price_cents" }',
            ":10: tables.products.columns.price: up of price: 'price * * 100' is not an SQL",
        ),
        (
            'price = { column = "price_cents", up = "1; DROP TABLE items", down = "1" }',
            ":10: tables.products.columns.price: up of price: '1; DROP TABLE items' is not one",
        ),
    ],
)
def test_transform_keys_and_expressions_are_checked_at_the_spec_line(tmp_path, columns, message):
    with pytest.raises(InputError) as error:
        load_spec(_spec_with(tmp_path, columns + "\n" + WEIGHT, FILL))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("columns", "extra", "message"),
    [
        (
            'price = { column = "price_cents", up = "cost * 100", down = "price_cents / 100.0" }',
            FILL,
            "the transform of price: 'cost * 100': no column 'cost'",
        ),
        (
            'price = { column = "price_cents", up = "price * 100", down = "price / 100.0" }',
            FILL,
            "the transform of price: 'price / 100.0': no column 'price'",
        ),
        (
            'id = { column = "id", up = "id + 1", down = "id - 1" }\nprice = "price_cents"',
            FILL,
            "id is part of a key of products",
        ),
        ('price = "price_cents"', "", "items.sku is NOT NULL without a default"),
        ('price = "price_cents"', 'fill = { skew = "1" }', "fill: items has no column 'skew'"),
    ],
)
def test_transforms_and_fills_are_checked_against_the_tables(pg, tmp_path, columns, extra, message):
    directory = _spec_with(tmp_path, columns + "\n" + WEIGHT, extra)
    spec = load_spec(directory)
    with pytest.raises(InputError) as error, pg.sandbox() as box:
        generate_layer(spec, box)
    assert message in str(error.value)
    assert str(error.value).startswith(f"{directory / 'migverify.toml'}:")


def test_postgresql_rejects_nothing_the_generated_sync_trigger_writes(pg):
    """A write through the legacy name during expand lands transformed in the target."""
    files = _files(pg, LOSSLESS, mode="online")
    spec = load_spec(LOSSLESS)
    with pg.sandbox() as box:
        db = box.create_database("expand")
        with db.connect() as conn:
            for path in (*spec.legacy_sql, *spec.target_sql):
                conn.execute(path.read_text())
            conn.execute(files["online/expand.sql"])
            conn.execute("UPDATE products SET price = 7.05 WHERE id = 2")
            conn.execute("INSERT INTO products (name, price) VALUES ('y', 0.01)")
            rows = conn.execute("SELECT id, price_cents, sku FROM items ORDER BY id").fetchall()
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute("UPDATE products SET price = -1 WHERE id = 2")
    assert rows == [(2, 705, "P-2"), (41, 1, "P-41")]
