"""Ingest (the seed's LearningIngestor in src/learn/ingest.ts): posts joined with their metrics,
read through the legacy names, as `.select('*, analytics:real_tweet_metrics(*)')` does."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Observation:
    id: int
    tweet_id: str
    topic: str
    style: str
    posting_hour: int
    likes: int
    retweets: int
    replies: int
    impressions: int
    followers_gained: int


class LearningIngestor:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.last_seen = 0

    def ingest(self) -> list[Observation]:
        """Posts not yet learned from, with their day-after snapshot (in id order)."""
        rows = self.conn.execute(
            """
            SELECT d.id, d.tweet_id, d.topic, d.style, d.posting_hour,
                   m.likes, m.retweets, m.replies, m.impressions, m.followers_gained
            FROM posted_decisions AS d
            JOIN real_tweet_metrics AS m ON m.tweet_id = d.tweet_id
            WHERE m.collection_phase = 'T+24h' AND d.id > %s AND d.tweet_id LIKE 'ref-%%'
            ORDER BY d.id
            """,
            (self.last_seen,),
        ).fetchall()
        observations = [Observation(*row) for row in rows]
        if observations:
            self.last_seen = observations[-1].id
        return observations
