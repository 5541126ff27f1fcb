"""Content generation: the next post chosen from the arms (topic, timing, style), with a hook
and a quality estimate; deterministic for a seed."""

from __future__ import annotations

import random
from datetime import datetime

from migverify.reference.audience import HOOKS, STYLE_FACTOR, TOPIC_RATE
from migverify.reference.bandits import BanditManager
from migverify.reference.posting import Decision

LINES = {
    "sleep": "Sleep debt compounds faster than you think.",
    "fitness": "Zone 2 cardio is the most underrated habit.",
    "nutrition": "Protein timing matters less than total intake.",
    "longevity": "Grip strength predicts more than you would guess.",
    "gut_health": "Your gut microbiome changes within 48 hours of a diet switch.",
}


class ContentGenerator:
    def __init__(self, bandits: BanditManager, rng: random.Random) -> None:
        self.bandits, self.rng = bandits, rng

    def next(self, cycle: int, posted_at: datetime) -> Decision:
        topic = self.bandits.choose("topic", self.rng)
        style = self.bandits.choose("style", self.rng)
        hour = int(self.bandits.choose("timing", self.rng))
        hook = HOOKS[self.rng.randrange(len(HOOKS))]
        quality = min(
            0.999, 0.5 + 4 * TOPIC_RATE[topic] * STYLE_FACTOR[style] + self.rng.uniform(0, 0.2)
        )
        return Decision(
            tweet_id=f"ref-{cycle:05d}",
            content=f"[{hook}] {LINES[topic]} ({style})",
            topic=topic,
            style=style,
            hook_type=hook,
            posting_hour=hour,
            quality_score=round(quality, 3),
            posted_at=posted_at.replace(hour=hour),
        )
