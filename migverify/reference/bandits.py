"""Bandits (the seed's BanditManager): Thompson sampling per dimension (topic, timing, style).

Each arm keeps a Beta(α, β) posterior over its reward in [0, 1]; a reward r adds r to α and
1 − r to β (the fractional Bernoulli update). To choose, draw one sample per arm from its
posterior and take the largest. Arm state lives in PostgreSQL (`bandit_arms`, the pipeline's own
table — not part of the migration) and is reloaded every cycle.
"""

from __future__ import annotations

import random

import psycopg

ARMS_TABLE = """
CREATE TABLE IF NOT EXISTS bandit_arms (
  dimension text NOT NULL,
  arm text NOT NULL,
  alpha double precision NOT NULL DEFAULT 1,
  beta double precision NOT NULL DEFAULT 1,
  pulls integer NOT NULL DEFAULT 0,
  PRIMARY KEY (dimension, arm)
)
"""


class BanditManager:
    def __init__(self, conn: psycopg.Connection, arms: dict[str, tuple[str, ...]]) -> None:
        self.conn = conn
        conn.execute(ARMS_TABLE)
        for dimension, values in arms.items():
            for value in values:
                conn.execute(
                    "INSERT INTO bandit_arms (dimension, arm) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (dimension, value),
                )

    def state(self) -> dict[str, dict[str, tuple[float, float, int]]]:
        rows = self.conn.execute(
            "SELECT dimension, arm, alpha, beta, pulls FROM bandit_arms ORDER BY dimension, arm"
        ).fetchall()
        state: dict[str, dict[str, tuple[float, float, int]]] = {}
        for dimension, arm, alpha, beta, pulls in rows:
            state.setdefault(dimension, {})[arm] = (alpha, beta, pulls)
        return state

    def choose(self, dimension: str, rng: random.Random) -> str:
        arms = self.state()[dimension]
        draws = {arm: rng.betavariate(alpha, beta) for arm, (alpha, beta, _) in arms.items()}
        return max(sorted(draws), key=lambda arm: draws[arm])

    def update(self, dimension: str, arm: str, reward: float) -> None:
        self.conn.execute(
            "UPDATE bandit_arms SET alpha = alpha + %s, beta = beta + %s, pulls = pulls + 1 "
            "WHERE dimension = %s AND arm = %s",
            (reward, 1 - reward, dimension, arm),
        )

    def update_topic(self, topic: str, reward: float) -> None:
        self.update("topic", topic, reward)
