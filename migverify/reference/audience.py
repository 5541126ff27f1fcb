"""The simulated audience: true engagement per topic, style and posting hour (seeded, so every
run with the same seed sees the same reactions).

Ground truth the bandits must discover: `sleep` is clearly the best topic (base engagement rate
6% against 2–3% for the others), `contrarian` the best style, and evenings (18–21h) the best time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TOPICS = ("sleep", "fitness", "nutrition", "longevity", "gut_health")
STYLES = ("educational", "contrarian", "storytelling")
HOURS = (8, 12, 15, 19, 21)
HOOKS = ("question", "statistic", "bold_claim", "myth_buster")

TOPIC_RATE = {"sleep": 0.060, "fitness": 0.030, "nutrition": 0.025, "longevity": 0.022,
              "gut_health": 0.020}  # fmt: skip
STYLE_FACTOR = {"educational": 1.0, "contrarian": 1.3, "storytelling": 1.1}
HOUR_FACTOR = {8: 0.9, 12: 1.0, 15: 0.85, 19: 1.25, 21: 1.15}


@dataclass(frozen=True)
class Engagement:
    likes: int
    retweets: int
    replies: int
    impressions: int
    followers_gained: int


class SimulatedAudience:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"audience-{seed}")

    def react(self, topic: str, style: str, hour: int, hours_after: int) -> Engagement:
        """Engagement HOURS_AFTER posting (1 = first scrape, 24 = the day after)."""
        reach = 800 + self.rng.randint(0, 400)
        impressions = reach * (1 if hours_after <= 1 else 4)
        rate = TOPIC_RATE[topic] * STYLE_FACTOR[style] * HOUR_FACTOR[hour]
        rate *= self.rng.uniform(0.7, 1.3)
        engaged = int(impressions * rate)
        retweets = int(engaged * self.rng.uniform(0.10, 0.20))
        replies = int(engaged * self.rng.uniform(0.05, 0.10))
        likes = max(engaged - retweets - replies, 0)
        followers = int(impressions * rate * self.rng.uniform(0.02, 0.05))
        return Engagement(likes, retweets, replies, impressions, followers)
