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

The identifier reads encoder states computed here with a second, short encode (dynamic window,
about a tenth of the 30 s decode). Once the recogniser exposes the encoder output of its own
decode, :meth:`DialectAwareASR.observe_states` takes it instead and the second encode goes.
The bot itself still speaks Mandarin to every caller; the dialect changes how the caller is
heard and which human queue takes them.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from tierline.dialects.asr import ASR, AsrConfig, WhisperASR
from tierline.dialects.dialect_id import DialectEstimate, DialectIdentifier
from tierline.dialects.encoder_states import SAMPLE_RATE, WhisperEncoder
from tierline.dialects.records import Transcript
from tierline.dialects.registry import CallDialectModels, DialectModel

MIN_TURN_S = 0.4
"""Shorter turns (a cough, "嗯") are not shown to the identifier."""


class DialectRecognisers:
    """What every call shares: the identifier, its encoder, and a recogniser per family.

    Args:
        base: The product's recogniser (Whisper base, with its call-centre readings).
        identifier: The dialect classifier.
        encoder: Encoder for the identifier's states (window as the classifier was trained).
        config: Decoding settings a tuned family's recogniser starts from.
        base_dir: Whisper base's directory (default: the assembled one).
        home: Where the registry looks for tuned models (default ``$TIERLINE_HOME``; an
            evaluation points it at a staged model).
    """

    def __init__(self, base: ASR, identifier: DialectIdentifier, encoder: WhisperEncoder,
                 config: AsrConfig | None = None, base_dir: Path | None = None,
                 home: Path | None = None) -> None:
        from tierline.dialects.models import whisper_base_dir

        self.base = base
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

    @property
    def language(self) -> str:
        return self.shared.base.language

    @property
    def dialect(self) -> DialectEstimate:
        """The call's dialect so far."""
        return self.tracker.current

    def observe_states(self, frames: np.ndarray) -> DialectEstimate:
        """Add a turn given as the encoder states of its audio; the call's estimate after it."""
        return self.tracker.observe_states(frames)

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        entry = self.models.resolve(self.dialect.label if self.dialect.known else None)
        recogniser = self.shared.recogniser(entry)
        transcript = recogniser.transcribe(audio)
        if not transcript.text and recogniser is not self.shared.base:
            # a dialect decoder that loops is dropped whole by the recogniser's guards; the
            # product's recogniser reads the turn instead of losing it
            transcript = self.shared.base.transcribe(audio)
        if not partial and transcript.text and len(audio) >= MIN_TURN_S * SAMPLE_RATE:
            self.observe_states(self.shared.encoder.states(audio))
        out = replace(transcript, dialect=self.dialect.label)
        if "dialect_confidence" in Transcript.__dataclass_fields__:  # newer Transcript
            out = replace(out, dialect_confidence=round(self.dialect.confidence, 4))
        return out
