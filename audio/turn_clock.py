"""When a caller's turn really ended: the wall time of its last voiced frame.

Every transport measures a turn's latency the same way: from the moment the caller's last
voiced frame arrived (:attr:`TurnTiming.voiced_end_at`) to the route decision. The endpointer
only closes a turn after a hangover of silence (longer while the caller is mid-number), so
the moment it *declares* the end (:attr:`TurnTiming.declared_at`) comes later;
:attr:`TurnTiming.endpoint_ms` is that wait, and a turn's decision latency always includes it.

A transport notes each frame's arrival in a :class:`FrameClock` as it feeds the endpointer,
then asks :meth:`FrameClock.timing` for every utterance the endpointer returns.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from tierline.audio.records import FRAME_MS, Utterance

KEEP_S = 60.0
"""How much arrival history is kept: far beyond the longest hangover (1.5 s)."""


@dataclass(frozen=True)
class TurnTiming:
    """Wall-clock moments (``time.perf_counter()``) of one turn's end.

    Attributes:
        voiced_end_at: The caller's last voiced frame arrived.
        declared_at: The endpointer closed the turn.
    """

    voiced_end_at: float
    declared_at: float

    @property
    def endpoint_ms(self) -> float:
        """The endpointer's wait: last voiced frame → end of turn declared."""
        return max(0.0, self.declared_at - self.voiced_end_at) * 1000

    @classmethod
    def now(cls) -> TurnTiming:
        """A turn that ended just now (text turns, or a transport that cannot tell)."""
        t = time.perf_counter()
        return cls(t, t)


class FrameClock:
    """Arrival times of a call's recent frames, by their end on the call timeline.

    Args:
        keep_s: Seconds of history kept.
    """

    def __init__(self, keep_s: float = KEEP_S) -> None:
        self.keep_s = keep_s
        self._arrivals: deque[tuple[float, float]] = deque()

    def arrived(self, end_s: float, at: float | None = None) -> None:
        """A frame ending at ``end_s`` (call timeline) arrived at ``at`` (default now)."""
        self._arrivals.append((end_s, time.perf_counter() if at is None else at))
        while self._arrivals and self._arrivals[0][0] < end_s - self.keep_s:
            self._arrivals.popleft()

    def when(self, timeline_s: float) -> float | None:
        """Arrival time of the first frame that reached ``timeline_s``; None if forgotten."""
        if not self._arrivals or self._arrivals[0][0] > timeline_s + FRAME_MS / 1000:
            return None  # before the history kept (or nothing arrived yet)
        found = None
        for end_s, at in reversed(self._arrivals):
            if end_s < timeline_s - 1e-6:
                break
            found = at
        return found

    def timing(self, utt: Utterance, declared_at: float | None = None) -> TurnTiming:
        """The timing of an utterance the endpointer just returned.

        Args:
            utt: The closed utterance (its ``end_s`` is the last voiced frame).
            declared_at: When the endpointer returned it (default now).
        """
        declared_at = time.perf_counter() if declared_at is None else declared_at
        voiced = self.when(utt.end_s)
        return TurnTiming(min(declared_at, declared_at if voiced is None else voiced),
                          declared_at)
