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
    conn: psycopg.Connection, cycles: int, seed: int, progress: dict[str, Any] | None = None
) -> Iterator[tuple[int, str, Any]]:
    """Yield (cycle, stage, output) after each stage; PROGRESS (if given) always holds the cycle
    and stage running now, so a database error can be placed."""
    progress = {} if progress is None else progress
    rng = random.Random(f"pipeline-{seed}")
    bandits = BanditManager(conn, ARMS)
    posting = PostingQueue(conn)
    scraper = MetricsScraper(conn, SimulatedAudience(seed))
    ingestor = LearningIngestor(conn)
    calculator = MetricsCalculator()
    generator = ContentGenerator(bandits, rng)
    for cycle in range(cycles):
        progress.update(cycle=cycle, stage="generation")
        day = START + timedelta(days=cycle)
        decision = generator.next(cycle, day)
        progress.update(cycle=cycle, stage="posting")
        saved = posting.save(decision)
        yield cycle, "posting", {**saved, **_decision(decision)}
        progress.update(cycle=cycle, stage="scraping")
        snapshots = [scraper.scrape(decision, 1), scraper.scrape(decision, 24)]
        if cycle % 7 == 3:  # the scraper re-runs a slot: the upsert updates the same row
            snapshots.append(scraper.scrape(decision, 24))
        yield cycle, "scraping", snapshots
        progress.update(cycle=cycle, stage="ingest")
        observations = ingestor.ingest()
        yield cycle, "ingest", [asdict(o) for o in observations]
        progress.update(cycle=cycle, stage="rewards")
        rewards = []
        for seen in observations:
            reward = calculator.generate_reward_with_context(seen)
            bandits.update_topic(seen.topic, reward.value)
            bandits.update("style", seen.style, reward.value)
            bandits.update("timing", str(seen.posting_hour), reward.value)
            posting.rescore(seen.tweet_id, 0.5 + reward.value / 2)
            rewards.append({"tweet_id": seen.tweet_id, **asdict(reward)})
        yield cycle, "rewards", rewards
        if cycle % PRUNE_EVERY == PRUNE_EVERY - 1:
            progress.update(cycle=cycle, stage="cleanup")
            pruned = scraper.prune(day - timedelta(days=KEEP_DAYS))
            yield cycle, "cleanup", pruned
        progress.update(cycle=cycle, stage="bandits")
        yield cycle, "bandits", bandits.state()


def _decision(decision: Any) -> dict[str, Any]:
    data = asdict(decision)
    data["posted_at"] = decision.posted_at.isoformat()
    return data


def run_pipeline(
    conn: psycopg.Connection, cycles: int, seed: int, progress: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run N cycles; the decisions made and the final arm state, as deterministic JSON data."""
    decisions: list[dict[str, Any]] = []
    arms: dict[str, Any] = {}
    for event in cycle_events(conn, cycles, seed, progress):
        arms = collect(decisions, arms, event)
    return summarize(decisions, arms, cycles, seed)


def collect(
    decisions: list[dict[str, Any]], arms: dict[str, Any], event: tuple[int, str, Any]
) -> dict[str, Any]:
    """Fold one stage's output into the per-cycle decisions; returns the latest arm state.

    A decision: the post (id and defaults read back, topic, style, hour, …), its metrics
    snapshots (ids read back) and the reward it earned."""
    _, stage, output = event
    if stage == "posting":
        decisions.append(dict(output))
    elif stage == "scraping":
        decisions[-1]["snapshots"] = output
    elif stage == "rewards":
        by_tweet = {d["tweet_id"]: d for d in decisions[-len(output) - 1 :]}
        for reward in output:
            if reward["tweet_id"] in by_tweet:
                by_tweet[reward["tweet_id"]]["reward"] = reward["value"]
    elif stage == "bandits":
        return output
    return arms


def summarize(decisions: list[dict], arms: dict, cycles: int, seed: int) -> dict[str, Any]:
    shares = {t: sum(d["topic"] == t for d in decisions) / max(len(decisions), 1) for t in TOPICS}
    rewards = [d["reward"] for d in decisions if "reward" in d]
    recent = rewards[len(rewards) // 2 :]
    state = {
        dimension: {
            arm: {"alpha": round(a, 6), "beta": round(b, 6), "pulls": pulls}
            for arm, (a, b, pulls) in values.items()
        }
        for dimension, values in arms.items()
    }
    return {
        "cycles": cycles,
        "seed": seed,
        "decisions": decisions,
        "arms": state,
        "topic_share": {t: round(s, 4) for t, s in shares.items()},
        "summary": {
            "best_arm": {
                dimension: max(
                    sorted(values),
                    key=lambda a: values[a]["alpha"] / (values[a]["alpha"] + values[a]["beta"]),
                )
                for dimension, values in state.items()
            },
            "mean_reward": round(sum(rewards) / max(len(rewards), 1), 6),
            "mean_reward_second_half": round(sum(recent) / max(len(recent), 1), 6),
            "posts": len(decisions),
        },
    }
