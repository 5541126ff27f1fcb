"""The sizes and counts one verification run works with (module attributes, so that tests can
change them)."""

from __future__ import annotations

import uuid

SAMPLES_PER_COLUMN = 12
MIN_ROWS = 3  # rows each compared table holds before the run (added when the seed has fewer)
FRESH_ROWS = 4  # rows per compared table built for inserts, not stored
PROBES_PER_CALL = 200
WORKLOADS_PER_CALL = 20
AHEAD = 2  # batches queued in the worlds while the caller compares
USERS = uuid.UUID("0d3c1f0e-8f5a-4b7e-9a51-5f0c7e2b9d33")  # ids of users migverify adds
MAX_COUNTEREXAMPLES = 12  # distinct ones reported; further failing probes are only counted
