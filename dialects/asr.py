"""Offline speech recognition: a plugin base class and the faster-whisper implementation.

The Whisper model always comes from a local directory (see :mod:`tierline.dialects.models`);
a model *name* would make faster-whisper download from a hub, which fails offline.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tierline.dialects.records import Hypothesis, Transcript

DOMAIN_PROMPT = "客服电话录音。客户咨询产品价格、预算、坐席数量、续费、投诉和转人工。"
"""Optional decoder prompt priming call-centre vocabulary (``--prompt``); off by default.

Measured 5 Dec 2026 (README): on sales-call turns spoken over a phone line it lowers CER by 2-4
points but moves intent macro-F1 by only +0.01 on the test split, while on real out-of-domain
speech it costs 1.2-1.7 points (AISHELL-1 over the phone, Sichuanese and Cantonese clips).
On unclear audio Whisper can echo it ("预算、坐席数量、续费", "转人工"), loop on it, or rate real
speech as silence; such a transcript is decoded again without it
(:meth:`WhisperASR._transcribe_impl`).
"""

_LOOP = re.compile(r"(.{1,4}?)\1{3,}")
_PUNCT_ONLY = re.compile(r"^[\s\W_]*$")
_PUNCT = re.compile(r"[\s\W_]+")


@dataclass(frozen=True)
class AsrConfig:
    """Decoding settings.

    Attributes:
        language: Forced language (auto-detect mislabels short clips).
        beam_size: Beam width.
        compute_type: CTranslate2 compute type (int8 on CPU).
        cpu_threads: Intra-op threads per decode.
        initial_prompt: Decoder prompt (e.g. :data:`DOMAIN_PROMPT`); None (the default)
            disables it. A transcript that echoes it is decoded again without it.
        t2s: Convert Traditional output to Simplified with OpenCC.
        alternatives: How many readings of the final beam a transcript carries (at most
            ``beam_size``; 1 keeps the best only). They come from the same decode.
    """

    language: str = "zh"
    beam_size: int = 5
    compute_type: str = "int8"
    cpu_threads: int = 2
    initial_prompt: str | None = None
    t2s: bool = True
    alternatives: int = 5


class ASR:
    """Base class of speech recognisers.

    Subclasses implement :meth:`_transcribe_impl`; callers use :meth:`transcribe`,
    which validates the input and never sees a model-specific type.

    Attributes:
        streaming: Whether partial results are available while audio arrives.
        sample_rate: Rate the recogniser expects.
    """

    streaming: bool = False
    sample_rate: int = 16_000

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Recognise one utterance of float32 mono audio at :attr:`sample_rate`."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return Transcript("", self.language, None, 0.0, 0.0, 0.0, 1.0)
        t0 = time.perf_counter()
        result = self._transcribe_impl(audio)
        if not result.compute_ms:
            result = replace(result, compute_ms=(time.perf_counter() - t0) * 1000)
        return result

    @property
    def language(self) -> str:
        return "zh"

    def _transcribe_impl(self, audio: np.ndarray) -> Transcript:
        raise NotImplementedError


class FakeASR(ASR):
    """Returns scripted texts in order; for unit tests of the stages after ASR."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = list(texts)

    def _transcribe_impl(self, audio: np.ndarray) -> Transcript:
        text = self._texts.pop(0) if self._texts else ""
        dur = len(audio) / self.sample_rate
        return Transcript(text, "zh", None, 0.0, dur, 1.0 if text else 0.0, 0.0)


def echoes_prompt(text: str, prompt: str | None, min_run: int = 6) -> bool:
    """Whether a transcript has a clause that echoes the decoder prompt.

    Whisper sometimes regurgitates its prompt on unclear audio; an echo would inject words
    such as 投诉 or 转人工 the caller never said. A clause is an echo when it repeats a run of
    ``min_run``+ characters of the prompt, or when the whole clause (punctuation stripped) is
    a piece of the prompt, as in "预算、坐席数量、续费".
    """
    if not prompt or not text:
        return False
    grams = {prompt[i : i + min_run] for i in range(len(prompt) - min_run + 1)}

    def echoed(clause: str) -> bool:
        bare = _PUNCT.sub("", clause)
        return bool(bare) and (bare in prompt or any(
            clause[i : i + min_run] in grams for i in range(len(clause))))

    return any(echoed(c) for c in re.split(r"(?<=[。！？!?，,、；;])", text))


NO_SPEECH_THRESHOLD = 0.6
"""A segment Whisper itself rates as more likely silence than speech is dropped."""
LOOP_COMPRESSION_RATIO = 2.4
"""A segment whose text compresses this well (gzip) is a decoder loop, not speech."""


def _hallucinated(segment) -> bool:
    """Whether a faster-whisper segment is text invented over silence or a decoder loop.

    On digital silence Whisper base writes "再次" over and over with no_speech_prob 0.75 and
    a compression ratio near 10; real speech in the AISHELL sample stays below 0.1 and 1.
    faster-whisper keeps such segments when their log-probability is high, so we check both
    signals ourselves (its own thresholds: 0.6 and 2.4).
    """
    return (segment.no_speech_prob > NO_SPEECH_THRESHOLD
            or segment.compression_ratio > LOOP_COMPRESSION_RATIO)


def collapse_loops(text: str) -> str:
    """Collapse decoder loops ("小小小小小…", "大意,大意,大意…") to one occurrence."""
    return _LOOP.sub(r"\1", text)


class _BeamKeeper:
    """Stands in for faster-whisper's CTranslate2 model so that one decode yields its beam.

    faster-whisper asks a beam search for its best hypothesis only; this proxy asks it for
    ``n`` and keeps each window's result, so the alternatives cost no second decode. With a
    ``reader`` (a second CTranslate2 Whisper sharing the encoder), the same encoder output and
    prompt are decoded by it too and its results kept apart: a second decode, not a second
    encode. Every other attribute is the model's own.
    """

    def __init__(self, model, n: int, reader=None) -> None:
        self._model = model
        self._reader = reader
        self.n = n
        self.results: list = []
        self.reader_results: list = []

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def clear(self) -> None:
        self.results.clear()
        self.reader_results.clear()

    def generate(self, *args, **kwargs):
        if kwargs.get("beam_size", 1) >= self.n:
            kwargs.setdefault("num_hypotheses", self.n)
        results = self._model.generate(*args, **kwargs)
        self.results.extend(results)
        if self._reader is not None:
            self.reader_results.extend(self._reader.generate(*args, **kwargs))
        return results


class WhisperASR(ASR):
    """faster-whisper (CTranslate2) recogniser on a local model directory.

    Args:
        model_dir: Directory with model.bin, config.json, tokenizer.json, vocabulary.txt.
        config: Decoding settings.
        readings_dir: A second model of the same encoder (the call-centre decoder,
            :func:`tierline.dialects.models.resolve_readings_model`) whose beam is added to
            the transcript's alternatives after the transcript model's own; the transcript
            stays the first model's.
    """

    def __init__(self, model_dir: str | Path, config: AsrConfig | None = None,
                 readings_dir: str | Path | None = None) -> None:
        from faster_whisper import WhisperModel

        self.config = config or AsrConfig()
        self.model_dir = Path(model_dir)
        self._model = WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type=self.config.compute_type,
            cpu_threads=self.config.cpu_threads,
            local_files_only=True,
        )
        self._lock = threading.Lock()
        self._beam: _BeamKeeper | None = None
        self.readings_dir = Path(readings_dir) if readings_dir is not None else None
        readings = min(self.config.alternatives, self.config.beam_size)
        if readings > 1 or self.readings_dir is not None:
            import ctranslate2
            from faster_whisper.tokenizer import Tokenizer

            reader = None
            if self.readings_dir is not None:
                reader = ctranslate2.models.Whisper(
                    str(self.readings_dir), device="cpu",
                    compute_type=self.config.compute_type,
                    intra_threads=self.config.cpu_threads)
            self._beam = _BeamKeeper(self._model.model, readings, reader)
            self._model.model = self._beam
            self._tokenizer = Tokenizer(self._model.hf_tokenizer, True, task="transcribe",
                                        language=self.config.language)
        self._t2s = None
        if self.config.t2s:
            import opencc

            self._t2s = opencc.OpenCC("t2s")

    @property
    def language(self) -> str:
        return self.config.language

    def _clean(self, text: str) -> str:
        """Simplified characters, loops collapsed, punctuation-only text emptied."""
        text = text.strip()
        if self._t2s is not None:
            text = self._t2s.convert(text)
        text = collapse_loops(text)
        return "" if _PUNCT_ONLY.match(text) else text

    def _decode(self, audio: np.ndarray, prompt: str | None
                ) -> tuple[str, list, list[float], tuple[Hypothesis, ...]]:
        """One Whisper decode: cleaned text, kept segments, every segment's no-speech score,
        and the final beam's readings.

        A segment :func:`_hallucinated` drops is missing from the kept ones. The readings are
        given when the utterance fit one 30 s window and no segment was dropped (otherwise
        they would hold words the text does not); the first is the text's own, and the
        second model's readings (``readings_dir``) follow the first model's.
        """
        cfg = self.config
        with self._lock:  # one CTranslate2 model instance decodes one input at a time
            if self._beam is not None:
                self._beam.clear()
            segments, _info = self._model.transcribe(
                audio,
                language=cfg.language,
                beam_size=cfg.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                initial_prompt=prompt,
                vad_filter=False,
                without_timestamps=False,
            )
            segments = list(segments)
            windows = list(self._beam.results) if self._beam is not None else []
            read = list(self._beam.reader_results) if self._beam is not None else []
        no_speech = [seg.no_speech_prob for seg in segments]
        segments = [seg for seg in segments if not _hallucinated(seg)]
        text = self._clean("".join(seg.text for seg in segments))
        beam: tuple[Hypothesis, ...] = ()
        if text and len(windows) == 1 and len(segments) == len(no_speech):
            beam = self._readings(windows[0])
            if beam[0].text != text:
                beam = ()
            elif len(read) == 1:  # the call-centre decoder's readings, after the transcript's
                beam += tuple(h for h in self._readings(read[0]) if h.text)
        return text, segments, no_speech, beam

    def _readings(self, result) -> tuple[Hypothesis, ...]:
        """One window's beam as (cleaned text, summed log-probability) readings, best first."""
        # length_penalty 1: CTranslate2's score is the mean token log-probability
        return tuple(Hypothesis(self._clean(self._tokenizer.decode(ids)),
                                round(score * len(ids), 4))
                     for ids, score in zip(result.sequences_ids, result.scores, strict=True))

    def _transcribe_impl(self, audio: np.ndarray) -> Transcript:
        cfg = self.config
        text, segments, no_speech, beam = self._decode(audio, cfg.initial_prompt)
        if cfg.initial_prompt and (len(segments) < len(no_speech)
                                   or echoes_prompt(text, cfg.initial_prompt)):
            # With a prompt Whisper may loop on it or echo it ("产品价格、预算产品价格…"), rate
            # real speech as silence (no_speech_prob 0.6-0.8 on clips it reads fine without),
            # or the caller said a piece of it ("转人工"): only a decode without the prompt
            # tells these apart, so a dropped segment or an echo means decoding again.
            text, segments, no_speech, beam = self._decode(audio, None)
        logprobs = [seg.avg_logprob for seg in segments]
        start = segments[0].start if segments else 0.0
        end = segments[-1].end if segments else 0.0
        confidence = math.exp(float(np.mean(logprobs))) if (text and logprobs) else 0.0
        return Transcript(
            text=text,
            language=cfg.language,
            dialect=None,
            start_s=float(start),
            end_s=float(min(end, len(audio) / self.sample_rate)),
            confidence=round(min(1.0, confidence), 4),
            no_speech_prob=float(max(no_speech)) if no_speech else 1.0,
            alternatives=beam,
        )


def load_whisper(model_dir: str | Path | None = None, config: AsrConfig | None = None,
                 readings: bool = True) -> WhisperASR:
    """The recogniser for a model directory as the product runs it.

    Args:
        model_dir: A user-given directory, or None for the bundled Whisper base.
        config: Decoding settings.
        readings: Add the call-centre decoder's readings to the beam (only with the bundled
            base, :func:`tierline.dialects.models.resolve_readings_model`).

    Raises:
        ModelError: a model is missing or not a CTranslate2 Whisper directory.
    """
    from tierline.dialects.models import resolve_asr_model, resolve_readings_model

    reader = resolve_readings_model(model_dir) if readings else None
    return WhisperASR(resolve_asr_model(model_dir), config, reader)
