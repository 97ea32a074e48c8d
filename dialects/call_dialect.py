"""A call's recogniser that knows the caller's dialect: identify, then decode with the registry.

:class:`DialectRecognisers` is loaded once per process (the identifier, an encoder for its
states, Whisper base and, lazily, each family's tuned recogniser). Each call gets a
:class:`DialectAwareASR` from :meth:`DialectRecognisers.for_call`: an
:class:`~tierline.dialects.asr.ASR` whose every transcript carries the call's dialect so far
(``unknown`` until the tracker has heard enough), and which decodes each turn with the
recogniser the registry names for that dialect (Whisper base until a family with a tuned model
is named; a named family without one falls back to base and is logged once per call). A turn
the family's recogniser hears as nothing (its guards drop a decoder loop whole) is read by
Whisper base instead.

The identifier reads the encoder states of the recogniser's own decode
(:meth:`~tierline.dialects.asr.WhisperASR.recognise`) when they come from the window kind it
was trained on (``dynamic``); otherwise (a fixed-window recogniser, a recogniser without
states) it encodes the turn a second time on its own window. The bot itself still speaks
Mandarin to every caller; the dialect changes how the caller is heard and which human queue
takes them.

:func:`with_dialects` is how a transport gets one: the product's recogniser wrapped with the
shipped identifier, or the recogniser alone when the identifier cannot be loaded.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from tierline.dialects.asr import ASR, AsrConfig, WhisperASR
from tierline.dialects.dialect_id import DialectEstimate, DialectIdentifier
from tierline.dialects.encoder_states import SAMPLE_RATE, WhisperEncoder
from tierline.dialects.errors import ModelError
from tierline.dialects.records import EncoderStates, Transcript
from tierline.dialects.registry import CallDialectModels, DialectModel

log = logging.getLogger(__name__)

MIN_TURN_S = 0.4
"""Shorter turns (a cough, "嗯") are not shown to the identifier."""
HEAD_SAMPLES = 4000
"""Samples compared to tell a turn heard again, longer, from a new turn (the first 0.25 s)."""


class DialectRecognisers(ASR):
    """What every call shares: the identifier, its encoder, and a recogniser per family.

    As an :class:`~tierline.dialects.asr.ASR` it reads like the product's recogniser (no
    dialect); :meth:`for_call` gives the per-call recogniser that tracks the caller's dialect.

    Args:
        base: The product's recogniser (Whisper base, with its call-centre readings).
        identifier: The dialect classifier.
        encoder: Encoder for the identifier's states when the decode's own are of another
            window kind (default: Whisper base's encoder on the identifier's window, loaded
            on first need).
        config: Decoding settings a tuned family's recogniser starts from.
        base_dir: Whisper base's directory (default: the assembled one).
        home: Where the registry looks for tuned models (default ``$TIERLINE_HOME``; an
            evaluation points it at a staged model).
    """

    def __init__(self, base: ASR, identifier: DialectIdentifier,
                 encoder: WhisperEncoder | None = None,
                 config: AsrConfig | None = None, base_dir: Path | None = None,
                 home: Path | None = None) -> None:
        from tierline.dialects.models import whisper_base_dir

        self.base = base
        self.sample_rate = base.sample_rate
        self.identifier = identifier
        self.encoder = encoder
        self.config = config or AsrConfig()
        self.base_dir = base_dir or whisper_base_dir()
        self.home = home
        self._own: dict[str, ASR] = {}
        self._lock = threading.Lock()

    def recogniser(self, entry: DialectModel) -> ASR:
        """The product's recogniser when the family decodes as it does (Mandarin, or a
        family without a tuned model, prompt or normaliser of its own); else the family's
        recogniser: its tuned model, or Whisper base with its prompt and normaliser (loaded
        on first use)."""
        config = entry.asr_config(self.config)
        if not entry.tuned and config == self.config:
            return self.base
        with self._lock:
            if entry.dialect not in self._own:
                self._own[entry.dialect] = WhisperASR(entry.model_dir or self.base_dir, config)
            return self._own[entry.dialect]

    def for_call(self, call_id: str = "") -> DialectAwareASR:
        """A fresh recogniser for one call."""
        return DialectAwareASR(self, call_id)

    @property
    def language(self) -> str:
        return self.base.language

    @property
    def model_dir(self) -> object:
        return getattr(self.base, "model_dir", type(self.base).__name__)

    def busy(self) -> bool:
        return self.base.busy()

    def idle(self) -> bool:
        return self.base.idle()

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        return self.base.transcribe(audio, partial)

    def states(self, audio: np.ndarray, heard: EncoderStates | None) -> np.ndarray:
        """The encoder rows the identifier reads for one turn: the decode's own when they are
        of the window kind it was trained on, else a second encode on that window."""
        if heard is not None and heard.window == self.identifier.window and len(heard.frames):
            return heard.frames
        with self._lock:
            if self.encoder is None:
                self.encoder = WhisperEncoder(self.base_dir, window=self.identifier.window,
                                              threads=1)
        return self.encoder.states(audio)


class DialectAwareASR(ASR):
    """One call's recogniser (module docstring).

    Attributes:
        tracker: The call's :class:`~tierline.dialects.dialect_id.DialectTracker`.
        models: The call's view of the registry.
    """

    def __init__(self, shared: DialectRecognisers, call_id: str = "") -> None:
        self.shared = shared
        self.sample_rate = shared.base.sample_rate
        self.tracker = shared.identifier.tracker()
        self.models = CallDialectModels(call_id, shared.home)
        self._last_head: bytes | None = None  # first samples of the last observed turn
        self._last_len = 0
        self._observing = threading.Lock()

    @property
    def language(self) -> str:
        return self.shared.base.language

    @property
    def dialect(self) -> DialectEstimate:
        """The call's dialect so far."""
        return self.tracker.current

    def observe_states(self, frames: np.ndarray, replaces_last: bool = False
                       ) -> DialectEstimate:
        """Add a turn given as the encoder states of its audio; the call's estimate after it
        (``replaces_last``: the last observed turn heard again, longer)."""
        return self.tracker.observe_states(frames, replaces_last)

    @property
    def model_dir(self) -> object:
        return self.shared.model_dir

    def busy(self) -> bool:
        return self.shared.busy()

    def idle(self) -> bool:
        return self.shared.idle()

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        entry = self.models.resolve(self.dialect.label if self.dialect.known else None)
        recogniser = self.shared.recogniser(entry)
        heard = recogniser.recognise(audio, partial)
        if not heard.transcript.text and recogniser is not self.shared.base:
            # a dialect decoder that loops is dropped whole by the recogniser's guards; the
            # product's recogniser reads the turn instead of losing it
            heard = self.shared.base.recognise(audio, partial)
        transcript = heard.transcript
        if not partial and transcript.text and len(audio) >= MIN_TURN_S * SAMPLE_RATE:
            # the endpointer decodes a turn ahead in a pause; if the caller went on, the
            # closed turn starts with the same audio and its reading replaces the look-ahead's
            states = self.shared.states(audio, heard.states)
            head = np.ascontiguousarray(audio[:HEAD_SAMPLES]).tobytes()
            with self._observing:
                longer = (self._last_head is not None and len(audio) > self._last_len
                          and head == self._last_head)
                self.observe_states(states, replaces_last=longer)
                self._last_head, self._last_len = head, len(audio)
        return replace(transcript, dialect=self.dialect.label,
                       dialect_confidence=round(self.dialect.confidence, 4))


def with_dialects(base: ASR, config: AsrConfig | None = None) -> ASR:
    """The product's recogniser with the shipped dialect identifier, so each call's
    :meth:`~tierline.dialects.asr.ASR.for_call` tracks the caller's dialect; ``base`` alone
    when it is not the bundled Whisper base (the identifier was trained on that encoder's
    states: a user's own model is left alone) or when the identifier cannot be loaded (logged).

    Args:
        base: The product's recogniser (Whisper base with its readings).
        config: Decoding settings a tuned family's recogniser starts from (default: base's).
    """
    from tierline.dialects.models import resolve_asr_model

    config = config or getattr(base, "config", None) or AsrConfig()
    try:
        identifier = DialectIdentifier()
        base_dir = resolve_asr_model(None)
    except ModelError as exc:
        log.warning("dialect identification off: %s", exc)
        return base
    if getattr(base, "model_dir", None) != base_dir:
        return base
    return DialectRecognisers(base, identifier, None, config, base_dir)
