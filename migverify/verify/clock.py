"""Values read from the clock, compared as what can be compared.

The two worlds run each statement in their own transactions, so `now()`, `CURRENT_TIMESTAMP`
and `clock_timestamp()` give each a slightly different time: an `updated_at` set by a trigger
would always differ. PostgreSQL cannot freeze the clock, so instead every timestamp or date that
falls inside the run's window — at or after the moment both worlds were ready (`since`, the same
instant for both, read once from the server's clock) and no later than the moment it is read — is
compared as the token `clock`. Seeded rows are older than `since` and identical in both worlds
(the migrated world is a copy), probes and the random search write fixed dates far from today,
so only values a clock produced during the run become the token. A layer that loses the trigger
keeps the old value, which is not the token: it still fails.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

import psycopg

from migverify.quoting import literal

TOKEN = "<clock>"
# What row_to_json prints for timestamp with/without time zone and date, and their ::text.
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}(?::\d{2})?)?)?"
)
# Times inside a json or jsonb document (as its text prints them) in the window: the token.
_IN_DOCUMENTS = r"""
CREATE OR REPLACE FUNCTION pg_temp.migverify_clock_document(v text, since timestamptz)
RETURNS text LANGUAGE plpgsql STABLE AS $migverify$
DECLARE
  found text;
  moment timestamptz;
  result text := v;
BEGIN
  IF v IS NULL OR v !~ '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}' THEN
    RETURN v;
  END IF;
  FOR found IN SELECT DISTINCT m[1] FROM regexp_matches(v,
      '(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}(?::\d{2})?)?)', 'g') AS m
  LOOP
    BEGIN
      moment := found::timestamptz;
    EXCEPTION WHEN OTHERS THEN
      CONTINUE;
    END;
    IF moment >= since - interval '1 second' AND moment <= clock_timestamp() THEN
      result := replace(result, found, $TOKEN);
    END IF;
  END LOOP;
  RETURN result;
END
$migverify$;
"""
_MARGIN = dt.timedelta(seconds=5)  # returned rows: the window's end is the time read plus this
_PRECISION = re.compile(r"^timestamp\((\d)\)")
_FRACTION = re.compile(r"\.(\d+)")


def clock_type(type_name: str) -> str | None:
    """`timestamptz`, `timestamp` or `date` for a column type whose values a clock can write."""
    if type_name.endswith("[]"):
        return None
    if type_name.startswith("timestamp"):
        return "timestamptz" if "with time zone" in type_name else "timestamp"
    return "date" if type_name == "date" else None


@dataclass(frozen=True)
class Clock:
    """The run's window: from SINCE (server time, both worlds ready) to the time of reading."""

    since: dt.datetime  # aware
    since_local: dt.datetime  # the same instant in the session's TimeZone, naive
    started: float  # time.monotonic() when SINCE was read

    @classmethod
    def capture(cls, conn: psycopg.Connection) -> Clock:
        row = conn.execute(
            "SELECT clock_timestamp() AS t, clock_timestamp() AT TIME ZONE "
            "current_setting('TimeZone')"
        ).fetchone()
        return cls(since=row[0], since_local=row[1], started=time.monotonic())

    def functions(self) -> str:
        """pg_temp.migverify_clock(v, since) for each clock type: the token inside the window
        (SINCE is the window's start for the column's precision), else the value as text."""
        local = "(since AT TIME ZONE current_setting('TimeZone'))"
        bounds = {
            "timestamptz": ("since", "clock_timestamp()"),
            "timestamp": (local, "clock_timestamp()::timestamp"),
            "date": ("since::date", "clock_timestamp()::date"),
        }
        scalar = "\n".join(
            f"CREATE OR REPLACE FUNCTION pg_temp.migverify_clock(v {kind}, since timestamptz) "
            f"RETURNS text LANGUAGE sql STABLE AS $$ SELECT CASE WHEN v >= {low} AND "
            f"v <= {high} THEN {literal(TOKEN)} ELSE v::text END $$;"
            for kind, (low, high) in bounds.items()
        )
        return scalar + "\n" + _IN_DOCUMENTS.replace("$TOKEN", literal(TOKEN))

    def projection(self, expression: str, type_name: str) -> str | None:
        """EXPRESSION (already cast to TYPE_NAME) as the digests read it, for clock types: a
        column of precision p rounds the clock to 10^-p s, which may fall just before SINCE;
        json and jsonb documents with every time inside them (an audit trigger's to_jsonb(NEW))."""
        if type_name in ("json", "jsonb"):
            since = literal(self.since.isoformat())
            return f"pg_temp.migverify_clock_document({expression}::text, {since})"
        if clock_type(type_name) is None:
            return None
        found = _PRECISION.search(type_name)
        digits = int(found.group(1)) if found else 6
        since = self.since - dt.timedelta(microseconds=10 ** (6 - digits) - 1)
        return f"pg_temp.migverify_clock({expression}, {literal(since.isoformat())})"

    def token(self, text: str) -> str | None:
        """TOKEN when TEXT is a timestamp or date as row_to_json prints it, inside the window."""
        if not _ISO.fullmatch(text):
            return None
        try:
            value = (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            return None
        elapsed = dt.timedelta(seconds=time.monotonic() - self.started) + _MARGIN
        if not isinstance(value, dt.datetime):
            first, last = self.since_local.date(), (self.since_local + elapsed).date()
            return TOKEN if first <= value <= last else None
        # The digits it was printed with (trailing zeros are not printed) bound how far before
        # SINCE a clock value rounded to a column's precision may lie.
        digits = len(_FRACTION.search(text).group(1)) if "." in text else 0
        early = dt.timedelta(microseconds=10 ** (6 - digits) - 1)
        since = self.since_local if value.tzinfo is None else self.since
        return TOKEN if since - early <= value <= since + elapsed else None
