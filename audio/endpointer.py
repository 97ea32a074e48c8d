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

Looking ahead in a pause (both need a ``partial`` transcriber, the call's memoising recogniser):

* speculative final decode — at ``speculate_ms`` of silence, once the trailing audio the
  utterance keeps has arrived, the audio the utterance would carry is decoded in a background
  thread, so its transcript is ready (or nearly) when the hangover closes the turn: the
  hangover's quantity check waits for that decode and then, like the session's final decode,
  finds its transcript in the memo (a request while it still runs joins it). A caller who goes
  on changes the utterance's audio, so the result is simply never asked for. Only when frames
  arrive at about the pace of speech (a live call, or a real-time replay): offline, the
  hangover is a few microseconds away and speculating would only add decodes.
  At most one speculative decode per call runs at a time.
* early close — from ``early_close_ms`` of silence, when the end-of-turn model
  (:mod:`tierline.audio.turn_end_model`: the words the transcript ends on, never inside a
  number) says the turn is plainly over, it closes without waiting the full hangover. Offline
  the transcript is decoded there and then (so a replay stays deterministic); live, the
  speculative decode's result is read when it is ready.
* longer hangover — at the hangover, a transcript the same model calls plainly unfinished
  keeps the turn open up to ``unfinished_hangover_ms`` (a number: ``quantity_hangover_ms``).

The utterance starts ``pre_roll_ms`` before the speech onset (the webrtcvad run that opened the
candidate, or the detector's onset when the candidate had been running on noise) and ends at
the last speech frame; ``TRAILING_KEEP_MS`` of the trailing silence stays in the audio.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, wait
from dataclasses import dataclass, field

import numpy as np

from tierline.audio.detector import SpeechDetector
from tierline.audio.errors import AudioError
from tierline.audio.quantity import ends_inside_quantity
from tierline.audio.records import FRAME_MS, Frame, Utterance
from tierline.audio.turn_end_model import load_turn_end_model
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
        speculate_ms: Silence after which the would-be utterance is decoded in the
            background (0: never).
        early_close_ms: Silence after which a turn whose transcript plainly ends a sentence
            is closed (0: never). "Plainly" is the end-of-turn model's call
            (:mod:`tierline.audio.turn_end_model`). Measured on real pauses
            (benchmarks/bench_turn_end.py, docs/results.md): with the longer hangover below,
            28 % of turns close early and callers pausing mid-sentence are cut half as often.
        unfinished_hangover_ms: Hangover when the transcript at the hangover plainly stops
            mid-sentence, by the same model (0: the plain hangover).
        paced_ratio: Speculation needs the pause to have taken at least this fraction of its
            length in wall time (frames arriving at about real time).
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    confirm_ms: int = 100
    reject_ms: int = 200
    candidate_max_ms: int = 1000
    onset_lag_ms: int = 80
    quantity_hangover_ms: int = 1500
    speculate_ms: int = 200
    early_close_ms: int = 300
    unfinished_hangover_ms: int = 1000
    paced_ratio: float = 0.5

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
        for name in ("speculate_ms", "early_close_ms", "unfinished_hangover_ms"):
            if getattr(self, name) < 0:
                raise AudioError(f"{name} must be >= 0 (0: off), not {getattr(self, name)}")
        if self.paced_ratio < 0:
            raise AudioError(f"paced_ratio must be >= 0, not {self.paced_ratio}")


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
            of the open turn; if it ends inside a number the turn is kept open longer. Also
            runs the speculative decode (in a background thread: it must be thread-safe, and
            pays only when it remembers results, as the call's memoising recogniser does) and
            feeds the early close. Transports with streaming ASR call :meth:`hint_partial`
            instead.
        clock: Wall clock (seconds) that tells whether frames arrive at speech pace.
        idle: Whether a decode would start at once (the recogniser has a free slot); the
            speculative decode waits for it, so a full box spends its CPU on closed turns.
            None: always.
    """

    def __init__(
        self,
        config: EndpointerConfig | None = None,
        confirm: ConfirmConfig | None = None,
        detector: SpeechDetector | None = None,
        partial: PartialTranscriber | None = None,
        clock: Callable[[], float] = time.perf_counter,
        idle: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config or EndpointerConfig()
        self.confirm = confirm or ConfirmConfig()
        self.vad = TwoStageVAD(self.config.aggressiveness, detector)
        self.partial = partial
        self.clock = clock
        self.idle = idle
        self.speculated = 0  # speculative decodes started (for tests and benchmarks)
        self._running: Future[str | None] | None = None  # the call's speculative decode
        c, k = self.config, self.confirm
        self._spec_frames = _frames(k.speculate_ms) if k.speculate_ms else 0
        self._early_frames = (min(_frames(k.early_close_ms), _frames(c.hangover_ms))
                              if k.early_close_ms else 0)
        self._pre_roll = math.ceil(c.pre_roll_ms / FRAME_MS)
        self._hangover = _frames(c.hangover_ms)
        self._q_hangover = max(self._hangover, _frames(k.quantity_hangover_ms))
        self._u_hangover = (max(self._hangover, _frames(k.unfinished_hangover_ms))
                            if k.unfinished_hangover_ms else self._hangover)
        self.turn_end = (load_turn_end_model()
                         if k.early_close_ms or k.unfinished_hangover_ms else None)
        """The end-of-turn model the early close and the longer hangover ask."""
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
        self._extended = False  # the hangover's transcript check done for this pause
        self._hold = 0  # ... and the hangover it set for this pause (frames)
        self._hint: str | None = None
        self._new_pause(0.0)
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

    @property
    def speculation(self) -> Future[str | None] | None:
        """The call's latest speculative decode (its transcript, when done); None before any."""
        return self._running

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
        self._new_pause(self.clock())
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
        now = self.clock()
        self._turn.append(v)
        if self._is_speech(v):
            self._speech += 1
            self._silence = 0
            if v.prob >= self.confirm.threshold or self._silence_since_strong():
                self._last_speech = len(self._turn) - 1
            self._extended = False
            self._new_pause(now)
        else:
            self._silence += 1
            if self._look_ahead(now):
                return self._close(v.frame, keep_open=False)
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

    # ------------------------------------------------------------------ look-ahead

    def _new_pause(self, now: float) -> None:
        """Speech (or a new turn): the look-ahead of the last pause no longer applies."""
        self._pause_wall = now  # wall time of the latest speech frame
        self._spec: Future[str | None] | None = None  # this pause's speculative decode
        self._early_done = False  # the early close was decided for this pause

    def _look_ahead(self, now: float) -> bool:
        """In a pause: speculate, and tell whether the turn plainly ended (early close)."""
        if self._last_speech < 0:
            return False
        if len(self._turn) - 1 - self._last_speech < self._keep_trailing:
            return False  # the audio the utterance would carry is not all here yet
        if (self._spec is None and self._spec_frames and self.partial is not None
                and self._silence >= self._spec_frames and self._paced(now)
                and (self.idle is None or self.idle())):
            self._speculate()
        if self._early_done or not self._early_frames or self._silence < self._early_frames:
            return False
        if self._spec is not None:
            if not self._spec.done():
                return False  # look again at the next frame (the hangover still applies)
            text = None if self._spec.exception() else self._spec.result()
        elif self._spec_frames and self.partial is not None and self._paced(now):
            return False  # live: the speculative decode starts once the earlier one is done
        elif self.partial is not None:
            text = self._transcribe_open()
        else:
            text = self._hint
        self._early_done = True
        return self.turn_end is not None and self.turn_end.finished(text)

    def _paced(self, now: float) -> bool:
        """Whether this pause is arriving at about the pace of speech."""
        waited = now - self._pause_wall
        return waited >= self.confirm.paced_ratio * self._silence * FRAME_MS / 1000

    def _speculate(self) -> None:
        """Decode the would-be utterance in the background (one at a time per call)."""
        if self._running is not None and not self._running.done():
            return  # an earlier pause's decode still runs: try again at the next frame
        assert self.partial is not None
        future: Future[str | None] = Future()
        audio, transcribe = self._open_audio(), self.partial

        def run() -> None:
            try:
                future.set_result(transcribe(audio))
            except BaseException as exc:  # read by the early close, never raised
                future.set_exception(exc)

        self._spec = self._running = future
        self.speculated += 1
        threading.Thread(target=run, name="speculative-decode", daemon=True).start()

    def _transcribe_open(self) -> str | None:
        """The open turn's transcript, asked now. A speculative decode still running (this
        pause's: the memo then shares it; or an earlier pause's) is waited for first, so a
        call's recogniser never runs two decodes at once on the endpointer's behalf."""
        assert self.partial is not None
        if self._running is not None:
            wait([self._running])
        return self.partial(self._open_audio())

    def _open_audio(self) -> np.ndarray:
        """The audio the open turn would carry if it closed now."""
        return self._audio(self._kept(self._turn, self._last_speech))

    def _keep_waiting(self) -> bool:
        """At the hangover: does the partial transcript end inside a number (wait up to
        ``quantity_hangover_ms``) or plainly mid-sentence (``unfinished_hangover_ms``)?"""
        if not self._extended:
            self._extended = True
            text = self._hint
            if self.partial is not None:
                text = self._transcribe_open()
            self._hold = self._hangover
            if ends_inside_quantity(text):
                self._hold = self._q_hangover
            elif self.turn_end is not None and self.turn_end.unfinished(text):
                self._hold = self._u_hangover
        return self._silence < self._hold

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
        self._new_pause(self._pause_wall)
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
                    partial: PartialTranscriber | None = None,
                    idle: Callable[[], bool] | None = None) -> Endpointer | TwoStageEndpointer:
    """A fresh endpointer for one call.

    Args:
        config: How turns are cut (default settings when None).
        partial: Transcribes the open turn, for quantity-aware endpointing (ignored when
            ``config.quantity_aware`` is off or the endpointer is webrtcvad alone).
        idle: Whether the recogniser has a free decode slot (the speculative decode waits
            for one); None: always.
    """
    config = config or EndpointingConfig()
    if not config.two_stage:
        return Endpointer(config.endpointer)
    return TwoStageEndpointer(config.endpointer, config.confirm,
                              partial=partial if config.quantity_aware else None, idle=idle)
