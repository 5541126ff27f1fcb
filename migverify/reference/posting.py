"""Posting (the seed's postingQueue.ts): save each decision to `posted_decisions`.

Columns the pipeline does not know (decision_id, created_at, generation_source) are omitted, so
the table's defaults apply, as they do for the real posting queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class Decision:
    tweet_id: str
    content: str
    topic: str
    style: str
    hook_type: str
    posting_hour: int
    quality_score: float
    posted_at: datetime


class PostingQueue:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def save(self, decision: Decision) -> dict[str, object]:
        """INSERT … RETURNING: the id comes from the table's identity, decision_type and
        generation_source from its (stable) defaults; all must be the same in both worlds.
        decision_id and created_at (volatile defaults) are written but never read back."""
        row = self.conn.execute(
            """
            INSERT INTO posted_decisions
              (tweet_id, content, topic, style, hook_type, posting_hour, quality_score,
               predicted_er, bandit_arm, posted_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            RETURNING id, decision_type, generation_source
            """,
            (
                decision.tweet_id,
                decision.content,
                decision.topic,
                decision.style,
                decision.hook_type,
                decision.posting_hour,
                round(decision.quality_score, 3),
                round(decision.quality_score / 20, 5),
                f"topic:{decision.topic}",
                decision.posted_at,
            ),
        ).fetchone()
        return {"id": row[0], "decision_type": row[1], "generation_source": row[2]}

    def rescore(self, tweet_id: str, quality_score: float) -> None:
        """The generator's quality model revises a posted decision (an UPDATE through the name)."""
        self.conn.execute(
            "UPDATE posted_decisions SET quality_score = %s WHERE tweet_id = %s",
            (round(quality_score, 3), tweet_id),
        )
