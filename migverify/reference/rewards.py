"""Rewards (the seed's metricsCalculator.generateRewardWithContext): one number in [0, 1].

- engagement rate     = (likes + retweets + replies) / impressions
- viral score         = retweets / (likes + 1)
- follower conversion = 1000 · followers_gained / impressions   (followers per 1k impressions)
- reward = clip(0.6 · min(10 · engagement rate, 1) + 0.25 · min(viral score, 1)
                + 0.15 · min(follower conversion / 2, 1), 0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

from migverify.reference.ingest import Observation


@dataclass(frozen=True)
class Reward:
    engagement_rate: float
    viral_score: float
    follower_conversion: float
    value: float


class MetricsCalculator:
    def generate_reward_with_context(self, seen: Observation) -> Reward:
        impressions = max(seen.impressions, 1)
        engagement_rate = (seen.likes + seen.retweets + seen.replies) / impressions
        viral_score = seen.retweets / (seen.likes + 1)
        follower_conversion = 1000 * seen.followers_gained / impressions
        value = (
            0.6 * min(10 * engagement_rate, 1.0)
            + 0.25 * min(viral_score, 1.0)
            + 0.15 * min(follower_conversion / 2, 1.0)
        )
        return Reward(
            round(engagement_rate, 6),
            round(viral_score, 6),
            round(follower_conversion, 6),
            round(min(max(value, 0.0), 1.0), 6),
        )
