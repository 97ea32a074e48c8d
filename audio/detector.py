"""Speech-probability detectors: the plugin base class of the confirming VAD stage, and a fake.

A detector turns 20 ms frames of 16 kHz int16 audio into a speech probability per frame.
:class:`tierline.audio.silero.SileroVAD` is the real one; :class:`ScriptedDetector` replays a
timeline for unit tests of the endpointer and the barge-in controller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tierline.audio.errors import AudioError
from tierline.audio.records import FRAME_MS, PIPELINE_RATE, Frame

FRAME_SAMPLES = PIPELINE_RATE * FRAME_MS // 1000


def check_frame(frame: Frame) -> np.ndarray:
    """Return the frame's samples, or raise if it is not 320 int16 samples.

    Raises:
        AudioError: Wrong shape or dtype.
    """
    pcm = np.asarray(frame.pcm)
    if pcm.dtype != np.int16 or pcm.shape != (FRAME_SAMPLES,):
        raise AudioError(
            f"endpointer frames must be {FRAME_SAMPLES} int16 samples, "
            f"not {pcm.shape} {pcm.dtype}"
        )
    return pcm


class SpeechDetector:
    """Base class: speech probability of consecutive 20 ms frames of one stream.

    Callers use :meth:`probability`; subclasses implement :meth:`_probability_impl` and
    :meth:`_reset_impl`. A detector holds per-stream state: use one per call.

    Attributes:
        streaming: True: frames must arrive in timeline order, state carries over.
        window_ms: How much audio one model decision covers.
        latency_ms: Typical delay between a speech onset and a high probability.
    """

    streaming: bool = True
    window_ms: float = FRAME_MS
    latency_ms: float = 0.0

    def probability(self, frame: Frame) -> float:
        """Speech probability after ``frame``, in [0, 1].

        Args:
            frame: The next 20 ms frame of the stream.

        Raises:
            AudioError: The frame is not 320 int16 samples.
        """
        value = float(self._probability_impl(check_frame(frame)))
        if not np.isfinite(value):
            return 0.0
        return min(1.0, max(0.0, value))

    def reset(self) -> None:
        """Forget the stream, as at the start of a new call."""
        self._reset_impl()

    def _probability_impl(self, pcm: np.ndarray) -> float:
        raise NotImplementedError

    def _reset_impl(self) -> None:
        raise NotImplementedError


class ScriptedDetector(SpeechDetector):
    """Fake detector: the n-th frame gets ``script[n]`` (or ``script(n)``).

    Args:
        script: Probabilities per frame index, or a function of the frame index. Frames past
            the end of a sequence get 0.
    """

    def __init__(self, script: Sequence[float] | Callable[[int], float]) -> None:
        self._script = script
        self._index = 0

    def _probability_impl(self, pcm: np.ndarray) -> float:
        i, self._index = self._index, self._index + 1
        if callable(self._script):
            return self._script(i)
        return self._script[i] if i < len(self._script) else 0.0

    def _reset_impl(self) -> None:
        self._index = 0
