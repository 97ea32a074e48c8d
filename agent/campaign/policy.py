"""When a lead may be called: calling hours per time zone, and the retry policy.

* :class:`CallingWindow` — ``09:00-20:00`` in a zone (the campaign's, or the lead's own
  ``tz``); a window may wrap midnight (``20:00-02:00``).
* :class:`RetryPolicy` — which dial outcomes are tried again (busy, no answer, failed,
  unreachable), how often, and after how long (exponential backoff).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tierline.agent.clikit import UsageError

RETRYABLE = ("busy", "no_answer", "failed", "unreachable")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class CallingWindow:
    """Calling hours, local to a time zone.

    Attributes:
        start: Opening time of day.
        end: Closing time of day (exclusive); before ``start`` means past midnight.
        tz: IANA zone of the campaign (a lead's own ``tz`` overrides it).
    """

    start: time = time(0, 0)
    end: time = time(23, 59, 59)
    tz: str = "Asia/Shanghai"

    @classmethod
    def parse(cls, text: str | None, tz: str) -> CallingWindow:
        """``HH:MM-HH:MM`` (None: all day) in zone ``tz``.

        Raises:
            UsageError: a malformed window or an unknown zone.
        """
        zone(tz)
        if not text:
            return cls(tz=tz)
        m = _HHMM.match(text.strip())
        if not m:
            raise UsageError(f"--window must be HH:MM-HH:MM (e.g. 09:00-20:00), not {text!r}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise UsageError(f"--window {text!r}: hours are 00-24, minutes 00-59")
        if (h1, m1) == (h2, m2):
            raise UsageError(f"--window {text!r} is empty")
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        return cls(time(h1, m1), end, tz)

    def describe(self, tz: str = "") -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {tz or self.tz}"

    def is_open(self, now: datetime, tz: str = "") -> bool:
        """Whether ``now`` (aware) lies inside the window in ``tz`` (default the campaign's)."""
        local = now.astimezone(zone(tz or self.tz)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, now: datetime, tz: str = "") -> datetime:
        """``now`` when open, else the next opening (aware, in the lead's zone)."""
        if self.is_open(now, tz):
            return now
        local = now.astimezone(zone(tz or self.tz))
        opening = local.replace(hour=self.start.hour, minute=self.start.minute, second=0,
                                microsecond=0)
        if opening <= local:
            opening += timedelta(days=1)
        return opening


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r} (use an IANA name such as "
                         "Asia/Shanghai)") from None


@dataclass(frozen=True)
class RetryPolicy:
    """Which failed dials are tried again, and when.

    Attributes:
        max_attempts: Dials per lead at most (the first included).
        backoff_s: Wait before the second attempt; each later one waits ``factor`` times more.
        factor: Backoff growth.
        retry_on: Outcomes that are tried again (others are final).
    """

    max_attempts: int = 3
    backoff_s: float = 1800.0
    factor: float = 2.0
    retry_on: tuple[str, ...] = RETRYABLE

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError("--max-attempts must be at least 1")
        if self.backoff_s < 0:
            raise UsageError("--retry-after must not be negative")

    def retry_in(self, outcome: str, attempts: int) -> float | None:
        """Seconds until the next attempt after ``attempts`` dials ended in ``outcome``;
        None when the lead is done."""
        if outcome not in self.retry_on or attempts >= self.max_attempts:
            return None
        return self.backoff_s * self.factor ** (attempts - 1)
