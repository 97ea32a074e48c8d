"""Two-stage streaming endpointer: webrtcvad proposes, Silero confirms, hangover closes.

States per call:

* idle — frames go to a pre-roll ring. ``start_frames`` consecutive webrtcvad-voiced frames
  open a *candidate*.
* candidate — the confirming detector must see ``confirm_ms`` of speech (probability ≥
  ``threshold``) before the candidate becomes a turn. A candidate with ``reject_ms`` of
  silence on both stages, or older than ``candidate_max_ms``, is dropped: coughs, clicks and
  line noise that fool webrtcvad end here.
* speech — a frame is speech when webrtcvad calls it voiced *and* the detector's probability is
  ≥ ``neg_threshold`` (hysteresis); the turn's end is placed at the last frame with probability
  ≥ ``threshold``. ``hangover_ms`` of non-speech closes the turn, unless the
  partial transcript ends inside a number (see :mod:`tierline.audio.quantity`): then the turn
  stays open up to ``quantity_hangover_ms``. Turns reaching ``max_utterance_s`` are split.

The utterance starts ``pre_roll_ms`` before the speech onset (the webrtcvad run that opened the
candidate, or the detector's onset when the candidate had been running on noise) and ends at
the last speech frame; ``TRAILING_KEEP_MS`` of the trailing silence stays in the audio.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from tierline.audio.detector import SpeechDetector
from tierline.audio.errors import AudioError
from tierline.audio.quantity import ends_inside_quantity
from tierline.audio.records import FRAME_MS, Frame, Utterance
from tierline.audio.twostage import FrameVerdict, TwoStageVAD
from tierline.audio.vad import TRAILING_KEEP_MS, Endpointer, EndpointerConfig

PartialTranscriber = Callable[[np.ndarray], "str | None"]
"""Returns the transcript of the audio of the open turn (float32, 16 kHz) so far."""


@dataclass(frozen=True)
class ConfirmConfig:
    """Settings of the confirming stage and of quantity-aware endpointing.

    Attributes:
        threshold: Detector probability that counts as speech for confirmation.
        neg_threshold: Inside a turn, a frame below this is non-speech (hysteresis).
        confirm_ms: Detector-confirmed speech needed to turn a candidate into a turn.
        reject_ms: Silence on both stages that drops an unconfirmed candidate.
        candidate_max_ms: Unconfirmed candidates older than this are dropped.
        onset_lag_ms: How far the detector's onset lags the audio (used to place the start
            of a turn confirmed on a candidate that began on noise).
        quantity_hangover_ms: Hangover when the partial transcript ends inside a number.
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    confirm_ms: int = 100
    reject_ms: int = 200
    candidate_max_ms: int = 1000
    onset_lag_ms: int = 80
    quantity_hangover_ms: int = 1500

    def __post_init__(self) -> None:
        if not 0.0 < self.neg_threshold <= self.threshold < 1.0:
            raise AudioError(
                "need 0 < neg_threshold <= threshold < 1, not "
                f"{self.neg_threshold} and {self.threshold}"
            )
        for name in ("confirm_ms", "reject_ms", "candidate_max_ms"):
            if getattr(self, name) < FRAME_MS:
                raise AudioError(f"{name} must be >= {FRAME_MS}, not {getattr(self, name)}")
        if self.onset_lag_ms < 0:
            raise AudioError(f"onset_lag_ms must be >= 0, not {self.onset_lag_ms}")
        if self.quantity_hangover_ms < FRAME_MS:
            raise AudioError(
                f"quantity_hangover_ms must be >= {FRAME_MS}, not {self.quantity_hangover_ms}"
            )


def _frames(ms: float) -> int:
    return max(1, math.ceil(ms / FRAME_MS))


_IDLE, _CANDIDATE, _SPEECH = "idle", "candidate", "speech"


class TwoStageEndpointer:
    """Turns a stream of 20 ms frames into caller utterances with two VAD stages.

    Same interface as :class:`tierline.audio.vad.Endpointer` (``push``/``flush``/``reset``).

    Args:
        config: Shared endpointer settings (aggressiveness, pre-roll, hangover, minimum
            speech, start frames, maximum length).
        confirm: Confirming-stage and quantity settings.
        detector: Confirming detector; default Silero.
        partial: Optional transcriber asked, when a pause reaches the hangover, for the text
            of the open turn; if it ends inside a number the turn is kept open longer.
            Transports with streaming ASR call :meth:`hint_partial` instead.
    """

    def __init__(
        self,
        config: EndpointerConfig | None = None,
        confirm: ConfirmConfig | None = None,
        detector: SpeechDetector | None = None,
        partial: PartialTranscriber | None = None,
    ) -> None:
        self.config = config or EndpointerConfig()
        self.confirm = confirm or ConfirmConfig()
        self.vad = TwoStageVAD(self.config.aggressiveness, detector)
        self.partial = partial
        c, k = self.config, self.confirm
        self._pre_roll = math.ceil(c.pre_roll_ms / FRAME_MS)
        self._hangover = _frames(c.hangover_ms)
        self._q_hangover = max(self._hangover, _frames(k.quantity_hangover_ms))
        self._min_speech = math.ceil(c.min_speech_ms / FRAME_MS)
        self._max_frames = max(1, round(c.max_utterance_s * 1000 / FRAME_MS))
        self._confirm = _frames(k.confirm_ms)
        self._reject = _frames(k.reject_ms)
        self._cand_max = _frames(k.candidate_max_ms)
        self._lag = round(k.onset_lag_ms / FRAME_MS)
        self._keep_trailing = math.ceil(TRAILING_KEEP_MS / FRAME_MS)
        self.reset()

    # ------------------------------------------------------------------ public

    def reset(self) -> None:
        """Forget all state, as at the start of a new call."""
        self.vad.reset()
        self._ring: deque[FrameVerdict] = deque(maxlen=self._pre_roll + self.config.start_frames)
        self._state = _IDLE
        self._run = 0  # consecutive fast-voiced frames while idle
        self._turn: list[FrameVerdict] = []
        self._onset = 0  # index in _turn of the first speech frame
        self._positives = 0  # detector-confirmed frames of the candidate
        self._quiet = 0  # consecutive silent frames of the candidate (both stages)
        self._det_run_start: int | None = None  # start of the detector's current run
        self._speech = 0  # speech frames in the open turn
        self._silence = 0  # trailing non-speech frames in the open turn
        self._last_speech = -1  # index in _turn of the last speech frame
        self._extended = False  # quantity rule already consulted for this pause
        self._quantity_open = False  # ... and it said the caller is inside a number
        self._hint: str | None = None
        self._last: FrameVerdict | None = None
        self.confirmed_at_s: float | None = None

    @property
    def in_speech(self) -> bool:
        """Whether a confirmed turn is open."""
        return self._state == _SPEECH

    @property
    def candidate(self) -> bool:
        """Whether the fast stage has proposed speech that is not confirmed yet."""
        return self._state == _CANDIDATE

    @property
    def speech_start_s(self) -> float | None:
        """Onset of the open confirmed turn's speech, None when no turn is open."""
        if self._state != _SPEECH or not self._turn:
            return None
        return self._turn[min(self._onset, len(self._turn) - 1)].frame.start_s

    def hint_partial(self, text: str | None) -> None:
        """Give the latest partial transcript of the open turn (streaming ASR transports)."""
        self._hint = text

    def push(self, frame: Frame) -> list[Utterance]:
        """Feed one frame; return utterances closed by it (usually none).

        Raises:
            AudioError: The frame is not 320 int16 samples.
        """
        v = self.vad.classify(frame)
        self._last = v
        if self._state == _IDLE:
            self._idle(v)
            return []
        if self._state == _CANDIDATE:
            self._candidate(v)
            return []
        return self._in_turn(v)

    def flush(self) -> list[Utterance]:
        """Close the open turn at end of stream; return it if long enough."""
        out: list[Utterance] = []
        if self._state == _SPEECH and self._last is not None:
            out = self._close(self._last.frame, keep_open=False)
        self.reset()
        return out

    # ------------------------------------------------------------------ states

    def _idle(self, v: FrameVerdict) -> None:
        self._ring.append(v)
        self._run = self._run + 1 if v.fast else 0
        if self._run >= self.config.start_frames:
            self._turn = list(self._ring)
            self._onset = len(self._turn) - self._run
            self._positives = 0
            self._det_run_start = None
            for i in range(self._onset, len(self._turn)):
                self._count_detector(i)
            self._quiet = 0
            self._state = _CANDIDATE
            self._ring.clear()
            self._run = 0
            self._maybe_confirm()

    def _count_detector(self, i: int) -> None:
        """Update confirmation counters with frame ``i`` of the candidate."""
        v = self._turn[i]
        if v.prob >= self.confirm.threshold:
            self._positives += 1
        if v.prob >= self.confirm.neg_threshold:
            if self._det_run_start is None:
                self._det_run_start = i
        else:
            self._det_run_start = None

    def _candidate(self, v: FrameVerdict) -> None:
        self._turn.append(v)
        self._count_detector(len(self._turn) - 1)
        silent = not v.fast and v.prob < self.confirm.neg_threshold
        self._quiet = self._quiet + 1 if silent else 0
        if self._maybe_confirm():
            return
        age = len(self._turn) - self._onset
        if self._quiet >= self._reject or age >= self._cand_max:
            self._drop_candidate()

    def _maybe_confirm(self) -> bool:
        if self._positives < self._confirm:
            return False
        if self._det_run_start is not None and self._det_run_start - self._onset > self._confirm:
            # The candidate ran on noise before speech began: start at the detector's onset.
            self._onset = max(self._onset, self._det_run_start - self._lag)
        first = max(0, self._onset - self._pre_roll)
        self._turn = self._turn[first:]
        self._onset -= first
        self._speech = sum(self._is_speech(v) for v in self._turn[self._onset :])
        self._last_speech = len(self._turn) - 1
        self._silence = 0
        self._extended = False
        self._state = _SPEECH
        self.confirmed_at_s = self._turn[-1].frame.end_s
        return True

    def _drop_candidate(self) -> None:
        keep = self._turn[-(self._pre_roll + self.config.start_frames) :]
        self._turn = []
        self._state = _IDLE
        self._ring.clear()
        self._run = 0
        for v in keep:
            self._ring.append(v)
        # the fast stage may still be voiced: count the trailing run again
        for v in reversed(keep):
            if not v.fast:
                break
            self._run += 1
        self._run = min(self._run, self.config.start_frames - 1)

    def _is_speech(self, v: FrameVerdict) -> bool:
        return v.fast and v.prob >= self.confirm.neg_threshold

    def _in_turn(self, v: FrameVerdict) -> list[Utterance]:
        self._turn.append(v)
        if self._is_speech(v):
            self._speech += 1
            self._silence = 0
            if v.prob >= self.confirm.threshold or self._silence_since_strong():
                self._last_speech = len(self._turn) - 1
            self._extended = False
        else:
            self._silence += 1
        if self._silence >= self._hangover and self._keep_waiting():
            return []
        if self._silence >= self._hangover:
            return self._close(v.frame, keep_open=False)
        if len(self._turn) >= self._max_frames:
            return self._close(v.frame, keep_open=True)
        return []

    def _silence_since_strong(self) -> bool:
        """A weak speech frame only moves the turn's end when no strong one is recent.

        The detector decays for ~100 ms after speech stops while webrtcvad may stay voiced on
        line noise; ending the turn at the last strong frame keeps offsets tight.
        """
        return len(self._turn) - 1 - self._last_speech > self._hangover // 2

    def _keep_waiting(self) -> bool:
        """At the hangover: does the partial transcript end inside a number?"""
        if self._silence >= self._q_hangover:
            return False
        if not self._extended:
            self._extended = True
            text = self._hint
            if self.partial is not None:
                text = self.partial(self._audio(self._kept(self._turn, self._last_speech)))
            self._quantity_open = ends_inside_quantity(text)
        return self._quantity_open

    # ------------------------------------------------------------------ output

    def _audio(self, verdicts: list[FrameVerdict]) -> np.ndarray:
        if not verdicts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([v.frame.pcm for v in verdicts]).astype(np.float32) / 32768.0

    def _kept(self, turn: list[FrameVerdict], last: int) -> list[FrameVerdict]:
        """The frames whose audio the utterance carries: speech plus a little trailing audio."""
        return turn[: min(len(turn), last + 1 + self._keep_trailing)]

    def _close(self, at: Frame, keep_open: bool) -> list[Utterance]:
        turn, onset, speech, last = self._turn, self._onset, self._speech, self._last_speech
        self._turn, self._speech, self._silence, self._onset = [], 0, 0, 0
        self._last_speech, self._extended, self._hint = -1, False, None
        self._state = _SPEECH if keep_open else _IDLE
        if keep_open:
            self._last_speech = -1
        if speech < max(1, self._min_speech) or last < 0:
            return []
        kept = self._kept(turn, last)
        return [
            Utterance(
                start_s=max(0.0, turn[0].frame.start_s),
                end_s=turn[last].frame.end_s,
                audio=self._audio(kept),
                detected_at_s=at.end_s,
                speech_start_s=turn[min(onset, last)].frame.start_s,
            )
        ]


def split_two_stage(
    frames: Iterable[Frame],
    config: EndpointerConfig | None = None,
    confirm: ConfirmConfig | None = None,
    detector: SpeechDetector | None = None,
) -> Iterator[Utterance]:
    """Endpoint a whole frame stream with :class:`TwoStageEndpointer`.

    Yields:
        Utterances in order, including the one still open at end of stream.
    """
    endpointer = TwoStageEndpointer(config, confirm, detector)
    for frame in frames:
        yield from endpointer.push(frame)
    yield from endpointer.flush()


@dataclass(frozen=True)
class EndpointingConfig:
    """How every transport cuts a call into caller turns (replay, LiveKit, SIP alike).

    Attributes:
        endpointer: Shared endpointer settings (aggressiveness, pre-roll, hangover, ...).
        confirm: Confirming-stage and quantity settings.
        two_stage: False: webrtcvad alone (the first endpointer), for comparison.
        quantity_aware: Ask for the open turn's transcript at the hangover to detect
            unfinished numbers.
    """

    endpointer: EndpointerConfig = field(default_factory=EndpointerConfig)
    confirm: ConfirmConfig = field(default_factory=ConfirmConfig)
    two_stage: bool = True
    quantity_aware: bool = True


def make_endpointer(config: EndpointingConfig | None = None,
                    partial: PartialTranscriber | None = None) -> Endpointer | TwoStageEndpointer:
    """A fresh endpointer for one call.

    Args:
        config: How turns are cut (default settings when None).
        partial: Transcribes the open turn, for quantity-aware endpointing (ignored when
            ``config.quantity_aware`` is off or the endpointer is webrtcvad alone).
    """
    config = config or EndpointingConfig()
    if not config.two_stage:
        return Endpointer(config.endpointer)
    return TwoStageEndpointer(config.endpointer, config.confirm,
                              partial=partial if config.quantity_aware else None)
