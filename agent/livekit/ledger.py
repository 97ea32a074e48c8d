"""What the plugins of one call learn about its utterances, shared by VAD, STT, agent and input.

livekit-agents hands the STT only audio and the agent only text. The ledger keeps the call
timeline next to them: the VAD registers every utterance it closes (start, end, the moment the
endpointer knew), the STT files the transcript of that same audio, and the agent takes the
transcripts of a committed turn to decide on them with the real timings. It also carries the
file input's pacing state (how many utterances it has released and how many are settled) and
the caller's hang-up, so a simulated caller waits for the bot like a person on the phone.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from tierline.audio.records import Utterance
from tierline.audio.turn_clock import TurnTiming


def audio_key(pcm16: bytes) -> str:
    """Identity of an utterance's audio (int16 bytes), shared by VAD and STT."""
    return hashlib.blake2b(pcm16, digest_size=16).hexdigest()


def utterance_pcm16(utt: Utterance) -> bytes:
    """The utterance audio back as the int16 bytes the endpointer cut it from."""
    return np.round(utt.audio * 32768.0).clip(-32768, 32767).astype(np.int16).tobytes()


@dataclass(frozen=True)
class HeardUtterance:
    """An utterance the VAD closed and the STT transcribed.

    Attributes:
        start_s: Start in the call timeline, seconds.
        end_s: End of speech, seconds.
        timing: When its last voiced frame arrived and when the endpointer closed it.
        text: Transcript ("" when nothing was recognised).
        language: Language code.
        dialect: Dialect label or None.
        confidence: Recogniser confidence.
        asr_ms: Recognition time, milliseconds.
        utterance: The endpointer's utterance (None for audio from a VAD that is not ours).
        alternatives: The recogniser's readings as (text, summed log-probability), best first.
    """

    start_s: float
    end_s: float
    timing: TurnTiming
    text: str
    language: str
    dialect: str | None
    confidence: float
    asr_ms: float
    utterance: Utterance | None = None
    alternatives: tuple[tuple[str, float], ...] = ()


class CallLedger:
    """Per-call shared state between the livekit plugins, the agent and the file input."""

    def __init__(self) -> None:
        self._utterances: dict[str, tuple[Utterance, TurnTiming]] = {}
        self._heard: deque[HeardUtterance] = deque()
        self.released = 0
        """Utterances the file input has let through (its own endpointer's count)."""
        self.settled = 0
        """Utterances fully handled: transcribed empty, or decided and answered."""
        self._settled_event = asyncio.Event()
        self.ready = asyncio.Event()
        """Set by the agent once its session runs (caller audio before it would be dropped)."""
        self.hung_up = asyncio.Event()
        """Set when the caller's audio ended (end of file or participant left)."""
        self.samples_sent = 0
        """16 kHz samples the input has emitted so far."""

    # -- VAD side
    def register(self, key: str, utt: Utterance, timing: TurnTiming | None = None) -> None:
        """Record an utterance closed by a VAD stream (idempotent across streams)."""
        if key not in self._utterances:
            self._utterances[key] = (utt, timing or TurnTiming.now())

    # -- STT side
    def heard(self, key: str | None, text: str, language: str, dialect: str | None,
              confidence: float, asr_ms: float, duration_s: float,
              alternatives: tuple[tuple[str, float], ...] = ()) -> HeardUtterance:
        """File the transcript of one utterance; empty text settles it at once."""
        found = self._utterances.pop(key, None) if key else None
        utt: Utterance | None = None
        if found is not None:
            utt, timing = found
            start_s, end_s = utt.start_s, utt.end_s
        else:  # audio from a VAD that is not ours: no call timeline known
            timing = TurnTiming.now()
            start_s, end_s = 0.0, duration_s
        item = HeardUtterance(start_s, end_s, timing, text, language, dialect,
                              confidence, asr_ms, utt, alternatives)
        if text:
            self._heard.append(item)
        elif found is not None:  # our utterance, heard as nothing: nothing will decide it
            self.settle(1)
        return item

    # -- agent side
    def take_turn(self) -> list[HeardUtterance]:
        """Every transcribed utterance not yet decided (usually one per committed turn)."""
        items = list(self._heard)
        self._heard.clear()
        return items

    @property
    def pending(self) -> int:
        """Transcribed utterances waiting for a turn commit."""
        return len(self._heard)

    def settle(self, n: int) -> None:
        """Mark ``n`` utterances as handled; wakes a waiting file input."""
        self.settled += n
        self._settled_event.set()

    # -- input side
    async def wait_settled(self, timeout: float) -> bool:
        """Wait until every released utterance is settled.

        Returns:
            False when ``timeout`` passed first.
        """
        deadline = time.monotonic() + timeout
        while self.settled < self.released:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._settled_event.clear()
            try:
                await asyncio.wait_for(self._settled_event.wait(), remaining)
            except asyncio.TimeoutError:
                return self.settled >= self.released
        return True
