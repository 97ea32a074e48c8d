"""Answering-machine detection on the first seconds of an answered call, without a model.

An outbound call is answered by a person, a voicemail box or an IVR menu. People say a short
greeting ("喂？", "你好，哪位") and then wait; a voicemail box plays a long greeting and then a
beep (a narrow-band tone); an IVR plays a long menu and keeps talking. The detector reads the
callee's 8 kHz audio 20 ms at a time and measures exactly that:

* **greeting length and cadence** — speech (webrtcvad on a level gate) from its first onset,
  with pauses shorter than ``human_silence_s`` counted inside the greeting;
* **turn-taking** — when the bot speaks into the callee's pause (:meth:`bot_started` /
  :meth:`bot_stopped`), a person answers after it ends, a machine talks on over it;
* **the beep** — a run of 20 ms frames whose spectrum is one narrow peak (≥ ``tone_purity``
  of the band's energy within ±``tone_halfwidth_hz``) at a steady frequency for at least
  ``beep_min_s``.

It decides as soon as it is sure (a beep, a short greeting followed by a wait, a reply to the
bot, a menu that keeps talking) or, at the latest, when :meth:`finish` is called at the end of
the window. Every :class:`AmdDecision` carries its reasons and a confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import webrtcvad

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
FRAME_S = FRAME / RATE
OUTCOMES = ("human", "voicemail", "ivr", "unknown")
_FFT = 1024
_FREQS = np.fft.rfftfreq(_FFT, 1 / RATE)
_WINDOW = np.hanning(2 * FRAME)


@dataclass(frozen=True)
class AmdConfig:
    """Thresholds of the detector (tuned on the ``tune`` half of ``tierline amd-eval``).

    Attributes:
        window_s: The longest the detector listens; :meth:`finish` decides by then.
        human_greeting_s: A greeting of at most this much speech, then a wait, is a person.
        machine_greeting_s: Speech beyond this without a wait is a recording.
        human_silence_s: The wait after a short greeting that says "a person waiting".
        long_wait_s: The wait after a medium greeting (between the two lengths) that says
            "a person" all the same.
        no_greeting_s: Nobody spoke this long after the answer: unknown.
        ivr_speech_s: A recording that talks this long without a beep is a menu.
        machine_silence_s: A recording that fell silent this long without a beep: a menu
            waiting for a key (after ``menu_speech_s`` of prompts), else a voicemail box
            whose beep was missed.
        menu_speech_s: See ``machine_silence_s``.
        overlap_s: Callee speech over the bot beyond this is talking over it.
        reply_within_s: Speech starting this soon after the bot stops answers the bot.
        min_level_db: Frames quieter than this (dBFS) are silence, whatever webrtcvad says.
        vad_mode: webrtcvad aggressiveness (0-3).
        beep_min_s: The shortest tone that counts as a beep.
        beep_band_hz: Where a beep's frequency may lie.
        tone_purity: Share of the band's energy in the peak that makes a frame tonal.
        tone_halfwidth_hz: Half-width of the peak measured.
        tone_drift_hz: How far a beep's frequency may wander frame to frame.
    """

    window_s: float = 15.0
    human_greeting_s: float = 2.0
    machine_greeting_s: float = 3.2
    human_silence_s: float = 1.0
    long_wait_s: float = 1.6
    no_greeting_s: float = 5.0
    ivr_speech_s: float = 12.0
    machine_silence_s: float = 2.5
    menu_speech_s: float = 5.0
    overlap_s: float = 0.5
    reply_within_s: float = 2.0
    min_level_db: float = -50.0
    vad_mode: int = 2
    beep_min_s: float = 0.2
    beep_band_hz: tuple[float, float] = (400.0, 3000.0)
    tone_purity: float = 0.9
    tone_halfwidth_hz: float = 40.0
    tone_drift_hz: float = 30.0


@dataclass(frozen=True)
class AmdDecision:
    """What answered the call.

    Attributes:
        outcome: human, voicemail, ivr or unknown.
        confidence: 0..1, how sure the rule that fired is.
        at_s: Seconds of callee audio heard when it was decided.
        reasons: Why, in words (the measurements behind the rule).
        beep_s: Where the beep ended (seconds), when one was heard.
        beep_hz: The beep's frequency.
        greeting_s: Speech heard in the greeting (seconds).
    """

    outcome: str
    confidence: float
    at_s: float
    reasons: tuple[str, ...]
    beep_s: float | None = None
    beep_hz: float | None = None
    greeting_s: float = 0.0

    @property
    def machine(self) -> bool:
        return self.outcome in ("voicemail", "ivr")

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "confidence": round(self.confidence, 2),
                "at_s": round(self.at_s, 2), "reasons": list(self.reasons),
                "beep_s": None if self.beep_s is None else round(self.beep_s, 2),
                "beep_hz": None if self.beep_hz is None else round(self.beep_hz),
                "greeting_s": round(self.greeting_s, 2)}


def tone_of(window: np.ndarray, config: AmdConfig) -> float | None:
    """The frequency of ``window`` (float samples) when it is one narrow tone, else None."""
    spec = np.abs(np.fft.rfft(window * _WINDOW[: len(window)], _FFT)) ** 2
    lo, hi = config.beep_band_hz
    band = (_FREQS >= 100) & (_FREQS <= 3800)
    total = spec[band].sum()
    if total <= 0:
        return None
    inside = np.flatnonzero((lo <= _FREQS) & (hi >= _FREQS))
    peak = inside[np.argmax(spec[inside])]
    near = np.abs(_FREQS - _FREQS[peak]) <= config.tone_halfwidth_hz
    if spec[near].sum() / total < config.tone_purity:
        return None
    return float(_FREQS[peak])


@dataclass
class _Tone:
    start_s: float
    freqs: list[float] = field(default_factory=list)


class AnsweringMachineDetector:
    """Streaming detector: push the callee's audio, read :attr:`decision`.

    Args:
        config: Thresholds.
        rate: Sample rate of the pushed audio (8000; other rates are resampled).
    """

    def __init__(self, config: AmdConfig | None = None, rate: int = RATE) -> None:
        self.config = config or AmdConfig()
        self.rate = rate
        self._vad = webrtcvad.Vad(self.config.vad_mode)
        self._buf = np.zeros(0, dtype=np.int16)
        self._prev = np.zeros(FRAME, dtype=np.float64)
        self.frames = 0
        self.decision: AmdDecision | None = None
        self.first_speech_s: float | None = None
        self.last_speech_s: float | None = None
        self.greeting_s = 0.0      # speech in the greeting (pauses < human_silence_s inside)
        self.speech_s = 0.0        # all speech heard
        self.segments = 0          # speech runs separated by pauses of >= 0.3 s
        self.paused_s = 0.0        # silence since the last speech (0 while speaking)
        self.greeting_over = False  # the greeting ended with a wait of human_silence_s
        self._tone: _Tone | None = None
        self.beep: tuple[float, float] | None = None  # (end s, Hz)
        self._bot_start: float | None = None
        self._bot_end: float | None = None
        self.over_bot_s = 0.0      # callee speech while the bot spoke
        self.replied_to_bot = False

    # ------------------------------------------------------------------ input
    @property
    def position_s(self) -> float:
        """Seconds of callee audio heard so far."""
        return self.frames * FRAME_S

    @property
    def paused(self) -> bool:
        """The callee spoke and has now been quiet for 0.5 s: the moment to say something."""
        return self.first_speech_s is not None and self.paused_s >= 0.5

    def bot_started(self) -> None:
        """The bot began speaking now (its prompt goes to the callee)."""
        self._bot_start = self.position_s
        self._bot_end = None

    def bot_stopped(self) -> None:
        """The bot's prompt ended now."""
        if self._bot_start is not None:
            self._bot_end = self.position_s

    def push(self, pcm: np.ndarray) -> AmdDecision | None:
        """Hear callee audio (int16); the decision, once there is one (then always it)."""
        pcm = np.asarray(pcm)
        if self.rate != RATE:
            from tierline.audio.io import resample

            pcm = np.clip(resample(pcm.astype(np.float32), self.rate, RATE), -32768, 32767)
        self._buf = np.concatenate([self._buf, pcm.astype(np.int16)])
        while len(self._buf) >= FRAME and self.decision is None:
            frame, self._buf = self._buf[:FRAME], self._buf[FRAME:]
            self._frame(frame)
            self.decision = self._decide()
        return self.decision

    def finish(self) -> AmdDecision:
        """The end of the window (or of the audio): decide with what was heard."""
        if self.decision is None:
            self.decision = self._decide(final=True)
        return self.decision

    # ------------------------------------------------------------------ per frame
    def _frame(self, frame: np.ndarray) -> None:
        cfg = self.config
        t = self.position_s
        self.frames += 1
        x = frame.astype(np.float64)
        level = 10 * np.log10(np.mean(x * x) / 32768.0**2 + 1e-12)
        loud = level > cfg.min_level_db
        tone = tone_of(np.concatenate([self._prev, x]), cfg) if loud else None
        self._prev = x
        self._track_tone(tone, t)
        voiced = loud and tone is None and self._vad.is_speech(frame.tobytes(), RATE)
        if voiced:
            if self._bot_start is not None and self._bot_end is None and \
                    t - self._bot_start >= 0.2:
                self.over_bot_s += FRAME_S
            self._speech(t)
        elif self.first_speech_s is not None:
            self.paused_s += FRAME_S
            if not self.greeting_over and self.paused_s >= cfg.human_silence_s:
                self.greeting_over = True

    def _track_tone(self, freq: float | None, t: float) -> None:
        cfg = self.config
        run = self._tone
        if freq is not None and run is not None and abs(freq - run.freqs[-1]) <= cfg.tone_drift_hz:
            run.freqs.append(freq)
        else:
            run = self._tone = _Tone(t, [freq]) if freq is not None else None
        if run is not None and len(run.freqs) * FRAME_S >= cfg.beep_min_s and self.beep is None:
            self.beep = (t + FRAME_S, float(np.median(run.freqs)))

    def _speech(self, t: float) -> None:
        if self.first_speech_s is None:
            self.first_speech_s = t
            self.segments = 1
        elif self.paused_s >= 0.3:
            self.segments += 1
            self._onset_after_pause(t)
        self.last_speech_s = t + FRAME_S
        self.speech_s += FRAME_S
        if not self.greeting_over:
            self.greeting_s += FRAME_S
        self.paused_s = 0.0

    @property
    def talked_over_bot(self) -> bool:
        return self.over_bot_s >= self.config.overlap_s

    def _onset_after_pause(self, t: float) -> None:
        """Speech resumed after a pause: an answer to the bot?"""
        end = self._bot_end
        if (end is not None and 0 <= t - end <= self.config.reply_within_s
                and self.over_bot_s < self.config.overlap_s):
            self.replied_to_bot = True

    # ------------------------------------------------------------------ rules
    def _decide(self, final: bool = False) -> AmdDecision | None:
        cfg = self.config
        t = self.position_s
        greet = self.greeting_s

        def made(outcome: str, confidence: float, *reasons: str) -> AmdDecision:
            beep_s, beep_hz = self.beep if self.beep else (None, None)
            return AmdDecision(outcome, confidence, t, reasons, beep_s, beep_hz, greet)

        if self.beep is not None:
            after = f"after {self.speech_s:.1f} s of speech" if self.speech_s else "first"
            return made("voicemail", 0.95 if self.speech_s >= 1.0 else 0.8,
                        f"beep: {self.beep[1]:.0f} Hz tone {after}")
        if self.first_speech_s is None:
            if t >= cfg.no_greeting_s or final:
                return made("unknown", 0.5, f"no speech in the first {t:.1f} s")
            return None
        machine = greet > cfg.machine_greeting_s or (
            self.talked_over_bot and greet > cfg.human_greeting_s)
        if machine:
            why = (f"greeting of {greet:.1f} s without a pause" if greet > cfg.machine_greeting_s
                   else "talked on over the bot")
            if self.speech_s >= cfg.ivr_speech_s:
                return made("ivr", 0.75, why, f"{self.speech_s:.1f} s of prompts, no beep")
            if self.paused_s >= cfg.machine_silence_s:
                quiet = f"then {self.paused_s:.1f} s of silence without a beep"
                if self.speech_s >= cfg.menu_speech_s:
                    return made("ivr", 0.55, why, f"{self.speech_s:.1f} s of prompts", quiet)
                return made("voicemail", 0.5, why, quiet)
            if final:
                if self.paused_s >= 0.5 and self.speech_s >= cfg.menu_speech_s:
                    return made("ivr", 0.5, why, f"{self.speech_s:.1f} s of prompts",
                                "silent at the end of the window, no beep")
                if self.paused_s >= 0.5:
                    return made("voicemail", 0.5, why, "silent at the end of the window")
                return made("ivr", 0.55, why, "still talking at the end of the window, no beep")
            return None
        if self.replied_to_bot:
            return made("human", 0.9, f"greeting of {greet:.1f} s",
                        "answered the bot after it spoke")
        if greet <= cfg.human_greeting_s and self.paused_s >= cfg.human_silence_s:
            return made("human", 0.8 if greet <= 1.2 else 0.7, f"greeting of {greet:.1f} s",
                        f"then waited {self.paused_s:.1f} s")
        if self.paused_s >= cfg.long_wait_s:
            return made("human", 0.6, f"greeting of {greet:.1f} s",
                        f"then waited {self.paused_s:.1f} s")
        if final:
            return made("unknown", 0.3, f"greeting of {greet:.1f} s, undecided at {t:.1f} s")
        return None
