"""When to try an alert again: exponential backoff with jitter, for a bounded time, then give up and report.

An alert MUST be marked delivered only for the councils that answered it; the others MUST be tried again
after a delay that doubles with each attempt (with jitter, so councils that failed together do not retry
together), and MUST be recorded undelivered once `give_up_after` has passed since the change was recorded,
so the sending council's records team can see which councils never heard of it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_delay: dt.timedelta = dt.timedelta(seconds=2)
    max_delay: dt.timedelta = dt.timedelta(minutes=10)
    give_up_after: dt.timedelta = dt.timedelta(hours=24)

    def delay(self, attempts: int, rng: random.Random | None = None) -> dt.timedelta:
        """How long to wait after the `attempts`-th failed attempt (1, 2, …): half fixed, half random
        ("equal jitter"), so a retry is never immediate however unlucky the draw."""
        ceiling = min(self.max_delay, self.first_delay * (1 << min(max(attempts - 1, 0), 30)))
        draw: float = (rng or random).random()
        return ceiling / 2 + ceiling / 2 * draw

    def gives_up(self, created_at: dt.datetime, now: dt.datetime) -> bool:
        return now - created_at >= self.give_up_after
