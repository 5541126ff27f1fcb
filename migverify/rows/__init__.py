"""Valid data for any schema: rows the legacy tables accept, built from their catalog.

Verify needs rows before it can test a write: a seed may have none, and a real schema has
foreign keys several levels deep, NOT NULL columns without defaults, CHECKs, unique and
exclusion keys, enums, domains, arrays, partitions. `RowFactory` builds them the way SQLancer
and hypothesis compose values: candidates per column type (`types.py`), values the CHECK
expressions suggest (`checks.py`, with the server deciding which combinations satisfy them),
parents along the foreign keys and repairs driven by the errors the server reports
(`factory.py`). It serves the probes (fresh rows to insert), the random search (rows to start
inserts from) and the prepared state (rows added when the seed has too few).
"""

from migverify.rows.factory import Row, RowFactory, Unbuildable, insert_sql

__all__ = ["Row", "RowFactory", "Unbuildable", "insert_sql"]
