"""The learning cycle of the seed, stage by stage: post → scrape → ingest → reward → bandits →
generate the next post. It talks to PostgreSQL only through the legacy names
`posted_decisions` and `real_tweet_metrics` (plus its own `bandit_arms`).

`cycle_events` yields what each stage observably produced, so two worlds can be run in lockstep
and the first stage that differs named.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from migverify.reference.audience import HOURS, STYLES, TOPICS, SimulatedAudience
from migverify.reference.bandits import BanditManager
from migverify.reference.generation import ContentGenerator
from migverify.reference.ingest import LearningIngestor
from migverify.reference.posting import PostingQueue
from migverify.reference.rewards import MetricsCalculator
from migverify.reference.scraping import MetricsScraper

START = datetime(2026, 6, 1, tzinfo=UTC)  # the simulated clock: one post per day
ARMS = {"topic": TOPICS, "style": STYLES, "timing": tuple(str(h) for h in HOURS)}
PRUNE_EVERY, KEEP_DAYS = 10, 5


def cycle_events(
    conn: psycopg.Connection, cycles: int, seed: int
) -> Iterator[tuple[int, str, Any]]:
    rng = random.Random(f"pipeline-{seed}")
    bandits = BanditManager(conn, ARMS)
    posting = PostingQueue(conn)
    scraper = MetricsScraper(conn, SimulatedAudience(seed))
    ingestor = LearningIngestor(conn)
    calculator = MetricsCalculator()
    generator = ContentGenerator(bandits, rng)
    for cycle in range(cycles):
        day = START + timedelta(days=cycle)
        decision = generator.next(cycle, day)
        row_id = posting.save(decision)
        yield cycle, "posting", {"id": row_id, **_decision(decision)}
        scraper.scrape(decision, 1)
        scraper.scrape(decision, 24)
        if cycle % 7 == 3:
            scraper.scrape(decision, 24)  # the scraper re-runs a slot: the upsert updates it
        yield cycle, "scraping", decision.tweet_id
        observations = ingestor.ingest()
        yield cycle, "ingest", [asdict(o) for o in observations]
        rewards = []
        for seen in observations:
            reward = calculator.generate_reward_with_context(seen)
            bandits.update_topic(seen.topic, reward.value)
            bandits.update("style", seen.style, reward.value)
            bandits.update("timing", str(seen.posting_hour), reward.value)
            posting.rescore(seen.tweet_id, 0.5 + reward.value / 2)
            rewards.append(asdict(reward))
        yield cycle, "rewards", rewards
        if cycle % PRUNE_EVERY == PRUNE_EVERY - 1:
            pruned = scraper.prune(day - timedelta(days=KEEP_DAYS))
            yield cycle, "cleanup", pruned
        yield cycle, "bandits", bandits.state()


def _decision(decision: Any) -> dict[str, Any]:
    data = asdict(decision)
    data["posted_at"] = decision.posted_at.isoformat()
    return data


def run_pipeline(conn: psycopg.Connection, cycles: int, seed: int) -> dict[str, Any]:
    """Run N cycles; the decisions made and the final arm state, as deterministic JSON data."""
    decisions, arms = [], {}
    for _, stage, output in cycle_events(conn, cycles, seed):
        if stage == "posting":
            decisions.append(output)
        elif stage == "bandits":
            arms = output
    return summarize(decisions, arms, cycles, seed)


def summarize(decisions: list[dict], arms: dict, cycles: int, seed: int) -> dict[str, Any]:
    shares = {t: sum(d["topic"] == t for d in decisions) / max(len(decisions), 1) for t in TOPICS}
    return {
        "cycles": cycles,
        "seed": seed,
        "decisions": decisions,
        "arms": {
            dimension: {
                arm: {"alpha": round(a, 6), "beta": round(b, 6), "pulls": pulls}
                for arm, (a, b, pulls) in values.items()
            }
            for dimension, values in arms.items()
        },
        "topic_share": {t: round(s, 4) for t, s in shares.items()},
    }
