"""Streaming end-of-turn detection with webrtcvad.

Frames (20 ms, 16 kHz int16) are classified voiced/unvoiced by webrtcvad. A turn opens
after ``start_frames`` consecutive voiced frames (with ``pre_roll_ms`` of audio kept
from before), and closes after ``hangover_ms`` of trailing silence, at end of stream,
or when it reaches ``max_utterance_s``. Turns with less than ``min_speech_ms`` of
voiced audio are dropped as clicks or noise.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import webrtcvad

from tierline.audio.errors import AudioError
from tierline.audio.records import FRAME_MS, PIPELINE_RATE, Frame, Utterance

FRAME_SAMPLES = PIPELINE_RATE * FRAME_MS // 1000
TRAILING_KEEP_MS = 100
"""Silence kept after the last voiced frame in the utterance audio."""


@dataclass(frozen=True)
class EndpointerConfig:
    """Endpointer settings.

    Attributes:
        aggressiveness: webrtcvad mode, 0 (lenient) .. 3 (strict about non-speech).
        pre_roll_ms: Audio kept from before the turn opened.
        hangover_ms: Trailing silence that closes a turn.
        min_speech_ms: Turns with less voiced audio are dropped.
        start_frames: Consecutive voiced frames needed to open a turn.
        max_utterance_s: Turns are force-closed at this length (Whisper's window is 30 s).
    """

    aggressiveness: int = 2
    pre_roll_ms: int = 300
    hangover_ms: int = 600
    min_speech_ms: int = 250
    start_frames: int = 3
    max_utterance_s: float = 25.0

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise AudioError(f"VAD aggressiveness must be 0..3, not {self.aggressiveness!r}")
        for name in ("pre_roll_ms", "min_speech_ms"):
            if getattr(self, name) < 0:
                raise AudioError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.hangover_ms < FRAME_MS:
            raise AudioError(f"hangover_ms must be >= {FRAME_MS}, not {self.hangover_ms}")
        if self.start_frames < 1:
            raise AudioError(f"start_frames must be >= 1, not {self.start_frames}")
        if not self.max_utterance_s > 0:
            raise AudioError(f"max_utterance_s must be positive, not {self.max_utterance_s}")


def _frames(ms: float) -> int:
    """Number of whole frames covering ``ms`` milliseconds."""
    return math.ceil(ms / FRAME_MS)


class Endpointer:
    """Turns a stream of 20 ms frames into caller utterances.

    Example:
        >>> ep = Endpointer(EndpointerConfig())
        >>> for frame in frames:
        ...     for utterance in ep.push(frame):
        ...         handle(utterance)
        >>> for utterance in ep.flush():
        ...     handle(utterance)
    """

    def __init__(self, config: EndpointerConfig | None = None) -> None:
        self.config = config or EndpointerConfig()
        self._vad = webrtcvad.Vad(self.config.aggressiveness)
        self._pre_roll = _frames(self.config.pre_roll_ms)
        self._hangover = _frames(self.config.hangover_ms)
        self._min_speech = _frames(self.config.min_speech_ms)
        self._max_frames = max(1, round(self.config.max_utterance_s * 1000 / FRAME_MS))
        self._keep_trailing = _frames(TRAILING_KEEP_MS)
        self.reset()

    def reset(self) -> None:
        """Forget all state, as at the start of a new call."""
        self._ring: deque[tuple[Frame, bool]] = deque(
            maxlen=self._pre_roll + self.config.start_frames
        )
        self._run = 0  # consecutive voiced frames while idle
        self._turn: list[Frame] = []
        self._onset = 0  # index in _turn of the first voiced frame
        self._in_speech = False
        self._voiced = 0  # voiced frames in the open turn
        self._silence = 0  # trailing unvoiced frames in the open turn
        self._last_frame: Frame | None = None

    @property
    def in_speech(self) -> bool:
        """Whether a turn is open."""
        return self._in_speech

    def push(self, frame: Frame) -> list[Utterance]:
        """Feed one frame.

        Args:
            frame: 20 ms of 16 kHz int16 audio, in timeline order.

        Returns:
            Utterances closed by this frame (usually none).
        """
        voiced = self._is_speech(frame)
        self._last_frame = frame
        if not self._in_speech:
            self._idle(frame, voiced)
            return []
        self._turn.append(frame)
        if voiced:
            self._voiced += 1
            self._silence = 0
        else:
            self._silence += 1
        if self._silence >= self._hangover:
            return self._close(frame, keep_open=False)
        if len(self._turn) >= self._max_frames:
            return self._close(frame, keep_open=True)
        return []

    def flush(self) -> list[Utterance]:
        """Close the open turn at end of stream.

        Returns:
            The last utterance, if a turn was open and long enough.
        """
        out: list[Utterance] = []
        if self._in_speech and self._last_frame is not None:
            out = self._close(self._last_frame, keep_open=False)
        self.reset()
        return out

    def _is_speech(self, frame: Frame) -> bool:
        """Classify one frame with webrtcvad."""
        pcm = np.asarray(frame.pcm)
        if pcm.dtype != np.int16 or pcm.shape != (FRAME_SAMPLES,):
            raise AudioError(
                f"endpointer frames must be {FRAME_SAMPLES} int16 samples, "
                f"not {pcm.shape} {pcm.dtype}"
            )
        return self._vad.is_speech(pcm.tobytes(), PIPELINE_RATE)

    def _idle(self, frame: Frame, voiced: bool) -> None:
        """Buffer pre-roll and open a turn after enough consecutive voiced frames."""
        self._ring.append((frame, voiced))
        self._run = self._run + 1 if voiced else 0
        if self._run >= self.config.start_frames:
            self._turn = [f for f, _ in self._ring]
            self._onset = len(self._turn) - self._run
            self._voiced = self._run
            self._silence = 0
            self._in_speech = True
            self._ring.clear()
            self._run = 0

    def _close(self, at: Frame, keep_open: bool) -> list[Utterance]:
        """End the open turn; return it unless it is too short.

        Args:
            at: The frame that closed the turn (sets ``detected_at_s``).
            keep_open: Forced split of a long turn: the next frame continues a new turn.
        """
        turn, voiced, silence, onset = self._turn, self._voiced, self._silence, self._onset
        self._turn, self._voiced, self._silence, self._onset = [], 0, 0, 0
        self._in_speech = keep_open
        if voiced < max(1, self._min_speech):
            return []
        speech = turn[: len(turn) - silence]
        kept = turn[: len(speech) + min(silence, self._keep_trailing)]
        audio = np.concatenate([f.pcm for f in kept]).astype(np.float32) / 32768.0
        return [
            Utterance(
                start_s=max(0.0, turn[0].start_s),
                end_s=speech[-1].end_s,
                audio=audio,
                detected_at_s=at.end_s,
                speech_start_s=turn[min(onset, len(speech) - 1)].start_s,
            )
        ]


def split_utterances(
    frames: Iterable[Frame], config: EndpointerConfig | None = None
) -> Iterator[Utterance]:
    """Endpoint a whole frame stream.

    Args:
        frames: 20 ms frames in timeline order (e.g. from ``iter_frames``).
        config: Endpointer settings; defaults if omitted.

    Yields:
        Utterances in order, including the one still open at end of stream.
    """
    endpointer = Endpointer(config)
    for frame in frames:
        yield from endpointer.push(frame)
    yield from endpointer.flush()
