"""VAD evaluation with known boundaries: synthetic telephone calls built from real speech.

Real read speech (e.g. AISHELL clips) is laid on a timeline with silences, background line
noise (pink noise + mains hum), clicks and synthetic coughs, then passed through the telephone
channel (16 kHz → 8 kHz μ-law → 16 kHz). The true speech span of every clip is measured on
the clean clip before mixing, so every frame's truth is known. Endpointers are scored on
frame-level precision/recall and on onset/offset errors of the turns they close.

Coughs are synthesised (noise bursts through two resonances with a sharp attack, half of them
with a short voiced tail); no recorded cough corpus is available offline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal as sps

from tierline.audio.io import load_audio, telephone_round_trip
from tierline.audio.records import FRAME_MS, PIPELINE_RATE, Frame, Utterance

RATE = PIPELINE_RATE
FRAME = RATE * FRAME_MS // 1000
ACTIVE_BELOW_PEAK_DB = 30.0
"""A clean-clip frame is speech when within this many dB of the clip's loudest frame ..."""
ACTIVE_OVER_FLOOR_DB = 15.0
"""... and this many dB over the clip's noise floor (10th percentile of frame levels)."""
LINE_LEVEL_DB = -24.0
"""Active speech level the clips are normalised to (telephone nominal is about -26 dBov)."""


@dataclass(frozen=True)
class Condition:
    """How a test call is degraded.

    Attributes:
        name: Short label used in tables.
        snr_db: Speech active level over background noise, dB (None: no background noise).
        coughs: Coughs per gap between turns, on average.
        clicks: Clicks per gap between turns, on average.
    """

    name: str
    snr_db: float | None = 30.0
    coughs: float = 0.0
    clicks: float = 0.0


CONDITIONS = (
    Condition("quiet", snr_db=35.0),
    Condition("noisy", snr_db=10.0),
    Condition("coughs", snr_db=25.0, coughs=1.0, clicks=0.5),
)


@dataclass(frozen=True)
class TestCall:
    """A built call: 16 kHz audio after the telephone channel, and what is in it.

    Attributes:
        audio: float32 samples at 16 kHz.
        speech: True (onset, offset) of every clip's speech, seconds.
        events: (start, end) of every cough and click, seconds.
        condition: The degradation used.
    """

    audio: np.ndarray = field(repr=False)
    speech: tuple[tuple[float, float], ...]
    events: tuple[tuple[float, float], ...]
    condition: Condition

    @property
    def duration_s(self) -> float:
        return len(self.audio) / RATE

    def frames(self) -> list[Frame]:
        """The call as 20 ms int16 frames."""
        pcm = np.clip(np.round(self.audio * 32768.0), -32768, 32767).astype(np.int16)
        pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME, dtype=np.int16)])
        return [Frame(pcm[i : i + FRAME], i / RATE) for i in range(0, len(pcm), FRAME)]


# --------------------------------------------------------------------------- building


def frame_db(x: np.ndarray) -> np.ndarray:
    """Level of consecutive 20 ms frames, dB re full scale."""
    n = len(x) // FRAME
    frames = x[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def speech_span(clip: np.ndarray) -> tuple[float, float] | None:
    """Speech span of a clean clip, seconds: first to last run of 3+ active frames.

    A frame is active when it is within ``ACTIVE_BELOW_PEAK_DB`` of the loudest frame and
    ``ACTIVE_OVER_FLOOR_DB`` over the noise floor.
    """
    db = frame_db(clip)
    if len(db) < 3:
        return None
    threshold = max(db.max() - ACTIVE_BELOW_PEAK_DB, np.percentile(db, 10) + ACTIVE_OVER_FLOOR_DB)
    on = db > threshold
    runs = on[:-2] & on[1:-1] & on[2:]  # frame i starts a run of three
    starts = np.nonzero(runs)[0]
    if not len(starts):
        return None
    return starts[0] * FRAME / RATE, (starts[-1] + 3) * FRAME / RATE


def active_rms(clip: np.ndarray) -> float:
    """RMS of the frames inside the clip's speech span."""
    span = speech_span(clip)
    if span is None:
        return 0.0
    part = clip[int(span[0] * RATE) : int(span[1] * RATE)]
    return float(np.sqrt(np.mean(part.astype(np.float64) ** 2)))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS pink (1/f) noise."""
    spec = np.fft.rfft(rng.normal(size=n))
    f = np.arange(len(spec), dtype=np.float64)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def synth_cough(rng: np.random.Generator, rms: float) -> np.ndarray:
    """One synthetic cough (or a double cough) at roughly ``rms`` level, float32 16 kHz."""
    bursts = []
    for _ in range(1 + int(rng.random() < 0.3)):
        dur = rng.uniform(0.22, 0.42)
        n = int(dur * RATE)
        t = np.arange(n) / RATE
        env = np.minimum(t / 0.008, 1.0) * np.exp(-t / rng.uniform(0.05, 0.11))
        x = rng.normal(size=n)
        out = np.zeros(n)
        for lo, hi in ((rng.uniform(350, 700), 0.5), (rng.uniform(1200, 2400), 0.35)):
            b, a = sps.iirpeak(lo, Q=rng.uniform(2.0, 5.0), fs=RATE)
            out += hi * sps.lfilter(b, a, x)
        out += 0.15 * x
        out *= env
        if rng.random() < 0.5:  # voiced tail, as in many real coughs
            f0 = rng.uniform(140, 320)
            m = int(rng.uniform(0.06, 0.14) * RATE)
            tt = np.arange(m) / RATE
            buzz = sum(np.sin(2 * np.pi * f0 * k * tt) / k for k in range(1, 8))
            start = int(0.05 * RATE)
            seg = out[start : start + m]
            seg += 0.4 * buzz[: len(seg)] * np.hanning(len(seg)) * np.std(out)
        bursts += [out, np.zeros(int(rng.uniform(0.08, 0.2) * RATE))]
    x = np.concatenate(bursts[:-1])
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12) * rms * rng.uniform(1.0, 2.0)).astype(
        np.float32
    )


def _click(rng: np.random.Generator, rms: float) -> np.ndarray:
    n = int(0.006 * RATE)
    return (rng.normal(size=n) * np.exp(-np.arange(n) / 20) * rms * 4).astype(np.float32)


def build_call(
    clips: Sequence[np.ndarray],
    condition: Condition,
    rng: np.random.Generator,
    gap_s: tuple[float, float] = (1.0, 3.0),
) -> TestCall:
    """Lay clips on a timeline with gaps, noise and events, then pass the telephone channel.

    Args:
        clips: float32 16 kHz speech clips.
        condition: Degradation.
        rng: Randomness (seeded by the caller).
        gap_s: Range of the silence between clips (uniform), seconds.
    """
    target = 10 ** (LINE_LEVEL_DB / 20)
    clips = [c * (target * 10 ** (rng.uniform(-3, 3) / 20) / (active_rms(c) or target))
             for c in clips]
    level = target
    parts: list[np.ndarray] = []
    speech: list[tuple[float, float]] = []
    events: list[tuple[float, float]] = []
    pos = 0

    def gap(seconds: float) -> None:
        nonlocal pos
        n = int(seconds * RATE)
        g = np.zeros(n, dtype=np.float32)
        for kind, rate in (("cough", condition.coughs), ("click", condition.clicks)):
            for _ in range(rng.poisson(rate)):
                ev = synth_cough(rng, level) if kind == "cough" else _click(rng, level)
                room = n - len(ev) - int(0.6 * RATE)
                if room <= int(0.3 * RATE):
                    continue
                at = int(rng.integers(int(0.3 * RATE), room))
                g[at : at + len(ev)] += ev
                events.append(((pos + at) / RATE, (pos + at + len(ev)) / RATE))
        parts.append(g)
        pos += n

    gap(rng.uniform(*gap_s))
    for clip in clips:
        span = speech_span(clip)
        if span is not None:
            speech.append((pos / RATE + span[0], pos / RATE + span[1]))
        parts.append(clip.astype(np.float32))
        pos += len(clip)
        gap(rng.uniform(*gap_s))
    audio = np.concatenate(parts)
    if condition.snr_db is not None:
        noise = pink_noise(len(audio), rng)
        t = np.arange(len(audio)) / RATE
        hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.3)) / k for k in (1, 3, 5))
        noise = noise + 0.3 * hum.astype(np.float32) / np.sqrt(np.mean(hum**2))
        noise *= level / 10 ** (condition.snr_db / 20) / np.sqrt(np.mean(noise**2))
        audio = audio + noise
    peak = np.max(np.abs(audio))
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    audio = telephone_round_trip(np.clip(audio, -1, 1).astype(np.float32))
    return TestCall(audio, tuple(speech), tuple(events), condition)


def load_clips(folder: str | Path, prefix: str = "") -> list[np.ndarray]:
    """Decode every WAV in ``folder`` whose name starts with ``prefix`` (sorted), 16 kHz."""
    paths = sorted(p for p in Path(folder).glob("*.wav") if p.name.startswith(prefix))
    return [load_audio(p) for p in paths]


def build_calls(
    clips: Sequence[np.ndarray],
    condition: Condition,
    seed: int,
    per_call: int = 6,
) -> list[TestCall]:
    """Split ``clips`` into calls of ``per_call`` clips each (in order), seeded."""
    rng = np.random.default_rng(seed)
    return [
        build_call(clips[i : i + per_call], condition, rng)
        for i in range(0, len(clips) - per_call + 1, per_call)
    ]


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Score:
    """How one system did on a set of calls.

    Attributes:
        precision: Frame-level precision of speech frames.
        recall: Frame-level recall of speech frames.
        f1: Harmonic mean of both.
        onset_ms: Median |detected onset − true onset| of detected turns, ms.
        offset_ms: Median |detected end − true end| of detected turns, ms.
        onset_p90_ms: 90th percentile of the onset error, ms.
        offset_p90_ms: 90th percentile of the offset error, ms.
        false_starts: Detected turns overlapping no true speech.
        event_false_starts: Of those, turns overlapping a cough or click.
        missed: True turns no detected turn overlaps.
        turns: True turns in total.
    """

    precision: float
    recall: float
    f1: float
    onset_ms: float
    offset_ms: float
    onset_p90_ms: float
    offset_p90_ms: float
    false_starts: int
    event_false_starts: int
    missed: int
    turns: int

    def to_dict(self) -> dict[str, float | int]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def spans_to_frames(spans: Iterable[tuple[float, float]], n: int) -> np.ndarray:
    """Boolean mask of ``n`` 20 ms frames covered by ``spans`` (by frame centre)."""
    centres = (np.arange(n) + 0.5) * FRAME_MS / 1000
    mask = np.zeros(n, dtype=bool)
    for a, b in spans:
        mask |= (centres >= a) & (centres < b)
    return mask


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(
    calls: Sequence[TestCall], detected: Sequence[Sequence[tuple[float, float]]]
) -> Score:
    """Score detected speech spans against the truth of each call.

    Args:
        calls: The test calls.
        detected: Per call, detected (onset, end) spans, seconds.
    """
    tp = fp = fn = 0
    onsets: list[float] = []
    offsets: list[float] = []
    false_starts = event_fs = missed = turns = 0
    for call, spans in zip(calls, detected, strict=True):
        n = int(np.ceil(call.duration_s * 1000 / FRAME_MS))
        truth = spans_to_frames(call.speech, n)
        pred = spans_to_frames(spans, n)
        tp += int(np.sum(truth & pred))
        fp += int(np.sum(~truth & pred))
        fn += int(np.sum(truth & ~pred))
        turns += len(call.speech)
        for true in call.speech:
            hits = [s for s in spans if _overlaps(s, true)]
            if not hits:
                missed += 1
                continue
            onsets.append(abs(hits[0][0] - true[0]) * 1000)
            offsets.append(abs(hits[-1][1] - true[1]) * 1000)
        for s in spans:
            if not any(_overlaps(s, t) for t in call.speech):
                false_starts += 1
                event_fs += any(_overlaps(s, e) for e in call.events)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    return Score(precision, recall, f1, pct(onsets, 50), pct(offsets, 50), pct(onsets, 90),
                 pct(offsets, 90), false_starts, event_fs, missed, turns)


def utterance_spans(utterances: Iterable[Utterance]) -> list[tuple[float, float]]:
    """(speech onset, end) of endpointed utterances."""
    return [
        (u.speech_start_s if u.speech_start_s is not None else u.start_s, u.end_s)
        for u in utterances
    ]


def mask_spans(mask: Sequence[bool]) -> list[tuple[float, float]]:
    """Runs of True frames as (start, end) seconds."""
    spans, start = [], None
    for i, on in enumerate(list(mask) + [False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            spans.append((start * FRAME_MS / 1000, i * FRAME_MS / 1000))
            start = None
    return spans


def evaluate(
    calls: Sequence[TestCall], systems: dict[str, Callable[[list[Frame]], list[tuple]]]
) -> dict[str, Score]:
    """Run every system (frames → detected spans) on every call and score it."""
    return {
        name: score(calls, [system(call.frames()) for call in calls])
        for name, system in systems.items()
    }
