"""Which Chinese the caller speaks: a small classifier on Whisper's encoder states, per call.

The recogniser encodes every caller turn; the identifier reads that encoder output (the
(frames, width) states of the audio part, :mod:`tierline.dialects.encoder_states`), pools it
over time and scores it with a linear softmax shipped as ONNX (``dialect_id.onnx``, trained
by ``tierline train dialect-id``). Run time needs onnxruntime and numpy only.

One turn says little, so each call has a :class:`DialectTracker`: it averages the turns'
log-probabilities weighted by their speech, says :data:`~tierline.dialects.families.UNKNOWN`
until it has heard ``min_speech_s`` (2.5 s by default: the first turn or two), and then the
likeliest family, or still ``unknown`` when that family's probability is below the threshold
the training run chose. Every later turn revises the estimate.

The ONNX metadata carries the families in output order (``families``, JSON), the threshold,
the state width, and the encoder window the states came from in training (``window``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tierline.dialects.encoder_states import STATE_FRAMES_PER_S, WhisperEncoder, pool
from tierline.dialects.errors import ModelError
from tierline.dialects.families import FAMILIES, UNKNOWN

DIALECT_ID_PATH = Path(__file__).with_name("dialect_id.onnx")
"""The shipped identifier."""

MIN_SPEECH_S = 2.5
"""Speech a call needs before the tracker names a family."""


@dataclass(frozen=True)
class DialectEstimate:
    """The identifier's answer for a turn or for a call so far.

    Attributes:
        label: A family of :data:`~tierline.dialects.families.FAMILIES`, or ``unknown``.
        confidence: Probability of the likeliest family (also when the label is
            ``unknown``: it says how close it was); 0 before any speech.
        probs: Family → probability, every family the model knows.
        speech_s: Seconds of speech the estimate rests on.
    """

    label: str
    confidence: float
    probs: dict[str, float] = field(default_factory=dict)
    speech_s: float = 0.0

    @property
    def known(self) -> bool:
        """Whether a family was named."""
        return self.label != UNKNOWN

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": round(self.confidence, 4),
                "speech_s": round(self.speech_s, 2),
                "probs": {k: round(v, 4) for k, v in self.probs.items()}}


NOTHING_HEARD = DialectEstimate(UNKNOWN, 0.0)


def accumulate(logp: np.ndarray, seconds: float, probs: np.ndarray, speech_s: float
               ) -> tuple[np.ndarray, float, np.ndarray]:
    """Add one turn to a call's running sum of speech-weighted log-probabilities.

    Args:
        logp: The call's sum so far (one entry per family).
        seconds: Speech summed so far.
        probs: The turn's family probabilities.
        speech_s: The turn's speech, seconds.

    Returns:
        (new sum, new seconds, the call's probabilities: the speech-weighted geometric mean
        of its turns' probabilities, renormalised). Averaging rather than multiplying keeps
        a long call from growing sure of itself on turns that are not independent.
    """
    logp = logp + speech_s * np.log(np.clip(np.asarray(probs, np.float64), 1e-6, 1.0))
    seconds += speech_s
    mean = logp / seconds
    combined = np.exp(mean - mean.max())
    return logp, seconds, combined / combined.sum()


class DialectIdentifier:
    """The ONNX dialect classifier; one per process, shared by every call.

    Args:
        path: The ONNX file (default: the shipped one).
        threads: onnxruntime intra-op threads.

    Raises:
        ModelError: the file is missing, unreadable or lacks its metadata.
    """

    def __init__(self, path: str | Path = DIALECT_ID_PATH, threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"dialect identifier not found: {self.path}; "
                             "run `tierline train dialect-id`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.path), options,
                                                 providers=["CPUExecutionProvider"])
            meta = self._session.get_modelmeta().custom_metadata_map
            self.families: tuple[str, ...] = tuple(json.loads(meta["families"]))
            self.threshold = float(meta["threshold"])
            self.width = int(meta["width"])
            self.window = meta.get("window", "dynamic")
        except Exception as exc:  # noqa: BLE001 — onnxruntime raises several types
            raise ModelError(f"{self.path} is not a readable dialect identifier: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                             ) from None
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown or not self.families:
            raise ModelError(f"{self.path} names unknown families {unknown}")
        self._input = self._session.get_inputs()[0].name

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        """Family probabilities, in :attr:`families` order, of (width,) or (n, width) pooled
        states.

        Raises:
            ValueError: the width is not the model's.
        """
        x = np.asarray(pooled, dtype=np.float32)
        single = x.ndim == 1
        x = x.reshape(1, -1) if single else x
        if x.shape[-1] != self.width:
            raise ValueError(f"pooled states have width {x.shape[-1]}, the dialect "
                             f"identifier reads {self.width}")
        probs = self._session.run(None, {self._input: x})[0]
        return probs[0] if single else probs

    def estimate(self, probs: np.ndarray, speech_s: float) -> DialectEstimate:
        """The estimate for family probabilities ``probs`` resting on ``speech_s`` seconds."""
        best = int(np.argmax(probs))
        confidence = float(probs[best])
        label = self.families[best] if confidence >= self.threshold else UNKNOWN
        return DialectEstimate(label, confidence,
                               {f: float(p) for f, p in zip(self.families, probs, strict=True)},
                               speech_s)

    def classify_states(self, frames: np.ndarray) -> DialectEstimate:
        """One turn's estimate from its (frames, width) encoder states (audio part only)."""
        frames = np.asarray(frames, dtype=np.float32)
        return self.estimate(self.probabilities(pool(frames)), len(frames) / STATE_FRAMES_PER_S)

    def classify_audio(self, audio: np.ndarray, encoder: WhisperEncoder) -> DialectEstimate:
        """One turn's estimate from 16 kHz float audio, encoded by ``encoder`` (a second
        encode: use :meth:`classify_states` with the recogniser's states when it has them)."""
        return self.classify_states(encoder.states(audio))

    def tracker(self, min_speech_s: float = MIN_SPEECH_S) -> DialectTracker:
        """A fresh per-call accumulator."""
        return DialectTracker(self, min_speech_s)


class DialectTracker:
    """One call's dialect, revised turn by turn (module docstring).

    Args:
        identifier: The shared classifier.
        min_speech_s: Speech needed before a family is named.
    """

    def __init__(self, identifier: DialectIdentifier, min_speech_s: float = MIN_SPEECH_S
                 ) -> None:
        self.identifier = identifier
        self.min_speech_s = min_speech_s
        self._logp = np.zeros(len(identifier.families), dtype=np.float64)
        self._seconds = 0.0
        self.current: DialectEstimate = NOTHING_HEARD
        self.turns: list[DialectEstimate] = []

    def observe_states(self, frames: np.ndarray, replaces_last: bool = False
                       ) -> DialectEstimate:
        """Add a turn given as its encoder states; returns the call's estimate so far
        (``replaces_last``: see :meth:`observe`)."""
        return self.observe(self.identifier.classify_states(frames), replaces_last)

    def observe(self, turn: DialectEstimate, replaces_last: bool = False) -> DialectEstimate:
        """Add a turn's own estimate (its ``probs`` and ``speech_s``); returns the call's.

        Args:
            turn: The turn's estimate.
            replaces_last: The turn is the last one heard again, longer (a look-ahead decode
                the caller talked past): its reading replaces the last one instead of
                counting the same speech twice.
        """
        if replaces_last and self.turns:
            self.turns.pop()
            self._logp = np.zeros(len(self.identifier.families), dtype=np.float64)
            self._seconds = 0.0
            self.current = NOTHING_HEARD
            for earlier in self.turns:
                self._add(earlier)
        self.turns.append(turn)
        return self._add(turn)

    def _add(self, turn: DialectEstimate) -> DialectEstimate:
        if turn.speech_s <= 0 or not turn.probs:
            return self.current
        probs = [turn.probs[f] for f in self.identifier.families]
        self._logp, self._seconds, combined = accumulate(self._logp, self._seconds, probs,
                                                         turn.speech_s)
        estimate = self.identifier.estimate(combined, self._seconds)
        if self._seconds < self.min_speech_s:
            estimate = DialectEstimate(UNKNOWN, estimate.confidence, estimate.probs,
                                       self._seconds)
        self.current = estimate
        return estimate
