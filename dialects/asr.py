"""Offline speech recognition: a plugin base class and the Whisper (CTranslate2) implementation.

The Whisper model always comes from a local directory (see :mod:`tierline.dialects.models`);
nothing is fetched from a model hub.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tierline.dialects.inference_queue import InferenceQueue, process_queue
from tierline.dialects.records import EncoderStates, Hypothesis, Recognition, Transcript
from tierline.dialects.whisper_ct2 import (
    FRAMES_PER_S,
    MAX_FRAMES,
    MAX_LENGTH,
    SAMPLE_RATE,
    Beam,
    Piece,
    WhisperRuntime,
    compression_ratio,
    split_pieces,
    window_frames,
)

DOMAIN_PROMPT = "客服电话录音。客户咨询产品价格、预算、坐席数量、续费、投诉和转人工。"
"""Optional decoder prompt priming call-centre vocabulary (``--prompt``); off by default.

Measured 5 Dec 2026 (README): on sales-call turns spoken over a phone line it lowers CER by 2-4
points but moves intent macro-F1 by only +0.01 on the test split, while on real out-of-domain
speech it costs 1.2-1.7 points (AISHELL-1 over the phone, Sichuanese and Cantonese clips).
On unclear audio Whisper can echo it ("预算、坐席数量、续费", "转人工"), loop on it, or rate real
speech as silence; such a transcript is decoded again without it
(:meth:`WhisperASR._recognise_now`).
"""

_LOOP = re.compile(r"(.{1,4}?)\1{3,}")
_PUNCT_ONLY = re.compile(r"^[\s\W_]*$")
_PUNCT = re.compile(r"[\s\W_]+")


WINDOWS = ("dynamic", "fixed")


@dataclass(frozen=True)
class AsrConfig:
    """Decoding settings.

    Attributes:
        language: The language decoded unless detection confidently hears another
            (:attr:`languages`); Mandarin callers are decoded as ``zh``.
        beam_size: Beam width.
        compute_type: CTranslate2 compute type (int8 on CPU).
        cpu_threads: CPU threads the recogniser uses in all (``workers`` decodes at once, the
            threads shared out between them).
        initial_prompt: Decoder prompt (e.g. :data:`DOMAIN_PROMPT`); None (the default)
            disables it. A transcript that echoes it is decoded again without it.
        t2s: Convert Traditional output to Simplified with OpenCC.
        alternatives: How many readings of the final beam a transcript carries (at most
            ``beam_size``; 1 keeps the best only). They come from the same decode.
        window: ``"dynamic"``: the encoder sees the turn plus ``margin_s`` (the cost follows
            the turn's length); ``"fixed"``: every turn padded to Whisper's 30 s window.
        margin_s: Padding after the audio in a dynamic window (see :class:`_Features`).
        margin_pad: ``"silence"``: the features of digital silence; ``"zeros"``: zero
            features, as faster-whisper pads the 30 s window.
        tokens_per_s: Length bound: at most this many tokens per second of audio plus
            ``token_floor`` (real speech: median 3.1, max 4.8); 0 for none.
        token_floor: Tokens allowed beyond the per-second bound (timestamps, short turns).
        repetition_penalty: CTranslate2's penalty on repeated tokens (1: none).
        fixed_fallback: A dynamic-window decode that loops, hits the length bound or is
            rated as silence despite its words is decoded again on the 30 s window.
        detect_language: Detect the language on the encoder output (one decoder step).
        languages: Languages a detection may switch the decode to (besides ``language``).
        language_threshold: Probability a detected language needs to replace ``language``
            (measured on the dynamic window: the English clips 0.998-0.999; no Mandarin,
            Cantonese or Sichuanese clip gave English more than 0.45, a 0.9 s "哦" at 8 kHz).
        workers: Decodes run at once (CTranslate2 ``inter_threads``); None: one per CPU
            thread. They share the process's :func:`process_queue`.
    """

    language: str = "zh"
    beam_size: int = 5
    compute_type: str = "int8"
    cpu_threads: int = 2
    initial_prompt: str | None = None
    t2s: bool = True
    alternatives: int = 5
    window: str = "dynamic"
    margin_s: float = 1.0
    margin_pad: str = "silence"
    tokens_per_s: float = 6.5
    token_floor: int = 10
    repetition_penalty: float = 1.1
    fixed_fallback: bool = True
    detect_language: bool = True
    languages: tuple[str, ...] = ("en",)
    language_threshold: float = 0.7
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, not {self.window!r}")
        if self.margin_pad not in ("silence", "zeros"):
            raise ValueError(f"margin_pad must be silence or zeros, not {self.margin_pad!r}")

    @property
    def parallel(self) -> int:
        """Decodes run at once."""
        return max(1, self.workers if self.workers is not None else self.cpu_threads)

    @property
    def threads_per_decode(self) -> int:
        """Intra-op threads of each decode."""
        return max(1, self.cpu_threads // self.parallel)


TODAY = AsrConfig(window="fixed", tokens_per_s=0.0, repetition_penalty=1.0,
                  fixed_fallback=False, detect_language=False, workers=1)
"""The decode before dynamic windows (7 Dec 2026): 30 s window, no length bound, forced zh,
one decode at a time with both threads; benchmarks compare against it in the same run."""


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

    def transcribe(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        """Recognise one utterance of float32 mono audio at :attr:`sample_rate`.

        Args:
            audio: The utterance.
            partial: An open turn's look-ahead rather than a closed turn a caller waits on;
                a recogniser with a shared queue serves closed turns first.
        """
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return Transcript("", self.language, None, 0.0, 0.0, 0.0, 1.0)
        t0 = time.perf_counter()
        result = self._transcribe_impl(audio, partial)
        if not result.compute_ms:
            result = replace(result, compute_ms=(time.perf_counter() - t0) * 1000)
        return result

    def recognise(self, audio: np.ndarray, partial: bool = False) -> Recognition:
        """The transcript of one utterance and, when the recogniser has them, the encoder
        states it was read from (a dialect identifier reads them instead of encoding again);
        here none."""
        return Recognition(self.transcribe(audio, partial))

    def busy(self) -> bool:
        """Whether the recogniser's decoders are so loaded that a new call should be refused
        (a transport answers SIP 503 or reports full load); False when it has no queue."""
        return False

    def idle(self) -> bool:
        """Whether a decode asked now would start at once (a free decode slot): a call's
        look-ahead decodes only then, so a full box spends its CPU on closed turns."""
        return True

    def for_call(self, call_id: str = "") -> ASR:
        """The recogniser one call uses. A recogniser that keeps per-call state (the caller's
        dialect so far) returns a fresh one; a stateless recogniser returns itself."""
        return self

    @property
    def language(self) -> str:
        return "zh"

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        raise NotImplementedError


class FakeASR(ASR):
    """Returns scripted texts in order; for unit tests of the stages after ASR."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = list(texts)

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
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


def _hallucinated(window) -> bool:
    """Whether a decoded window is text invented over silence or a decoder loop.

    On digital silence Whisper base writes "再次" over and over with no_speech_prob 0.75 and
    a compression ratio near 10; real speech in the AISHELL sample stays below 0.1 and 1.
    faster-whisper keeps such text when its log-probability is high, so we check both
    signals ourselves (its own thresholds: 0.6 and 2.4).
    """
    return (window.no_speech_prob > NO_SPEECH_THRESHOLD
            or window.compression_ratio > LOOP_COMPRESSION_RATIO)


def collapse_loops(text: str) -> str:
    """Collapse decoder loops ("小小小小小…", "大意,大意,大意…") to one occurrence."""
    return _LOOP.sub(r"\1", text)


def repair_text(text: str) -> str:
    """Text safe to show and store: no U+FFFD (a character Whisper's byte-level tokens left
    unfinished), no lone surrogates, no control characters."""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\ufffd", "")
    return "".join(c for c in text if c in "\t\n" or unicodedata.category(c) != "Cc")


@dataclass(frozen=True)
class _Window:
    """One encoder window's decode."""

    beam: Beam
    pieces: list[Piece]
    text: str
    compression_ratio: float
    avg_logprob: float
    reader: Beam | None

    @property
    def no_speech_prob(self) -> float:
        return self.beam.no_speech_prob


@dataclass(frozen=True)
class _Decode:
    """Every window of one utterance's decode, and the first window's encoder output."""

    windows: list[_Window]
    language: str
    language_prob: float | None
    languages: tuple[tuple[str, float], ...]
    window: str
    window_s: float
    encoded: object
    encoded_frames: int


class _Features:
    """An utterance's log-mel features for either window, computed when first asked for.

    The 30 s window gets the audio's features padded with zeros, as faster-whisper pads it.
    A dynamic window gets, by default, the features of the audio followed by ``margin_s`` of
    digital silence (Whisper's own padding is silence). Measured on the 60 AISHELL clips
    (bench_asr.py, 7 Dec, one run, 30 s window: 13.53 % at 16 kHz, 14.43 % at 8 kHz): a 1 s
    margin of silence 13.02 % / 14.05 %; 1 s of zero features 17.01 % / 14.43 %.
    """

    def __init__(self, runtime: WhisperRuntime, audio: np.ndarray, margin_s: float,
                 silence: bool = True) -> None:
        self._rt = runtime
        self._audio = audio
        self.silence = silence
        self._margin = int(round(margin_s * SAMPLE_RATE))
        self._mels: dict[str, np.ndarray] = {}
        self.content = len(audio) // (SAMPLE_RATE // FRAMES_PER_S)
        """Mel frames of the audio itself."""

    def mel(self, window: str) -> np.ndarray:
        if window not in self._mels:
            audio = self._audio
            if window == "dynamic" and self._margin and self.silence:
                audio = np.concatenate([audio, np.zeros(self._margin, dtype=np.float32)])
            self._mels[window] = self._rt.mel(audio)
        return self._mels[window]


class WhisperASR(ASR):
    """Whisper on CTranslate2 (:mod:`tierline.dialects.whisper_ct2`) on a local model directory.

    One decode per turn: log-mel features, an encoder window cut to the turn plus a margin
    (or the 30 s window, ``AsrConfig.window``), the language detected on the encoder output,
    one beam search bounded by the turn's length, and the call-centre decoder's readings from
    the same encoder output. Decodes run on the process's :class:`InferenceQueue`.

    Args:
        model_dir: Directory with model.bin, config.json, tokenizer.json, vocabulary.txt.
        config: Decoding settings.
        readings_dir: A second model of the same encoder (the call-centre decoder,
            :func:`tierline.dialects.models.resolve_readings_model`) whose beam is added to
            the transcript's alternatives after the transcript model's own; the transcript
            stays the first model's.
        queue: Where decodes run (default: the process's shared queue).
        runtime: The loaded models, when already at hand (unit tests pass a fake); by
            default loaded from ``model_dir`` and ``readings_dir``.
    """

    def __init__(self, model_dir: str | Path, config: AsrConfig | None = None,
                 readings_dir: str | Path | None = None, queue: InferenceQueue | None = None,
                 runtime: WhisperRuntime | None = None) -> None:
        self.config = config or AsrConfig()
        self.model_dir = Path(model_dir)
        self.readings_dir = Path(readings_dir) if readings_dir is not None else None
        cfg = self.config
        self._rt = runtime or WhisperRuntime(self.model_dir, self.readings_dir,
                                             cfg.compute_type, workers=cfg.parallel,
                                             threads=cfg.threads_per_decode)
        self.queue = queue if queue is not None else process_queue(cfg.parallel)
        self.fallbacks = 0
        """Dynamic-window decodes decoded again on the 30 s window (:meth:`_doubtful`)."""
        self._t2s = None
        if cfg.t2s:
            import opencc

            self._t2s = opencc.OpenCC("t2s")

    @property
    def language(self) -> str:
        return self.config.language

    def busy(self) -> bool:
        return self.queue.full()

    def idle(self) -> bool:
        return self.queue.idle()

    def _clean(self, text: str) -> str:
        """Simplified characters, loops collapsed, punctuation-only text emptied."""
        text = repair_text(text).strip()
        if self._t2s is not None:
            text = self._t2s.convert(text)
        text = collapse_loops(text)
        return "" if _PUNCT_ONLY.match(text) else text

    def _max_new(self, frames: int) -> int:
        """The length bound of a window holding ``frames`` mel frames of audio."""
        cfg = self.config
        if cfg.tokens_per_s <= 0:
            return MAX_LENGTH
        return cfg.token_floor + math.ceil(cfg.tokens_per_s * frames / FRAMES_PER_S)

    def _language(self, encoded) -> tuple[str, float | None, tuple[tuple[str, float], ...]]:
        """The language to decode: :attr:`AsrConfig.language` unless Whisper confidently
        hears one of :attr:`AsrConfig.languages`; with its probability and the top three."""
        cfg = self.config
        if not cfg.detect_language or not self._rt.model.is_multilingual:
            return cfg.language, None, ()
        heard = self._rt.detect_language(encoded)
        top, p = heard[0]
        language = cfg.language
        if (top != language and top in cfg.languages and top in self._rt.languages
                and p >= cfg.language_threshold):
            language = top
        prob = next((q for code, q in heard if code == language), 0.0)
        return (language, round(min(1.0, max(0.0, prob)), 4),
                tuple((code, round(q, 4)) for code, q in heard[:3]))

    def _decode(self, feats: _Features, prompt: str | None, window: str,
                language: str | None = None) -> _Decode:
        """Decode every window of an utterance (one, for a turn of 30 s or less).

        The language is detected on the first window unless given. A window ending inside
        an unfinished piece leaves it to the next window, as faster-whisper does; the prompt
        conditions the first window only (faster-whisper without previous-text conditioning).
        """
        cfg, rt = self.config, self._rt
        mel, content, seek = feats.mel(window), feats.content, 0
        margin = round(cfg.margin_s * FRAMES_PER_S)
        windows: list[_Window] = []
        first = None
        languages: tuple[tuple[str, float], ...] = ()
        language_prob: float | None = None
        hypotheses = min(cfg.alternatives, cfg.beam_size)
        while seek < content:
            size = min(MAX_FRAMES, content - seek)
            frames = window_frames(size, window, margin)
            encoded = rt.encode(mel[:, seek:seek + frames], frames)
            if first is None:
                first = (encoded, frames, size)
                if language is None:
                    language, language_prob, languages = self._language(encoded)
            tokens = rt.prompt(language, prompt if not windows else None)
            options = {"beam_size": cfg.beam_size, "hypotheses": hypotheses,
                       "max_new": self._max_new(size),
                       "repetition_penalty": cfg.repetition_penalty}
            # the call-centre decoder reads the first window beside the transcript's decoder
            # (its own CTranslate2 threads); its beam is kept when that window is the whole turn
            pending = (rt.start(encoded, tokens, reader=True, **options)
                       if rt.reader is not None and not windows else None)
            beam = rt.generate(encoded, tokens, **options)
            best = beam.sequences[0] if beam.sequences else ()
            pieces, consumed = split_pieces(best, rt.tokenizer.timestamp_begin,
                                            seek / FRAMES_PER_S, size)
            reader = pending.result() if pending is not None else None
            if consumed < content:
                reader = None
            score = beam.scores[0] if beam.scores else -math.inf
            win = _Window(beam, pieces, rt.text([t for p in pieces for t in p.tokens]),
                          compression_ratio(rt.text(best).strip()),
                          score * len(best) / (len(best) + 1), reader)
            windows.append(win)
            seek += size if win.no_speech_prob > NO_SPEECH_THRESHOLD else consumed
        assert first is not None and language is not None
        encoded, frames, size = first
        return _Decode(windows, language, language_prob, languages, window,
                       frames / FRAMES_PER_S, encoded, (size + 1) // 2)

    def _doubtful(self, decode: _Decode) -> bool:
        """A dynamic-window decode whose text would be dropped or cut: it looped, ran into
        the length bound, or Whisper rated the window as silence although it wrote words.

        The no-speech probability is calibrated on the 30 s window; on a short one it runs
        higher (on the clips of asr_manifest.tsv: 0.65-0.74 where the 30 s window gave
        0.36-0.57), so words a short window calls silence are decoded again on the long one.
        """
        return decode.window == "dynamic" and any(
            w.compression_ratio > LOOP_COMPRESSION_RATIO or w.beam.capped
            or (w.no_speech_prob > NO_SPEECH_THRESHOLD and w.text.strip())
            for w in decode.windows)

    def _read(self, feats: _Features, prompt: str | None) -> _Decode:
        """The decode of one prompt on the configured window, with the 30 s window as the
        safety net of a dynamic one in doubt (:meth:`_doubtful`)."""
        decode = self._decode(feats, prompt, self.config.window)
        if self.config.fixed_fallback and self._doubtful(decode):
            self.fallbacks += 1
            again = self._decode(feats, prompt, "fixed", decode.language)
            decode = replace(again, language_prob=decode.language_prob,
                             languages=decode.languages)
        return decode

    def _readings(self, beam: Beam) -> tuple[Hypothesis, ...]:
        """A beam as (cleaned text, summed log-probability) readings, best first."""
        # length penalty 1: CTranslate2's score is the mean token log-probability
        return tuple(Hypothesis(self._clean(self._rt.text(ids)), round(score * len(ids), 4))
                     for ids, score in zip(beam.sequences, beam.scores, strict=True))

    def _transcript(self, decode: _Decode, duration_s: float) -> Transcript:
        kept = [w for w in decode.windows if not _hallucinated(w)]
        text = self._clean("".join(w.text for w in kept))
        pieces = [p for w in kept for p in w.pieces]
        logprobs = [w.avg_logprob for w in kept for _ in w.pieces]
        beam: tuple[Hypothesis, ...] = ()
        cfg = self.config
        wanted = min(cfg.alternatives, cfg.beam_size) > 1 or kept and kept[0].reader is not None
        if text and wanted and len(decode.windows) == 1 and len(kept) == 1:
            beam = self._readings(kept[0].beam)
            if beam[0].text != text:
                beam = ()
            elif kept[0].reader is not None:  # the call-centre decoder's, after the transcript's
                beam += tuple(h for h in self._readings(kept[0].reader) if h.text)
        confidence = math.exp(float(np.mean(logprobs))) if (text and logprobs) else 0.0
        return Transcript(
            text=text,
            language=decode.language,
            dialect=None,
            start_s=float(pieces[0].start_s) if text and pieces else 0.0,
            end_s=float(min(pieces[-1].end_s, duration_s)) if text and pieces else 0.0,
            confidence=round(min(1.0, confidence), 4),
            no_speech_prob=max(w.no_speech_prob for w in decode.windows),
            alternatives=beam,
            language_prob=decode.language_prob,
            languages=decode.languages,
            window_s=decode.window_s,
        )

    def _recognise_now(self, audio: np.ndarray) -> tuple[Transcript, _Decode]:
        """The whole decode of one utterance (runs on a queue worker)."""
        cfg = self.config
        feats = _Features(self._rt, audio, cfg.margin_s, cfg.margin_pad == "silence")
        duration = len(audio) / self.sample_rate
        decode = self._read(feats, cfg.initial_prompt)
        transcript = self._transcript(decode, duration)
        if cfg.initial_prompt and (
                any(_hallucinated(w) for w in decode.windows)
                or echoes_prompt(transcript.text, cfg.initial_prompt)):
            # With a prompt Whisper may loop on it or echo it ("产品价格、预算产品价格…"), rate
            # real speech as silence (no_speech_prob 0.6-0.8 on clips it reads fine without),
            # or the caller said a piece of it ("转人工"): only a decode without the prompt
            # tells these apart, so a dropped window or an echo means decoding again.
            decode = self._read(feats, None)
            transcript = self._transcript(decode, duration)
        return transcript, decode

    def recognise(self, audio: np.ndarray, partial: bool = False) -> Recognition:
        """The transcript of one utterance and the encoder states it was read from.

        Args:
            audio: float32 mono audio at 16 kHz.
            partial: An open turn's look-ahead (served after closed turns).
        """
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return Recognition(Transcript("", self.language, None, 0.0, 0.0, 0.0, 1.0))
        t0 = time.perf_counter()

        def job() -> tuple[float, Transcript, _Decode]:
            return time.perf_counter(), *self._recognise_now(audio)

        started, transcript, decode = self.queue.run(job, final=not partial)
        states = EncoderStates(np.array(decode.encoded)[0, : decode.encoded_frames],
                               decode.window)
        done = time.perf_counter()
        return Recognition(replace(transcript, compute_ms=(done - t0) * 1000,
                                   queue_ms=(started - t0) * 1000), states)

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        return self.recognise(audio, partial).transcript


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
