"""Pooled encoder states (and prosody) of labelled clips, cut into turn-sized units, cached.

A call's dialect is decided on turns: 2–10 s of speech each, the first after 2–3 s. So each
clip gives

- ``turn`` units: the clip itself when it is at most :data:`MAX_TURN_S` long, else equal
  pieces of about :data:`PIECE_S` (a 35 s oral-history excerpt gives six turns);
- one ``first`` unit: its first :data:`FIRST_S` seconds (what the identifier has heard when it
  first decides), unless the clip is that short anyway.

Each unit is encoded once per augmentation recipe (:mod:`line_augment`) and window, and the
pooled vector is cached in ``WORK/features/`` by the audio file's content, the unit and the
recipe, so a second run of ``tierline train dialect-id`` only fits.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.encoder_states import SAMPLE_RATE, WhisperEncoder, pool
from tierline.dialects.training.dialect_corpus import LabelledClip
from tierline.dialects.training.line_augment import augment

MAX_TURN_S = 10.0
PIECE_S = 6.0
FIRST_S = 3.0
PROSODY_KEYS = ("f0_range_st", "f0_slope_st_s", "syllable_rate", "pause_ratio", "jitter",
                "shimmer", "level_range_db", "hf_ratio_db")
"""Prosody measurements tried beside the encoder states (:func:`prosody_vector`)."""


@dataclass(frozen=True)
class Unit:
    """A turn-sized stretch of one clip.

    Attributes:
        clip: The clip.
        kind: ``"turn"`` or ``"first"``.
        start_s: Start within the clip, seconds.
        end_s: End within the clip, seconds.
    """

    clip: LabelledClip
    kind: str
    start_s: float
    end_s: float


def units_of(clip: LabelledClip, duration_s: float) -> list[Unit]:
    """The units of a clip of ``duration_s`` seconds (module docstring)."""
    if duration_s <= MAX_TURN_S:
        turns = [Unit(clip, "turn", 0.0, duration_s)]
    else:
        n = math.ceil(duration_s / PIECE_S)
        step = duration_s / n
        turns = [Unit(clip, "turn", round(i * step, 3), round((i + 1) * step, 3))
                 for i in range(n)]
    if duration_s > FIRST_S + 0.5:
        turns.append(Unit(clip, "first", 0.0, FIRST_S))
    return turns


def prosody_vector(audio: np.ndarray) -> np.ndarray:
    """The :data:`PROSODY_KEYS` measurements of one unit, NaN where the voice gives none."""
    from tierline.audio.prosody import extract_prosody

    p = extract_prosody(audio, SAMPLE_RATE)
    return np.array([np.nan if getattr(p, k) is None else float(getattr(p, k))
                     for k in PROSODY_KEYS], dtype=np.float32)


@dataclass
class FeatureTable:
    """Features of many units under one recipe.

    Attributes:
        units: The units, in row order.
        states: (n, 2·width) pooled encoder states: the mean (:func:`pool`, what the
            classifier reads) then the standard deviation (kept to measure statistics
            pooling against the mean).
        prosody: (n, len(PROSODY_KEYS)) prosody, NaN where missing.
    """

    units: list[Unit]
    states: np.ndarray
    prosody: np.ndarray

    @property
    def families(self) -> np.ndarray:
        return np.array([u.clip.family for u in self.units])

    @property
    def speakers(self) -> np.ndarray:
        return np.array([u.clip.speaker for u in self.units])

    @property
    def kinds(self) -> np.ndarray:
        return np.array([u.kind for u in self.units])


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=12).hexdigest()


def build_features(clips: Sequence[LabelledClip], encoder: WhisperEncoder, recipe: str,
                   work: Path, load: Callable[[Path], np.ndarray],
                   log: Callable[[str], None]) -> FeatureTable:
    """Encode every unit of ``clips`` under ``recipe`` (cached), in clip order.

    Args:
        clips: Labelled clips.
        encoder: The Whisper encoder (its window is part of the cache key).
        recipe: Augmentation recipe applied to the whole clip before it is cut.
        work: Cache folder.
        load: Reads a clip as float32 16 kHz mono; an unreadable clip raises and is skipped.
        log: Progress lines.
    """
    cache = work / "features"
    cache.mkdir(parents=True, exist_ok=True)
    units: list[Unit] = []
    states, prosody = [], []
    skipped = 0
    for k, clip in enumerate(clips, 1):
        key = f"{_digest(clip.path)}-{recipe}-{encoder.window}"
        path = cache / f"{key}.npz"
        if path.is_file():
            with np.load(path) as data:
                bounds, kinds = data["bounds"], data["kinds"]
                s, p = data["states"], data["prosody"]
        else:
            try:
                audio = load(clip.path)
            except Exception as exc:  # noqa: BLE001 — any unreadable file is skipped, counted
                log(f"skipped {clip.path}: {exc}")
                skipped += 1
                continue
            seed = int(key[:8], 16)
            audio = augment(audio, recipe, seed)
            parts = units_of(clip, len(audio) / SAMPLE_RATE)
            bounds = np.array([(u.start_s, u.end_s) for u in parts], dtype=np.float64)
            kinds = np.array([u.kind for u in parts])
            s, p = [], []
            for u in parts:
                piece = audio[int(u.start_s * SAMPLE_RATE): int(u.end_s * SAMPLE_RATE)]
                frames = encoder.states(piece)
                s.append(np.concatenate([pool(frames), frames.std(axis=0)]))
                p.append(prosody_vector(piece))
            s, p = np.stack(s), np.stack(p)
            np.savez(path, bounds=bounds, kinds=kinds, states=s, prosody=p)
        for (start, end), kind, row_s, row_p in zip(bounds, kinds, s, p, strict=True):
            units.append(Unit(clip, str(kind), float(start), float(end)))
            states.append(row_s)
            prosody.append(row_p)
        if k % 25 == 0 or k == len(clips):
            log(f"{recipe}/{encoder.window}: features of {k}/{len(clips)} clips")
    if skipped:
        log(f"{skipped} unreadable clip(s) skipped")
    return FeatureTable(units, np.stack(states), np.stack(prosody))
