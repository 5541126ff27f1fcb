"""Scraping (the seed's scrapingOrchestrator.ts / metricsScraperJob.ts): engagement snapshots
written to `real_tweet_metrics` one hour and one day after posting.

The scraper upserts on (tweet_id, collected_at), as the real one does, so a re-run of the same
collection slot updates instead of failing; old first-hour snapshots are cleaned up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from migverify.reference.audience import SimulatedAudience
from migverify.reference.posting import Decision


class MetricsScraper:
    def __init__(self, conn: psycopg.Connection, audience: SimulatedAudience) -> None:
        self.conn, self.audience = conn, audience

    def scrape(self, decision: Decision, hours_after: int) -> dict[str, object]:
        """Upsert one snapshot; RETURNING the row's id (identity; the existing one when the slot
        was scraped before) and the columns the scraper leaves to their defaults."""
        seen = self.audience.react(
            decision.topic, decision.style, decision.posting_hour, hours_after
        )
        phase = "T+1h" if hours_after <= 1 else "T+24h"
        row = self.conn.execute(
            """
            INSERT INTO real_tweet_metrics
              (tweet_id, likes, retweets, replies, impressions, followers_gained,
               collection_phase, collected_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (tweet_id, collected_at) DO UPDATE
            SET likes = EXCLUDED.likes, retweets = EXCLUDED.retweets,
                replies = EXCLUDED.replies, impressions = EXCLUDED.impressions,
                followers_gained = EXCLUDED.followers_gained
            RETURNING id, collection_phase, bookmarks, quotes, is_verified
            """,
            (
                decision.tweet_id,
                seen.likes,
                seen.retweets,
                seen.replies,
                seen.impressions,
                seen.followers_gained,
                phase,
                decision.posted_at + timedelta(hours=hours_after),
            ),
        ).fetchone()
        names = ("id", "collection_phase", "bookmarks", "quotes", "is_verified")
        return dict(zip(names, row, strict=True))

    def prune(self, before: datetime) -> int:
        """Delete first-hour snapshots older than BEFORE (the day-after one is kept)."""
        cursor = self.conn.execute(
            "DELETE FROM real_tweet_metrics WHERE collection_phase = 'T+1h' AND collected_at < %s"
            " AND tweet_id LIKE 'ref-%%'",
            (before,),
        )
        return cursor.rowcount
