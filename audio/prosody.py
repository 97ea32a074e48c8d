"""Prosody of one utterance: pitch, loudness, spectral effort, tempo, pauses, perturbation.

The audio is analysed in the telephone band (resampled to 8 kHz) with 10 ms hops:

* F0 with librosa's YIN (pYIN costs ~80 ms of CPU per second of audio here, YIN under 1 ms;
  the per-call budget is 5 % of a core). YIN has no voicing decision, so a frame counts as
  voiced when it is active and its normalised autocorrelation at the YIN period is ≥
  ``VOICING_R``. A 5-frame median filter removes isolated octave jumps.
* Level: RMS of active frames (within ``ACTIVE_BELOW_PEAK_DB`` of the loudest frame and over
  the noise floor), dB re full scale.
* Spectral balance: energy in 1–3.4 kHz over 0–1 kHz of active frames (vocal effort).
* Rate: transcript characters per second of speech (Mandarin: one character, one syllable),
  and an acoustic syllable rate from peaks of the level contour when no transcript exists.
* Pause ratio: inactive share of the span from the first to the last active frame.
* Jitter/shimmer: frame-level approximations (relative change of period/level between
  consecutive voiced frames), not cycle-level measures.

Bad input never raises: NaN/inf are zeroed, DC is removed, clipped audio is measured as is, and
audio that cannot be speech (too short, unvoiced, a steady tone) comes back with
``speech_like=False``.
"""

from __future__ import annotations

import re

import numpy as np

from tierline.audio.records import PIPELINE_RATE, Prosody

RATE = 8_000
HOP = 80  # 10 ms
FRAME = 512  # 64 ms: two periods of the lowest F0
FMIN, FMAX = 65.0, 500.0
VOICING_R = 0.55
ACTIVE_BELOW_PEAK_DB = 30.0
ACTIVE_OVER_FLOOR_DB = 8.0
MIN_DURATION_S = 0.15
MIN_VOICED_S = 0.2
TONE_RANGE_ST = 0.25
"""A voiced stretch whose F0 varies less than this (semitones, p90−p10) is a tone, not speech."""

_CHAR = re.compile(r"[\u3400-\u9fff]|[A-Za-z]+|\d")


def count_syllables(text: str | None) -> int:
    """Syllables in a transcript: CJK characters, digits, and Latin words counted once."""
    return len(_CHAR.findall(text or ""))


def _to_8k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.nan_to_num(np.asarray(audio, dtype=np.float64).reshape(-1), nan=0.0, posinf=0.0,
                      neginf=0.0)
    if np.issubdtype(np.asarray(audio).dtype, np.integer):
        x = x / 32768.0
    if sample_rate != RATE and len(x):
        import soxr

        x = soxr.resample(x.astype(np.float32), sample_rate, RATE, quality="MQ").astype(
            np.float64
        )
    return x - np.mean(x) if len(x) else x


def _frames(x: np.ndarray) -> np.ndarray:
    import librosa

    padded = np.pad(x, (FRAME // 2, FRAME // 2))
    return librosa.util.frame(padded, frame_length=FRAME, hop_length=HOP, axis=0)


def _periodicity(frames: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of each frame at its YIN period."""
    out = np.zeros(len(frames))
    lags = np.clip(np.round(RATE / np.maximum(f0, 1.0)).astype(int), 1, FRAME // 2)
    for i, (frame, lag) in enumerate(zip(frames, lags, strict=True)):
        a, b = frame[:-lag], frame[lag:]
        denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
        out[i] = np.dot(a, b) / denom if denom > 1e-12 else 0.0
    return out


def _median5(x: np.ndarray) -> np.ndarray:
    if len(x) < 5:
        return x
    padded = np.pad(x, 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)


def _hf_ratio(x: np.ndarray, active: np.ndarray) -> float | None:
    import librosa

    spec = np.abs(librosa.stft(x, n_fft=256, hop_length=HOP, center=True)) ** 2
    n = min(spec.shape[1], len(active))
    spec, act = spec[:, :n], active[:n]
    if not act.any():
        return None
    freqs = np.fft.rfftfreq(256, 1 / RATE)
    low = spec[(freqs >= 80) & (freqs < 1000)][:, act].sum()
    high = spec[(freqs >= 1000) & (freqs < 3400)][:, act].sum()
    return float(10 * np.log10((high + 1e-12) / (low + 1e-12)))


def _syllable_rate(level_db: np.ndarray, active: np.ndarray, span_s: float) -> float | None:
    from scipy.signal import find_peaks

    if span_s <= 0 or not active.any():
        return None
    contour = np.where(active, level_db, level_db[active].min())
    smooth = np.convolve(contour, np.ones(5) / 5, mode="same")
    peaks, _ = find_peaks(smooth, prominence=3.0, distance=10)
    peaks = [p for p in peaks if active[p]]
    return float(len(peaks) / span_s)


def _perturbation(values: np.ndarray) -> float | None:
    """Mean relative change between consecutive values (runs of voiced frames)."""
    if len(values) < 3:
        return None
    diffs = np.abs(np.diff(values))
    return float(np.mean(diffs) / (np.mean(values) + 1e-12))


def extract_prosody(
    audio: np.ndarray, sample_rate: int = PIPELINE_RATE, text: str | None = None
) -> Prosody:
    """Measure the prosody of one utterance.

    Args:
        audio: Mono samples, float in [-1, 1] or int16, any length.
        sample_rate: Rate of ``audio`` (4 kHz .. 192 kHz).
        text: The utterance's transcript, for the speaking rate (optional).

    Returns:
        The measurements; ``speech_like`` is False when nothing can be said.
    """
    import librosa

    if not 4_000 <= int(sample_rate) <= 192_000:
        return Prosody(duration_s=0.0)
    x = _to_8k(audio, int(sample_rate))
    duration = len(x) / RATE
    clipped = float(np.mean(np.abs(x) >= 0.99)) if len(x) else 0.0
    if duration < MIN_DURATION_S or not np.any(x):
        return Prosody(duration_s=duration, clipped=clipped)
    frames = _frames(x)
    rms = np.sqrt(np.mean(frames[:, FRAME // 2 - HOP : FRAME // 2 + HOP] ** 2, axis=1))
    level = 20 * np.log10(rms + 1e-9)
    floor = np.percentile(level, 10)
    threshold = max(level.max() - ACTIVE_BELOW_PEAK_DB, floor + ACTIVE_OVER_FLOOR_DB, -65.0)
    active = level > threshold
    if not active.any():
        return Prosody(duration_s=duration, clipped=clipped)
    idx = np.nonzero(active)[0]
    span = (idx[-1] - idx[0] + 1) * HOP / RATE
    pause_ratio = float(1.0 - active[idx[0] : idx[-1] + 1].mean())
    f0 = librosa.yin(x, fmin=FMIN, fmax=FMAX, sr=RATE, frame_length=FRAME, hop_length=HOP,
                     center=True)[: len(frames)]
    voiced = active & (_periodicity(frames, f0) >= VOICING_R) & (f0 > FMIN * 1.05) & (
        f0 < FMAX * 0.95)
    voiced_s = float(voiced.sum() * HOP / RATE)
    lin = 10 ** (level[active] / 20)
    level_db = float(20 * np.log10(np.sqrt(np.mean(lin**2)) + 1e-9))
    level_range = float(np.percentile(level[active], 90) - np.percentile(level[active], 10))
    syllables = count_syllables(text)
    rate_cps = float(syllables / span) if text is not None and span > 0 else None
    common = dict(
        duration_s=duration, speech_s=float(span), voiced_s=voiced_s, level_db=level_db,
        level_range_db=level_range, hf_ratio_db=_hf_ratio(x, active), rate_cps=rate_cps,
        syllable_rate=_syllable_rate(level, active, span), pause_ratio=pause_ratio,
        clipped=clipped,
    )
    if voiced_s < MIN_VOICED_S:
        return Prosody(**common)
    semis = 12 * np.log2(_median5(f0[voiced]) / 100.0)
    times = np.nonzero(voiced)[0] * HOP / RATE
    f0_range = float(np.percentile(semis, 90) - np.percentile(semis, 10))
    slope = float(np.polyfit(times, semis, 1)[0]) if np.ptp(times) > 0 else 0.0
    steady = f0_range < TONE_RANGE_ST and level_range < 1.0
    return Prosody(
        **common,
        f0_median_hz=float(100.0 * 2 ** (np.median(semis) / 12)),
        f0_range_st=f0_range,
        f0_slope_st_s=slope,
        jitter=_perturbation(RATE / f0[voiced]),
        shimmer=_perturbation(rms[voiced]),
        speech_like=not steady,
    )


_WARM = False


def prewarm() -> None:
    """Pay librosa's import and numba compilation (~1 s) once, before the first live turn."""
    global _WARM
    if not _WARM:
        t = np.arange(PIPELINE_RATE // 2) / PIPELINE_RATE
        extract_prosody((0.3 * np.sin(2 * np.pi * 150 * t) * np.hanning(len(t))).astype(
            np.float32))
        _WARM = True
